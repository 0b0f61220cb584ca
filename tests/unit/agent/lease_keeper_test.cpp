// LeaseKeeper: the agent's rules of the primary lease, in simulated time.

#include "lease_keeper.h"

#include <gtest/gtest.h>

#include <random>

namespace hale::agent {
namespace {

using std::chrono::milliseconds;
using Action = LeaseKeeper::Action;

const SteadyTime kStart = SteadyTime{} + std::chrono::hours{1};

LeaseSettings settings() {
  LeaseSettings s;
  s.database = "main";
  s.ttl = milliseconds{3000};
  s.margin = milliseconds{1000};
  return s;
}

dblease::PrimaryRecord naming(const std::string& region, const std::string& node = "") {
  return dblease::PrimaryRecord{region, node, 7, 0, "test"};
}

StoreRound renewed(SteadyTime sent, const std::string& region = "eu") {
  StoreRound r;
  r.started = sent;
  r.ended = sent;
  r.wanted = true;
  r.answered = true;
  r.primary = naming(region);
  r.lease = StoreRound::Lease::renewed;
  r.sent = sent;
  return r;
}

StoreRound notHeld(const std::string& region = "eu", SteadyTime ended = kStart + std::chrono::milliseconds{1}) {
  StoreRound r;
  r.started = ended;
  r.ended = ended;
  r.wanted = true;
  r.answered = true;
  r.primary = naming(region);
  r.lease = StoreRound::Lease::not_held;
  return r;
}

DbView writable(SteadyTime at) { return DbView{DbRole::writable_primary, at, false}; }
DbView readOnly(SteadyTime at) { return DbView{DbRole::read_only_primary, at, false}; }

TEST(LeaseKeeper, AValidLeaseKeepsTheDatabaseWritableUntilTtlMinusMarginAfterTheRenewalWasSent) {
  LeaseKeeper k(settings(), "db1", "eu", kStart);
  k.roundEnded(renewed(kStart + milliseconds{100}));
  const DbView db = writable(kStart);
  EXPECT_EQ(k.decide(db, kStart + milliseconds{2099}).action, Action::none);
  const auto step = k.decide(db, kStart + milliseconds{2100});
  EXPECT_EQ(step.action, Action::fence);
  EXPECT_EQ(step.reason, FenceReason::lease_lost);
}

TEST(LeaseKeeper, ARenewalWithoutAnswerDoesNotExtendNorEndTheValidity) {
  LeaseKeeper k(settings(), "db1", "eu", kStart);
  k.roundEnded(renewed(kStart));
  StoreRound silent;  // etcd could not be read
  k.roundEnded(silent);
  StoreRound unknown = notHeld();
  unknown.lease = StoreRound::Lease::unknown;  // read, but the keepalive got no answer
  k.roundEnded(unknown);
  EXPECT_EQ(k.decide(writable(kStart), kStart + milliseconds{1999}).action, Action::none);
  EXPECT_EQ(k.decide(writable(kStart), kStart + milliseconds{2000}).action, Action::fence);
}

TEST(LeaseKeeper, LosingTheLeaseFencesAtOnce) {
  LeaseKeeper k(settings(), "db1", "eu", kStart);
  k.roundEnded(renewed(kStart));
  k.roundEnded(notHeld());
  EXPECT_EQ(k.decide(writable(kStart), kStart + milliseconds{10}).action, Action::fence);
}

TEST(LeaseKeeper, StartUpWaitsForTheFirstRoundButNoLongerThanTtlMinusMargin) {
  {
    LeaseKeeper k(settings(), "db1", "eu", kStart);
    EXPECT_EQ(k.decide(writable(kStart), kStart + milliseconds{1999}).action, Action::none);
    const auto step = k.decide(writable(kStart), kStart + milliseconds{2000});  // etcd silent all along
    EXPECT_EQ(step.action, Action::fence);
    EXPECT_EQ(step.reason, FenceReason::no_lease);
  }
  {
    LeaseKeeper k(settings(), "db1", "eu", kStart);
    StoreRound before_the_check_answered = notHeld();
    before_the_check_answered.wanted = false;  // rounds that did not ask for the lease do not end the wait
    k.roundEnded(before_the_check_answered);
    EXPECT_EQ(k.decide(writable(kStart), kStart + milliseconds{50}).action, Action::none);
    k.roundEnded(notHeld());  // a round that asked ended without the lease: no reason to wait further
    EXPECT_EQ(k.decide(writable(kStart), kStart + milliseconds{60}).action, Action::fence);
  }
}

TEST(LeaseKeeper, ARecordNamingAnotherRegionFencesAWritableDatabaseAtOnceEvenWithAValidLease) {
  LeaseKeeper k(settings(), "db1", "eu", kStart);
  k.roundEnded(renewed(kStart, "us"));  // a forced promotion moved the record without waiting for the lease
  const auto step = k.decide(writable(kStart), kStart + milliseconds{1});
  EXPECT_EQ(step.action, Action::fence);
  EXPECT_EQ(step.reason, FenceReason::split_brain);
  EXPECT_TRUE(k.splitBrain(writable(kStart)));
}

TEST(LeaseKeeper, ARecordNamingAnotherNodeOfTheSameRegionIsASplitBrainToo) {
  LeaseKeeper k(settings(), "db1", "eu", kStart);
  StoreRound r = renewed(kStart);
  r.primary = naming("eu", "db2");
  k.roundEnded(r);
  EXPECT_EQ(k.decide(writable(kStart), kStart).reason, FenceReason::split_brain);
  r.primary = naming("eu", "db1");
  k.roundEnded(r);
  EXPECT_EQ(k.decide(writable(kStart), kStart).action, Action::none);
}

TEST(LeaseKeeper, AFailingCheckOnAWritableDatabaseFences) {
  LeaseKeeper k(settings(), "db1", "eu", kStart);
  k.roundEnded(renewed(kStart));
  DbView db = writable(kStart);
  db.failing = true;
  EXPECT_EQ(k.decide(db, kStart).reason, FenceReason::check_failing);
  EXPECT_FALSE(k.wantsLease(db));
}

TEST(LeaseKeeper, AStandbyIsNeverFencedAndNeverWantsTheLease) {
  LeaseKeeper k(settings(), "db1", "eu", kStart);
  const DbView standby{DbRole::standby, kStart, false};
  EXPECT_EQ(k.decide(standby, kStart + std::chrono::hours{1}).action, Action::none);
  EXPECT_FALSE(k.wantsLease(standby));
  EXPECT_TRUE(k.mayRelease(standby));
}

// A switchover: the promotion made this primary read-only; the lease goes back at once, and nothing is
// unfenced (the fence is not ours).
TEST(LeaseKeeper, AReadOnlyPrimaryFencedBySomeoneElseGivesTheLeaseBackAndIsNotUnfenced) {
  LeaseKeeper k(settings(), "db1", "eu", kStart);
  k.roundEnded(renewed(kStart));
  const DbView ro = readOnly(kStart + milliseconds{10});
  EXPECT_FALSE(k.wantsLease(ro));
  EXPECT_TRUE(k.mayRelease(ro));
  EXPECT_EQ(k.decide(ro, kStart + milliseconds{20}).action, Action::none);
}

TEST(LeaseKeeper, AFenceStandsUntilTheLeaseIsBackAndTheCheckSawItReadOnly) {
  LeaseKeeper k(settings(), "db1", "eu", kStart);
  k.roundEnded(renewed(kStart));
  const SteadyTime fenced_at = kStart + milliseconds{2100};
  k.fenced(FenceReason::lease_lost, fenced_at);
  // The check's last answer predates the fence: no second fence, no unfence.
  EXPECT_EQ(k.decide(writable(kStart + milliseconds{2000}), fenced_at + milliseconds{50}).action, Action::none);
  EXPECT_TRUE(k.wantsLease(readOnly(fenced_at + milliseconds{10})));
  EXPECT_FALSE(k.mayRelease(readOnly(fenced_at - milliseconds{10})));
  EXPECT_TRUE(k.mayRelease(readOnly(fenced_at + milliseconds{10})));
  // Read-only but no lease yet: still fenced.
  EXPECT_EQ(k.decide(readOnly(fenced_at + milliseconds{10}), fenced_at + milliseconds{20}).action, Action::none);
  // The lease is back and the record names us: unfence.
  k.roundEnded(renewed(fenced_at + milliseconds{500}));
  EXPECT_EQ(k.decide(readOnly(fenced_at + milliseconds{10}), fenced_at + milliseconds{600}).action, Action::unfence);
  // ...but not on an answer from before the fence.
  EXPECT_EQ(k.decide(readOnly(fenced_at - milliseconds{10}), fenced_at + milliseconds{600}).action, Action::none);
}

TEST(LeaseKeeper, ASplitBrainFenceIsNeverLiftedWhileTheRecordNamesAnother) {
  LeaseKeeper k(settings(), "db1", "eu", kStart);
  k.roundEnded(renewed(kStart, "us"));
  k.fenced(FenceReason::split_brain, kStart + milliseconds{5});
  EXPECT_FALSE(k.wantsLease(readOnly(kStart + milliseconds{10})));
  EXPECT_EQ(k.decide(readOnly(kStart + milliseconds{10}), kStart + milliseconds{20}).action, Action::none);
}

TEST(LeaseKeeper, AFenceLiftedOutsideHaleIsAppliedAgain) {
  LeaseKeeper k(settings(), "db1", "eu", kStart);
  k.roundEnded(notHeld());
  k.fenced(FenceReason::no_lease, kStart + milliseconds{10});
  EXPECT_EQ(k.decide(writable(kStart + milliseconds{500}), kStart + milliseconds{600}).action, Action::fence);
}

TEST(LeaseKeeper, AFenceLeftByAnEarlierRunIsKeptAtStart) {
  LeaseKeeper k(settings(), "db1", "eu", kStart, true, FenceReason::lease_lost);
  EXPECT_TRUE(k.isFenced());
  EXPECT_TRUE(k.wantsLease(readOnly(kStart + milliseconds{1})));
  k.roundEnded(renewed(kStart + milliseconds{20}));
  EXPECT_EQ(k.decide(readOnly(kStart + milliseconds{30}), kStart + milliseconds{40}).action, Action::unfence);
}

TEST(LeaseKeeper, AnOperatorUnfenceSuspendsFencingForWantOfTheLeaseUntilItIsHeldAgain) {
  LeaseKeeper k(settings(), "db1", "eu", kStart);
  k.roundEnded(notHeld());
  k.fenced(FenceReason::no_lease, kStart);
  k.operatorUnfenced(kStart + milliseconds{5});
  EXPECT_FALSE(k.isFenced());
  EXPECT_TRUE(k.suspended());
  StoreRound silent;  // etcd still gone
  silent.wanted = true;
  k.roundEnded(silent);
  EXPECT_TRUE(k.suspended());
  EXPECT_EQ(k.decide(writable(kStart + milliseconds{10}), kStart + std::chrono::hours{2}).action, Action::none);
  StoreRound in_flight = notHeld("eu", kStart + std::chrono::hours{2});
  in_flight.started = kStart;  // started before the unfence: proves nothing about after it
  k.roundEnded(in_flight);
  EXPECT_TRUE(k.suspended());
  // etcd answers, the key is free (our old lease lapsed while etcd was gone): the next round takes it, so
  // the database is not fenced a second time in between.
  const SteadyTime back = kStart + std::chrono::hours{2};
  k.roundEnded(notHeld("eu", back));
  EXPECT_TRUE(k.suspended());
  EXPECT_EQ(k.decide(writable(kStart), back + milliseconds{1}).action, Action::none);
  k.roundEnded(renewed(back + milliseconds{250}));
  EXPECT_FALSE(k.suspended());
  EXPECT_EQ(k.decide(writable(kStart), back + milliseconds{300}).action, Action::none);
  // From here on the lease's validity alone counts.
  EXPECT_EQ(k.decide(writable(kStart), back + milliseconds{250} + milliseconds{2000}).action, Action::fence);
}

TEST(LeaseKeeper, AnOperatorUnfenceEndsWhenEtcdAnswersThatAnotherNodeHoldsTheLease) {
  LeaseKeeper k(settings(), "db1", "eu", kStart);
  k.roundEnded(notHeld());
  k.fenced(FenceReason::no_lease, kStart);
  k.operatorUnfenced(kStart + milliseconds{5});
  StoreRound mine = notHeld("eu", kStart + milliseconds{400});
  mine.holder = holderName("db1", "eu");  // our own lapsed key, not yet deleted by etcd
  k.roundEnded(mine);
  EXPECT_TRUE(k.suspended());
  StoreRound taken = notHeld("eu", kStart + milliseconds{500});
  taken.holder = holderName("db2", "eu");
  taken.other_holder = true;
  k.roundEnded(taken);
  EXPECT_FALSE(k.suspended());
  const auto step = k.decide(writable(kStart), kStart + milliseconds{501});
  EXPECT_EQ(step.action, Action::fence);
  EXPECT_EQ(step.reason, FenceReason::no_lease);
}

TEST(LeaseKeeper, AnOperatorUnfenceEndsWhenEtcdAnswersButTheLeaseCannotBeTakenWithinTtlMinusMargin) {
  LeaseKeeper k(settings(), "db1", "eu", kStart);
  k.roundEnded(notHeld());
  k.fenced(FenceReason::no_lease, kStart);
  k.operatorUnfenced(kStart + milliseconds{5});
  const SteadyTime back = kStart + milliseconds{1000};
  k.roundEnded(notHeld("eu", back));  // answered, key free, but the grant keeps failing
  StoreRound grant_failed = notHeld("eu", back + milliseconds{1000});
  grant_failed.lease = StoreRound::Lease::unknown;
  k.roundEnded(grant_failed);
  EXPECT_TRUE(k.suspended());
  EXPECT_EQ(k.decide(writable(kStart), back + milliseconds{1999}).action, Action::none);
  k.roundEnded(notHeld("eu", back + milliseconds{2000}));  // ttl - margin after etcd first answered
  EXPECT_FALSE(k.suspended());
  EXPECT_EQ(k.decide(writable(kStart), back + milliseconds{2001}).action, Action::fence);
}

TEST(LeaseKeeper, ASplitBrainIsFencedEvenWhileAnOperatorSuspendedFencing) {
  LeaseKeeper k(settings(), "db1", "eu", kStart);
  k.roundEnded(notHeld());
  k.fenced(FenceReason::no_lease, kStart);
  k.operatorUnfenced(kStart + milliseconds{5});
  StoreRound moved = notHeld("us", kStart + milliseconds{500});
  moved.answered = true;
  k.roundEnded(moved);
  EXPECT_EQ(k.decide(writable(kStart + milliseconds{600}), kStart + milliseconds{700}).reason,
            FenceReason::split_brain);
}

// After our own unfence the check's last answer (read-only) is stale: the database is writable again, so
// the lease is still wanted, never given back on that answer, and the validity rules apply.
TEST(LeaseKeeper, AReadOnlyAnswerFromBeforeOurUnfenceCountsAsWritable) {
  LeaseKeeper k(settings(), "db1", "eu", kStart);
  k.roundEnded(renewed(kStart));
  k.fenced(FenceReason::lease_lost, kStart + milliseconds{100});
  k.roundEnded(renewed(kStart + milliseconds{1000}));
  const DbView stale = readOnly(kStart + milliseconds{1100});
  ASSERT_EQ(k.decide(stale, kStart + milliseconds{1200}).action, Action::unfence);
  k.unfenced(kStart + milliseconds{1300});
  EXPECT_TRUE(k.wantsLease(stale));
  EXPECT_FALSE(k.mayRelease(stale));
  EXPECT_EQ(k.decide(stale, kStart + milliseconds{2999}).action, Action::none);
  EXPECT_EQ(k.decide(stale, kStart + milliseconds{3000}).action, Action::fence);  // 1000 + 3000 - 1000
  // A read-only answer after the unfence is real again.
  EXPECT_FALSE(k.wantsLease(readOnly(kStart + milliseconds{1400})));
}

// A standby just promoted finds, in the round before, the record that named the old primary: no split brain
// on a record read before the database became writable; the next round's record decides.
TEST(LeaseKeeper, ARecordReadBeforeThePromotionIsNoSplitBrain) {
  LeaseKeeper k(settings(), "db2", "us", kStart);
  StoreRound before = notHeld("eu", kStart + milliseconds{100});  // names eu, read while a standby
  before.wanted = false;
  k.roundEnded(before);
  DbView db = writable(kStart + milliseconds{200});
  db.role_since = kStart + milliseconds{200};
  EXPECT_FALSE(k.splitBrain(db));
  EXPECT_EQ(k.decide(db, kStart + milliseconds{210}).action, Action::none);
  k.roundEnded(notHeld("eu", kStart + milliseconds{300}));  // still eu after the promotion: a split brain
  EXPECT_EQ(k.decide(db, kStart + milliseconds{310}).reason, FenceReason::split_brain);
}

// A standby just promoted: its role turns writable long after the agent started. One round that asks for
// the lease first, at most ttl - margin, as at start.
TEST(LeaseKeeper, APromotedStandbyGetsOneRoundToTakeTheLeaseBeforeItIsFenced) {
  LeaseKeeper k(settings(), "db1", "eu", kStart);
  StoreRound standby_round = notHeld("eu", kStart + milliseconds{100});
  standby_round.wanted = false;
  k.roundEnded(standby_round);
  const SteadyTime promoted = kStart + std::chrono::minutes{10};
  DbView db = writable(promoted);
  db.role_since = promoted;
  EXPECT_EQ(k.decide(db, promoted + milliseconds{100}).action, Action::none);
  EXPECT_EQ(k.decide(db, promoted + milliseconds{1999}).action, Action::none);
  EXPECT_EQ(k.decide(db, promoted + milliseconds{2000}).action, Action::fence);
  k.roundEnded(renewed(promoted + milliseconds{300}));
  EXPECT_EQ(k.decide(db, promoted + milliseconds{2000}).action, Action::none);
}

// An old primary that held the lease gets no start-up grace when its role flips back to writable (a fence
// lifted outside hale, a MySQL restart that forgot read_only): the lease's validity alone counts.
TEST(LeaseKeeper, ALeaseOnceHeldLeavesNoGraceForARoleFlip) {
  LeaseKeeper k(settings(), "db1", "eu", kStart);
  k.roundEnded(renewed(kStart));
  k.roundEnded(notHeld("eu", kStart + milliseconds{500}));
  DbView db = writable(kStart + std::chrono::minutes{1});
  db.role_since = kStart + std::chrono::minutes{1};
  EXPECT_EQ(k.decide(db, kStart + std::chrono::minutes{1} + milliseconds{10}).action, Action::fence);
}

// An adopted lease of an earlier run with a shorter TTL than configured: validity counts etcd's.
TEST(LeaseKeeper, ValidityCountsTheShorterOfTheConfiguredAndEtcdsTtl) {
  LeaseKeeper k(settings(), "db1", "eu", kStart);
  StoreRound r = renewed(kStart);
  r.granted = milliseconds{2000};
  k.roundEnded(r);
  EXPECT_EQ(k.renewEvery(), milliseconds{666});
  EXPECT_EQ(k.decide(writable(kStart), kStart + milliseconds{999}).action, Action::none);
  EXPECT_EQ(k.decide(writable(kStart), kStart + milliseconds{1000}).action, Action::fence);
  r.granted = milliseconds{5000};  // longer than asked (etcd's minimum): the configured ttl counts
  k.roundEnded(r);
  EXPECT_EQ(k.decide(writable(kStart), kStart + milliseconds{2000}).action, Action::fence);
}

// The guarantee, over random schedules: whenever the database is writable and the fence was not decided,
// the last renewal that etcd confirmed was sent less than ttl - margin ago. Time moves in 10 ms steps;
// etcd answers each renewal (every ttl/3) or not at random, and may report the lease lost.
TEST(LeaseKeeper, RandomSchedulesNeverLeaveAWritableDatabaseWithoutAValidLease) {
  std::mt19937 rng(1234);
  for (int run = 0; run < 300; ++run) {
    LeaseKeeper k(settings(), "db1", "eu", kStart);
    bool fenced = false;
    SteadyTime last_confirmed_sent{};
    bool ever_confirmed = false;
    SteadyTime next_round = kStart;
    for (SteadyTime now = kStart; now < kStart + std::chrono::seconds{30}; now += milliseconds{10}) {
      if (now >= next_round) {
        const int dice = static_cast<int>(rng() % 10);
        StoreRound r = notHeld();
        if (dice < 7) {
          r = renewed(now);
          last_confirmed_sent = now;
          ever_confirmed = true;
        } else if (dice < 9) {
          r.lease = StoreRound::Lease::unknown;
        }
        k.roundEnded(r);
        next_round = now + milliseconds{1000};
      }
      const DbView db = fenced ? readOnly(now) : writable(now);
      const auto step = k.decide(db, now);
      if (step.action == Action::fence) {
        fenced = true;
        k.fenced(step.reason, now);
      } else if (step.action == Action::unfence) {
        fenced = false;
        k.unfenced(now);
      }
      if (!fenced && now >= kStart + milliseconds{2000}) {
        ASSERT_TRUE(ever_confirmed) << "run " << run;
        ASSERT_LT(now, last_confirmed_sent + milliseconds{2000}) << "run " << run;
      }
    }
  }
}

}  // namespace
}  // namespace hale::agent
