// The failover policy in simulated time: each case builds a situation, runs it, and asserts the decision
// and its reason. Regions eu (home, active, priority 1) and us (priority 2), 3 nodes each, min_healthy 2,
// suspect after 2.5 s of silence, failed after 4 s, region down after 2 s below the minimum.

#include <gtest/gtest.h>

#include <functional>

#include "policy_sim.h"

namespace hale::aggregator {
namespace {

using sim::Sim;
using K = Decision::Kind;
using H = heartbeat::NodeStatus;

void expectReason(const Decision& d, const std::string& part) {
  EXPECT_NE(d.reason.find(part), std::string::npos) << "reason: " << d.reason;
}

// --- Nothing to do -------------------------------------------------------------------------------------

TEST(Policy, AllHealthyDoesNothing) {
  Sim s;
  s.runUntil(60'000);
  EXPECT_TRUE(s.acted().empty());
  EXPECT_EQ(s.last().kind, K::none);
  expectReason(s.last(), "active region eu is up");
}

TEST(Policy, SustainedRegionLossFailsOverExactlyOnce) {
  Sim s;
  s.setRegion("eu", sim::diesAt(10'000));
  s.runUntil(60'000);
  ASSERT_EQ(s.acted().size(), 1u);
  const Decision d = s.acted()[0];
  EXPECT_EQ(d.kind, K::failover);
  EXPECT_EQ(d.from, "eu");
  EXPECT_EQ(d.to, "us");
  expectReason(d, "region eu down: lost for");
  expectReason(d, "(0/3 nodes healthy)");
  // Failed 4 s after the last heartbeat read; down 2 s after that. It is read up to the largest jitter
  // plus one 100 ms tick after it was sent, and each of the two steps waits for a tick.
  const int64_t last = s.lastSentBefore("eu", 10'000);
  EXPECT_GE(s.actedAt(0), last + 4'000 + 2'000);
  EXPECT_LE(s.actedAt(0), last + s.max_jitter_ms + 100 + 4'000 + 100 + 2'000 + 100);
  expectReason(s.last(), "active region us is up");
}

TEST(Policy, OneLostHeartbeatPerNodeDoesNothing) {
  Sim s;
  s.setNode("eu-1", sim::silentBetween(10'000, 11'000));
  s.setNode("eu-2", sim::silentBetween(20'000, 21'000));
  s.setNode("eu-3", sim::silentBetween(30'000, 31'000));
  s.runUntil(60'000);
  EXPECT_TRUE(s.acted().empty());
}

TEST(Policy, AllNodesLosingOneHeartbeatTogetherDoesNothing) {
  Sim s;
  s.setRegion("eu", sim::silentBetween(10'000, 11'000));
  s.runUntil(60'000);
  EXPECT_TRUE(s.acted().empty());
}

TEST(Policy, OneFlappingNodeOfThreeDoesNothing) {
  Sim s;
  s.setNode("eu-2", [](int64_t t) -> std::optional<H> { return (t / 1000) % 2 == 0 ? H::healthy : H::unhealthy; });
  s.runUntil(60'000);
  EXPECT_TRUE(s.acted().empty());
}

TEST(Policy, OneDeadNodeOfThreeLeavesTheRegionUp) {
  Sim s;
  s.setNode("eu-1", sim::diesAt(5'000));
  s.runUntil(60'000);
  EXPECT_TRUE(s.acted().empty());
  expectReason(s.last(), "active region eu is up");  // 2 of 3 healthy meets min_healthy = 2
}

TEST(Policy, DeadNodePlusSuspectIsDegradedNotDown) {
  Sim s;
  s.setNode("eu-1", sim::diesAt(5'000));
  s.setNode("eu-2", sim::silentBetween(20'000, 23'500));  // suspect for a moment: alive 2, healthy 1
  // Its last heartbeat (sent before 20 s) is read by 20.3 s: suspect 2.5 s later, by 22.9 s.
  s.runUntil(23'000);
  expectReason(s.last(), "active region eu is degraded");
  s.runUntil(60'000);
  EXPECT_TRUE(s.acted().empty());
  expectReason(s.last(), "active region eu is up");
}

// Losing app nodes while one still works (and with it the database it checks) is degraded: an alert, not
// a failover that would move a healthy primary (issue #12 item 3; this failed over before).
TEST(Policy, TwoDeadNodesOfThreeAreDegradedNotDown) {
  Sim s;
  s.setNode("eu-1", sim::diesAt(5'000));
  s.setNode("eu-2", sim::diesAt(5'000));
  s.runUntil(60'000);
  EXPECT_TRUE(s.acted().empty());
  expectReason(s.last(), "active region eu is degraded");
}

// ... unless the operator asks for a failover below a number of live nodes.
TEST(Policy, FailOverBelowMakesAPartialRegionDown) {
  Sim s;
  s.observer_config.regions[0].params.fail_over_below = 2;
  s.setNode("eu-1", sim::diesAt(5'000));
  s.runUntil(30'000);
  EXPECT_TRUE(s.acted().empty()) << "2 of 3 alive is not below 2";
  s.setNode("eu-2", sim::diesAt(30'000));
  s.runUntil(60'000);
  ASSERT_EQ(s.acted().size(), 1u);
  expectReason(s.acted()[0], "(1/3 nodes healthy)");
}

// The last node standing keeps its region from failing over; when it goes too, the region is down.
TEST(Policy, ARegionWithNoNodeAliveIsDown) {
  Sim s;
  s.setNode("eu-1", sim::diesAt(5'000));
  s.setNode("eu-2", sim::diesAt(5'000));
  s.runUntil(30'000);
  EXPECT_TRUE(s.acted().empty());
  s.setNode("eu-3", sim::diesAt(30'000));
  s.runUntil(60'000);
  ASSERT_EQ(s.acted().size(), 1u);
  expectReason(s.acted()[0], "(0/3 nodes healthy)");
}

TEST(Policy, DipShorterThanDownAfterDoesNothing) {
  Sim s;
  // Two nodes report unhealthy for 2 s (failed after fall = 2), then recover: below the minimum < 2 s.
  s.setNode("eu-1",
            [](int64_t t) -> std::optional<H> { return t >= 10'000 && t < 12'000 ? H::unhealthy : H::healthy; });
  s.setNode("eu-2",
            [](int64_t t) -> std::optional<H> { return t >= 10'000 && t < 12'000 ? H::unhealthy : H::healthy; });
  s.runUntil(60'000);
  EXPECT_TRUE(s.acted().empty());
}

TEST(Policy, NodesReportingUnhealthyFailTheRegion) {
  Sim s;
  s.setRegion("eu", sim::reportsUnhealthyFrom(10'000));
  s.runUntil(30'000);
  ASSERT_EQ(s.acted().size(), 1u);
  EXPECT_EQ(s.acted()[0].kind, K::failover);
}

TEST(Policy, EveryRegionSilentIsFailStatic) {
  Sim s;
  s.setRegion("eu", sim::diesAt(10'000));
  s.setRegion("us", sim::diesAt(10'000));
  s.runUntil(60'000);
  EXPECT_TRUE(s.acted().empty());
  expectReason(s.last(), "fail static");
  bool saw = false;
  for (const Event& e : s.events) saw |= e.name == "+fail-static";
  EXPECT_TRUE(saw);
}

TEST(Policy, IsolationThatEndsDoesNotFailOver) {
  Sim s;
  s.setRegion("eu", sim::silentBetween(10'000, 20'000));
  s.setRegion("us", sim::silentBetween(10'000, 20'000));
  s.runUntil(60'000);
  EXPECT_TRUE(s.acted().empty());
  expectReason(s.last(), "active region eu is up");
}

// Leaving fail static: every region silent together, then back one after the other. Nothing is decided
// on the clocks that ran during the silence; every node gets a fresh grace period (miss_after 4 s plus
// down_after 2 s here) from the end of the isolation. eu's first heartbeat may arrive up to a phase (1 s)
// and a jitter (0.25 s) after it is back: 4 s later stays within the 6 s grace.
TEST(Policy, RegionsBackFromFailStaticAtDifferentInstantsFailNothingOver) {
  for (const int64_t eu_later_ms : {0, 1'000, 3'000, 4'000}) {
    for (const int64_t silence_ms : {5'000, 30'000}) {
      Sim s;
      s.setRegion("us", sim::silentBetween(10'000, 10'000 + silence_ms));
      s.setRegion("eu", sim::silentBetween(10'000, 10'000 + silence_ms + eu_later_ms));
      s.runUntil(90'000);
      EXPECT_TRUE(s.acted().empty()) << "eu back " << eu_later_ms << " ms after us, silence " << silence_ms << " ms";
      expectReason(s.last(), "active region eu is up");
    }
  }
  // And the other way round: the standby back last is no reason for anything either.
  Sim s;
  s.setRegion("eu", sim::silentBetween(10'000, 40'000));
  s.setRegion("us", sim::silentBetween(10'000, 43'000));
  s.runUntil(90'000);
  EXPECT_TRUE(s.acted().empty());
}

TEST(Policy, ARegionThatStaysSilentAfterFailStaticFailsOverAfterAFreshGrace) {
  Sim s;
  s.setRegion("us", sim::silentBetween(10'000, 40'000));
  s.setRegion("eu", sim::diesAt(10'000));
  s.runUntil(90'000);
  ASSERT_EQ(s.acted().size(), 1u);
  EXPECT_EQ(s.acted()[0].to, "us");
  // us is heard again at 40 s: eu's nodes fail 4 s after that, the region 2 s later, not at once.
  EXPECT_GE(s.actedAt(0), 40'000 + 4'000 + 2'000);
}

// A region never heard since the aggregator started is not decided about: not failed over from (nothing
// shows it died: the aggregator may be misconfigured, or the agents not yet started), not failed over to.
TEST(Policy, ARegionNeverHeardIsNeitherFailedOverNorATarget) {
  Sim s;
  s.setRegion("eu", sim::diesAt(0));
  s.runUntil(30'000);
  EXPECT_TRUE(s.acted().empty());
  Sim t;
  t.setRegion("us", sim::diesAt(0));
  t.setRegion("eu", sim::diesAt(10'000));
  t.runUntil(40'000);
  EXPECT_TRUE(t.acted().empty());
}

TEST(Policy, NothingIsDecidedDuringTheStartUpGrace) {
  Sim s;
  s.observer_config.startup_grace = std::chrono::milliseconds{15'000};
  s.setRegion("eu", sim::diesAt(1'000));  // heard once, then silent
  s.runUntil(60'000);
  ASSERT_EQ(s.acted().size(), 1u);
  EXPECT_GE(s.actedAt(0), 15'000 + 2'000 - 100);  // down_after from the grace's end (one 100 ms tick)
}

TEST(Policy, StartingWithTheActiveRegionDyingSoonAfterFailsOver) {
  Sim s;
  s.setRegion("eu", sim::diesAt(2'000));
  s.runUntil(30'000);
  ASSERT_EQ(s.acted().size(), 1u);
  EXPECT_EQ(s.acted()[0].to, "us");
}

TEST(Policy, LateFirstHeartbeatsAtStartUpAreNotADeadRegion) {
  Sim s;
  s.observer_config.regions.clear();
  s.behaviours.clear();
  RegionParams quick = Sim::defaultParams();
  quick.down_after = std::chrono::milliseconds{500};
  s.addRegion("eu", 1, quick);
  s.addRegion("us", 2, quick);
  // us is heard from at once; eu's first heartbeats come 2 s after the aggregator started.
  s.setRegion("eu", sim::silentBetween(0, 1'500));
  s.runUntil(30'000);
  EXPECT_TRUE(s.acted().empty());
  expectReason(s.last(), "active region eu is up");
}

// --- Our own stall (TILT) ------------------------------------------------------------------------------

TEST(Policy, OwnStallIsNotARegionDeath) {
  Sim s;
  s.runUntil(60'000, /*stall_at=*/20'000, /*stall_ms=*/10'000);
  EXPECT_TRUE(s.acted().empty());
  bool tilt = false;
  for (const Event& e : s.events) tilt |= e.name == "+tilt";
  EXPECT_TRUE(tilt);
}

// An operator's failover during TILT asks the same as in fail static: the verdicts it would go by are frozen.
TEST(Policy, OperatorDuringTiltNeedsForce) {
  Sim s;
  s.runUntil(28'000, /*stall_at=*/20'000, /*stall_ms=*/5'000);
  expectReason(s.request({OperatorRequest::Kind::failover, "us", false}), "refused: tilt");
  EXPECT_TRUE(s.request({OperatorRequest::Kind::failover, "us", true}).acts());
}

TEST(Policy, TiltHoldsDecisionsThenRealDeathStillFailsOver) {
  Sim s;
  s.setRegion("eu", sim::diesAt(30'000));
  s.runUntil(28'000, 20'000, 5'000);
  EXPECT_TRUE(s.acted().empty());
  bool held = false;
  for (const Decision& d : s.decisions) held |= d.reason.find("tilt") != std::string::npos;
  EXPECT_TRUE(held);
  s.runUntil(60'000);
  ASSERT_EQ(s.acted().size(), 1u);
  EXPECT_GE(s.actedAt(0), 35'000);  // not before tilt ended (25 s + 10 s)
}

// --- Guards ---------------------------------------------------------------------------------------------

TEST(Policy, DryRunDecidesOnceAndChangesNothing) {
  Sim s;
  s.policy.dry_run = true;
  s.setRegion("eu", sim::diesAt(10'000));
  s.runUntil(60'000);
  ASSERT_EQ(s.acted().size(), 1u);
  EXPECT_TRUE(s.acted()[0].dry_run);
  EXPECT_EQ(s.state.active_region, "eu");
  expectReason(s.last(), "dry run: failover eu to us already journaled");
}

TEST(Policy, DryRunJournalsAgainAfterTheRegionRecoveredAndFailedAgain) {
  Sim s;
  s.policy.dry_run = true;
  s.setRegion("eu", [](int64_t t) -> std::optional<H> {
    if ((t >= 10'000 && t < 20'000) || t >= 40'000) return std::nullopt;
    return H::healthy;
  });
  s.runUntil(70'000);
  EXPECT_EQ(s.acted().size(), 2u);
}

TEST(Policy, PausedDoesNothing) {
  Sim s;
  s.state.paused = true;
  s.setRegion("eu", sim::diesAt(10'000));
  s.runUntil(60'000);
  EXPECT_TRUE(s.acted().empty());
  EXPECT_EQ(s.last().reason, "paused");
}

// A failover held by a pause, a pending approval, a failed plan or the minimum interval says so: `held`
// names the hold (and when it clears) while the active region is down and a target is up, and only then.
TEST(Policy, HoldsOfAFailoverAreNamedWhileTheActiveRegionIsDown) {
  const auto heldBy = [](const std::function<void(Sim&)>& setup) {
    Sim s;
    setup(s);
    s.runUntil(5'000);
    EXPECT_TRUE(s.last().held.empty()) << "eu is up: nothing is held, whatever the state: " << s.last().held;
    s.setRegion("eu", sim::diesAt(5'000));
    s.runUntil(30'000);
    EXPECT_TRUE(s.acted().empty());
    return s.last().held;
  };
  EXPECT_EQ(heldBy([](Sim& s) { s.state.paused = true; }), "paused");
  EXPECT_EQ(heldBy([](Sim& s) { s.state.awaiting_approval = "7"; }), "awaiting approval of plan 7");
  EXPECT_NE(heldBy([](Sim& s) { s.state.blocked_by_failed_plan = "3"; }).find("plan 3 failed"), std::string::npos);
  EXPECT_NE(
      heldBy([](Sim& s) { s.state.journal_unwritable = "disk full"; }).find("journal cannot be written (disk full)"),
      std::string::npos);
  const std::string interval = heldBy(
      [](Sim& s) { s.state.last_failover = WallTime{std::chrono::seconds{1'700'000'000}} - std::chrono::minutes{1}; });
  EXPECT_NE(interval.find("minimum interval 10m"), std::string::npos) << interval;
  EXPECT_NE(interval.find("clears in 510s"), std::string::npos) << interval;  // 10m - 1m - the 30 s simulated
}

// The cooldown is measured on the monotonic clock when this process saw the failover: a wall clock
// stepped forward (NTP) does not shorten it.
TEST(Policy, AWallClockSteppedForwardDoesNotShortenTheMinimumInterval) {
  Sim s;
  const WallTime wall0{std::chrono::seconds{1'700'000'000}};
  s.state.last_failover = wall0 - std::chrono::hours{2};  // what the wall clock says, after a step of 2 h
  s.state.last_failover_steady = SteadyTime{} + std::chrono::hours{100} - std::chrono::minutes{1};  // 1 min ago
  s.setRegion("eu", sim::diesAt(5'000));
  s.runUntil(30'000);
  EXPECT_TRUE(s.acted().empty());
  expectReason(s.last(), "minimum interval 10m");
}

// An operator's rejection holds that failover for the rest of the outage; the next outage is decided anew.
TEST(Policy, ARejectedFailoverIsHeldForThisOutageOnly) {
  Sim s;
  s.policy.manual_approval = true;
  s.setRegion("eu", sim::silentBetween(5'000, 30'000));
  s.runUntil(20'000);
  ASSERT_EQ(s.acted().size(), 1u);    // the decision awaiting approval
  s.state.awaiting_approval.clear();  // the operator rejects it, as the engine applies `halectl reject`
  s.state.rejected = "eu>us";
  s.runUntil(29'000);
  EXPECT_EQ(s.acted().size(), 1u);  // not decided again during this outage
  EXPECT_NE(s.last().held.find("rejected by an operator"), std::string::npos) << s.last().held;
  s.runUntil(45'000);  // eu back and up: the rejection is over
  EXPECT_TRUE(s.state.rejected.empty());
  s.setRegion("eu", sim::diesAt(50'000));
  s.runUntil(70'000);
  ASSERT_EQ(s.acted().size(), 2u);  // the next outage is decided again
  EXPECT_EQ(s.acted()[1].to, "us");
}

TEST(Policy, ManualApprovalWaits) {
  Sim s;
  s.policy.manual_approval = true;
  s.setRegion("eu", sim::diesAt(10'000));
  s.runUntil(60'000);
  ASSERT_EQ(s.acted().size(), 1u);
  EXPECT_TRUE(s.acted()[0].needs_approval);
  expectReason(s.last(), "awaiting approval of plan plan-1");
  EXPECT_EQ(s.state.active_region, "eu");
}

TEST(Policy, MinimumIntervalBlocksASecondFailover) {
  Sim s;
  s.state.last_failover = WallTime{std::chrono::seconds{1'700'000'000}} - std::chrono::minutes{1};
  s.setRegion("eu", sim::diesAt(10'000));
  s.runUntil(60'000);
  EXPECT_TRUE(s.acted().empty());
  expectReason(s.last(), "minimum interval 10m");
}

TEST(Policy, MinimumIntervalPassedAllowsFailover) {
  Sim s;
  s.state.last_failover = WallTime{std::chrono::seconds{1'700'000'000}} - std::chrono::minutes{11};
  s.setRegion("eu", sim::diesAt(10'000));
  s.runUntil(60'000);
  EXPECT_EQ(s.acted().size(), 1u);
}

TEST(Policy, NeverFailsOverToARegionThatIsNotUp) {
  Sim s;
  s.setRegion("eu", sim::diesAt(10'000));
  s.setNode("us-1", sim::diesAt(5'000));  // us degraded: 2/3 healthy but not all... still "up"? min 2 of 3 = up
  s.setNode("us-2", sim::diesAt(5'000));  // 1/3: below the minimum, us is down
  s.runUntil(60'000);
  EXPECT_TRUE(s.acted().empty());
  expectReason(s.last(), "no region with a plan is up");
}

TEST(Policy, DegradedTargetIsNotUp) {
  Sim s;
  s.observer_config.regions.clear();
  s.behaviours.clear();
  RegionParams strict = Sim::defaultParams();
  strict.min_healthy = 3;  // us with one node down: alive 2 < 3 would be below... keep alive >= min via share
  strict.min_healthy_share = 0.5;
  s.addRegion("eu", 1);
  s.addRegion("us", 2, strict);
  s.setRegion("eu", sim::diesAt(10'000));
  s.setNode("us-1", sim::reportsUnhealthyFrom(5'000));  // unhealthy but alive (suspect -> failed by fall)
  s.runUntil(60'000);
  EXPECT_TRUE(s.acted().empty());
  expectReason(s.last(), "no region with a plan is up");
}

TEST(Policy, NoPlanNoTarget) {
  Sim s;
  s.policy.plans = {{"us", "eu"}};
  s.setRegion("eu", sim::diesAt(10'000));
  s.runUntil(60'000);
  EXPECT_TRUE(s.acted().empty());
}

TEST(Policy, PrefersTheLowestPriorityNumber) {
  Sim s;
  s.addRegion("ap", 0);
  s.policy.plans = {{"eu", "us"}, {"eu", "ap"}};
  s.setRegion("eu", sim::diesAt(10'000));
  s.runUntil(60'000);
  ASSERT_EQ(s.acted().size(), 1u);
  EXPECT_EQ(s.acted()[0].to, "ap");
}

TEST(Policy, SkipsAPreferredRegionThatIsDown) {
  Sim s;
  s.addRegion("ap", 0);
  s.policy.plans = {{"eu", "us"}, {"eu", "ap"}};
  s.setRegion("ap", sim::diesAt(1'000));
  s.setRegion("eu", sim::diesAt(10'000));
  s.runUntil(60'000);
  ASSERT_EQ(s.acted().size(), 1u);
  EXPECT_EQ(s.acted()[0].to, "us");
}

TEST(Policy, RunningPlanBlocksNewDecisions) {
  Sim s;
  s.complete_plans = false;
  s.setRegion("eu", sim::diesAt(10'000));
  s.runUntil(60'000);
  EXPECT_EQ(s.acted().size(), 1u);
  EXPECT_EQ(s.last().reason, "a plan is running");
}

TEST(Policy, FailedPlanWaitsForAnOperator) {
  Sim s;
  s.state.blocked_by_failed_plan = "p-7";
  s.setRegion("eu", sim::diesAt(10'000));
  s.runUntil(60'000);
  EXPECT_TRUE(s.acted().empty());
  expectReason(s.last(), "plan p-7 failed");
}

// Automatic failback after `after`, failovers at least `interval` apart.
void autoFailback(Sim& s, std::chrono::milliseconds after, std::chrono::milliseconds interval) {
  s.policy.auto_failback = true;
  s.policy.failback_after = after;
  s.policy.min_failover_interval = interval;
}

// --- Failback ---------------------------------------------------------------------------------------------

TEST(Policy, FailbackIsManualByDefault) {
  Sim s;
  s.setRegion("eu", sim::silentBetween(10'000, 40'000));
  s.runUntil(120'000);
  ASSERT_EQ(s.acted().size(), 1u);
  EXPECT_EQ(s.state.active_region, "us");
  expectReason(s.last(), "failback is manual");
}

TEST(Policy, AutoFailbackWaitsForTheHealthyPeriod) {
  Sim s;
  autoFailback(s, std::chrono::minutes{2}, std::chrono::minutes{1});
  s.setRegion("eu", sim::silentBetween(10'000, 40'000));
  s.runUntil(100'000);
  ASSERT_EQ(s.acted().size(), 1u);
  expectReason(s.last(), "failback after 120s");
  s.runUntil(240'000);
  ASSERT_EQ(s.acted().size(), 2u);
  EXPECT_EQ(s.acted()[1].kind, K::failback);
  EXPECT_EQ(s.acted()[1].to, "eu");
  EXPECT_GE(s.actedAt(1), 40'000 + 5'000 + 120'000);
  EXPECT_EQ(s.state.active_region, "eu");
}

TEST(Policy, AutoFailbackNeedsTheHomeRegionUp) {
  Sim s;
  s.policy.auto_failback = true;
  s.setRegion("eu", sim::diesAt(10'000));
  s.runUntil(120'000);
  ASSERT_EQ(s.acted().size(), 1u);
  expectReason(s.last(), "home region eu is not up");
}

// --- Operator requests --------------------------------------------------------------------------------------

TEST(Policy, OperatorFailoverToAHealthyRegion) {
  Sim s;
  s.runUntil(10'000);
  const Decision d = s.request({OperatorRequest::Kind::failover, "us", false});
  EXPECT_EQ(d.kind, K::failover);
  EXPECT_TRUE(d.operator_requested);
  EXPECT_FALSE(d.needs_approval);
  expectReason(d, "operator requested failover to us");
}

TEST(Policy, OperatorMayActWhilePaused) {
  Sim s;
  s.state.paused = true;
  s.runUntil(10'000);
  EXPECT_EQ(s.request({OperatorRequest::Kind::failover, "us", false}).kind, K::failover);
}

TEST(Policy, OperatorFailoverToARegionNotUpNeedsForce) {
  Sim s;
  s.setRegion("us", sim::diesAt(1'000));
  s.runUntil(20'000);
  const Decision refused = s.request({OperatorRequest::Kind::failover, "us", false});
  EXPECT_EQ(refused.kind, K::none);
  expectReason(refused, "refused: target us is down (use --force)");
  const Decision forced = s.request({OperatorRequest::Kind::failover, "us", true});
  EXPECT_EQ(forced.kind, K::failover);
  EXPECT_TRUE(forced.forced);
}

TEST(Policy, OperatorRequestsThatMakeNoSense) {
  Sim s;
  s.runUntil(10'000);
  expectReason(s.request({OperatorRequest::Kind::failover, "eu", false}), "refused: eu is already the active region");
  expectReason(s.request({OperatorRequest::Kind::failover, "mars", false}), "refused: no plan from eu to mars");
  expectReason(s.request({OperatorRequest::Kind::failback, "", false}), "refused: eu is already the active region");
  s.state.plan_running = true;
  expectReason(s.request({OperatorRequest::Kind::failover, "us", false}), "refused: a plan is running");
}

TEST(Policy, OperatorFailbackReturnsHome) {
  Sim s;
  s.setRegion("eu", sim::silentBetween(10'000, 30'000));
  s.runUntil(60'000);
  ASSERT_EQ(s.state.active_region, "us");
  s.state.last_failover.reset();
  s.state.last_failover_steady.reset();
  const Decision d = s.request({OperatorRequest::Kind::failback, "", false});
  EXPECT_EQ(d.kind, K::failback);
  EXPECT_EQ(d.from, "us");
  EXPECT_EQ(d.to, "eu");
}

TEST(Policy, OperatorFailoverRespectsTheMinimumIntervalUnlessForced) {
  Sim s;
  s.state.last_failover = WallTime{std::chrono::seconds{1'700'000'000}};
  s.runUntil(10'000);
  expectReason(s.request({OperatorRequest::Kind::failover, "us", false}), "minimum interval 10m (use --force)");
  EXPECT_EQ(s.request({OperatorRequest::Kind::failover, "us", true}).kind, K::failover);
}

TEST(Policy, OperatorDuringIsolationNeedsForce) {
  Sim s;
  s.setRegion("eu", sim::diesAt(5'000));
  s.setRegion("us", sim::diesAt(5'000));
  s.runUntil(20'000);
  expectReason(s.request({OperatorRequest::Kind::failover, "us", false}), "refused: fail static");
}

// --- Found by the property test (policy_property_test.cpp) -------------------------------------------------

// The last failover was 9 min 40 s before the simulation started: the minimum interval clears at 20 s.
void intervalClearsAt20s(Sim& s) {
  s.state.last_failover =
      WallTime{std::chrono::seconds{1'700'000'000}} - std::chrono::minutes{10} + std::chrono::seconds{20};
}
bool saw(const Sim& s, const std::string& name, const std::string& subject) {
  for (const Event& e : s.events) {
    if (e.name == name && e.subject == subject) return true;
  }
  return false;
}

// eu down and the failover held; eu back before the hold clears but not yet up (up_after): when the hold
// clears, eu is alive, and failing away from it would move a working primary. Failed over at 20 s before.
TEST(Policy, AHeldFailoverIsNotMadeOnceTheRegionIsAliveAgain) {
  Sim s;
  intervalClearsAt20s(s);
  s.policy.min_failover_interval = std::chrono::minutes{10};
  s.observer_config.regions[0].params.up_after = std::chrono::milliseconds{30'000};
  s.setRegion("eu", sim::silentBetween(3'000, 15'000));
  s.runUntil(14'000);
  ASSERT_TRUE(saw(s, "+region-down", "eu"));
  expectReason(s.last(), "minimum interval");
  s.runUntil(40'000);
  EXPECT_TRUE(s.acted().empty()) << s.acted()[0].reason;
  // Still shown down (hysteresis), but decided on as degraded: alive, and nothing held.
  expectReason(s.last(), "active region eu is degraded");
  EXPECT_TRUE(s.last().held.empty());
}

// After the aggregator's own isolation, nodes not heard again keep the benefit of the doubt (not failed)
// but are no evidence that their region can take over. Here only us-1 comes back: us must not be a target
// on the strength of us-2 and us-3, silent but forgiven. Failed over to us at 31 s before.
TEST(Policy, ForgivenNodesDoNotMakeATargetUp) {
  Sim s;
  s.policy.min_failover_interval = std::chrono::seconds{31};
  s.state.last_failover = WallTime{std::chrono::seconds{1'700'000'000}};
  s.setRegion("eu", sim::diesAt(5'000));  // down at about 11 s, held by the interval until 31 s
  s.setNode("us-1", sim::silentBetween(20'000, 30'000));
  s.setNode("us-2", sim::diesAt(20'000));
  s.setNode("us-3", sim::diesAt(20'000));
  s.runUntil(60'000);
  ASSERT_TRUE(saw(s, "+fail-static", ""));
  EXPECT_TRUE(s.acted().empty()) << s.acted()[0].reason;
  expectReason(s.last(), "no region with a plan is up");
}

// A region down before the aggregator's isolation is not failed away from on the tick the isolation ends,
// nor before the grace every node gets then (miss_after + down_after): its nodes may be back, heard a
// little later than the others. Failed over on that very tick before.
TEST(Policy, FailingAwayWaitsForTheFreshGraceOnceAnIsolationEnds) {
  Sim s;
  intervalClearsAt20s(s);
  s.state.last_failover = *s.state.last_failover + std::chrono::seconds{10};  // clears at 30 s, isolated then
  s.setRegion("eu", sim::diesAt(3'000));
  s.setRegion("us", sim::silentBetween(18'000, 35'000));
  int64_t ended = -1;
  s.on_decision = [&](const Decision&, int64_t t) {
    if (s.isolationEnded()) ended = t;
  };
  s.runUntil(60'000);
  ASSERT_GT(ended, 0);
  ASSERT_EQ(s.acted().size(), 1u);
  EXPECT_GE(s.actedAt(0), ended + 4'000 + 2'000);  // miss_after + down_after
  EXPECT_LE(s.actedAt(0), ended + 4'000 + 2'000 + 100);
}

// eu down and held before our isolation, back during it, but heard again 3 s after us: its failed nodes
// need two heartbeats to rise. Within the grace, nothing is failed away from it (review finding: failed
// over down_after after the isolation ended).
TEST(Policy, ARegionBackDuringOurIsolationIsNotFailedAwayFromWhenHeardLate) {
  Sim s;
  intervalClearsAt20s(s);
  s.state.last_failover = *s.state.last_failover + std::chrono::seconds{10};  // clears at 30 s, isolated then
  s.setRegion("eu", [](int64_t t) -> std::optional<H> {
    if (t >= 3'000 && t < 36'000) return std::nullopt;  // dead, then (unheard, we are cut off) back at 30 s
    return H::healthy;
  });
  s.setRegion("us", sim::silentBetween(18'000, 33'000));
  s.runUntil(60'000);
  EXPECT_TRUE(s.acted().empty()) << s.acted()[0].reason;
}

// Database reports from before our isolation are no witness after it: eu's database was failing, then
// recovered while we could hear nobody, and eu is heard 2 s after us; neither the stale reports nor the
// moments before eu's nodes are heard make it lost.
TEST(Policy, StaleDatabaseReportsAreNoWitnessAfterAnIsolation) {
  Sim s;
  s.observer_config.regions[0].params.database_check = "db";
  s.policy.min_failover_interval = std::chrono::seconds{0};
  s.runUntil(3'000);
  // Every eu node reports its database failing (held: approval pending), then we are isolated.
  s.state.awaiting_approval = "1";
  s.database_failing = [](const std::string& node, int64_t t) { return node.rfind("eu-", 0) == 0 && t < 20'000; };
  s.setRegion("eu", sim::silentBetween(15'000, 32'000));
  s.setRegion("us", sim::silentBetween(15'000, 30'000));
  s.runUntil(29'000);
  s.state.awaiting_approval.clear();
  s.runUntil(60'000);
  EXPECT_TRUE(s.acted().empty()) << s.acted()[0].reason;
}

// A dry run journals one decision per outage, as a real failover would be made once, even when the
// target it would choose changes meanwhile. Journaled eu>us, then eu>ap, before.
TEST(Policy, ADryRunDecidesOncePerOutageWhateverTheTarget) {
  Sim s;
  s.policy.dry_run = true;
  s.addRegion("ap", 3);
  s.policy.plans = {{"eu", "us"}, {"eu", "ap"}};
  s.setRegion("eu", sim::diesAt(10'000));
  s.setRegion("us", sim::diesAt(30'000));
  s.runUntil(60'000);
  ASSERT_EQ(s.acted().size(), 1u);
  EXPECT_EQ(s.acted()[0].to, "us");
  expectReason(s.last(), "dry run: failover eu to us already journaled");
}

// --- Branches: unknown regions, missing plans, blocked and chained decisions ----------------------------

TEST(Policy, AnActiveRegionNotConfiguredIsNeverActedOn) {
  Sim s;
  s.state.active_region = "mars";
  s.setRegion("eu", sim::diesAt(10'000));
  s.runUntil(30'000);
  EXPECT_TRUE(s.acted().empty());
  expectReason(s.last(), "active region mars is not configured");
  s.policy.plans.emplace_back("eu", "mars");
  s.state.active_region = "eu";
  expectReason(s.request({OperatorRequest::Kind::failover, "mars", true}), "refused: unknown region mars");
  expectReason(s.request({OperatorRequest::Kind::failover, "pluto", true}), "refused: no plan from eu to pluto");
}

TEST(Policy, AutoFailbackWithoutAPlanBackHomeStays) {
  Sim s;
  autoFailback(s, std::chrono::seconds{10}, std::chrono::seconds{1});
  s.policy.plans = {{"eu", "us"}};
  s.setRegion("eu", sim::silentBetween(10'000, 30'000));
  s.runUntil(90'000);
  ASSERT_EQ(s.acted().size(), 1u);
  expectReason(s.last(), "no plan from us back to eu");
}

TEST(Policy, AutoFailbackWaitsForTheMinimumInterval) {
  Sim s;
  autoFailback(s, std::chrono::seconds{10}, std::chrono::seconds{60});
  s.setRegion("eu", sim::silentBetween(10'000, 30'000));
  s.runUntil(70'000);
  ASSERT_EQ(s.acted().size(), 1u);  // failover at ~16 s; eu up again at ~37 s, plus 10 s: 47 s < 76 s
  expectReason(s.last(), "failback waits for the minimum interval");
  s.runUntil(90'000);
  ASSERT_EQ(s.acted().size(), 2u);
  EXPECT_EQ(s.acted()[1].kind, K::failback);
  EXPECT_GE(s.actedAt(1), s.actedAt(0) + 60'000);
}

TEST(Policy, ADryRunFailbackIsDecidedOnceAndChangesNothing) {
  Sim s;
  autoFailback(s, std::chrono::seconds{10}, std::chrono::seconds{1});
  s.setRegion("eu", sim::silentBetween(10'000, 30'000));
  s.runUntil(20'000);
  ASSERT_EQ(s.state.active_region, "us");  // a real failover first
  s.policy.dry_run = true;
  s.runUntil(90'000);
  ASSERT_EQ(s.acted().size(), 2u);
  EXPECT_EQ(s.acted()[1].kind, K::failback);
  EXPECT_TRUE(s.acted()[1].dry_run);
  EXPECT_EQ(s.state.active_region, "us");
  expectReason(s.last(), "dry run: failback to eu already journaled");
}

// Three regions, two of them silent: not our isolation (one region still speaks), so the active region
// fails over to the only one up, and never to the other silent one.
TEST(Policy, TwoOfThreeRegionsSilentFailsOverToTheThird) {
  Sim s;
  s.addRegion("ap", 0);  // preferred, but silent
  s.policy.plans = {{"eu", "us"}, {"eu", "ap"}};
  s.setRegion("eu", sim::diesAt(10'000));
  s.setRegion("ap", sim::diesAt(10'000));
  s.runUntil(40'000);
  EXPECT_FALSE(saw(s, "+fail-static", ""));
  ASSERT_EQ(s.acted().size(), 1u);
  EXPECT_EQ(s.acted()[0].to, "us");
}

// eu dies, us takes over, then us dies too: a second failover (to ap) once the minimum interval allows,
// never back to eu, which is still down.
TEST(Policy, ChainedFailoverMovesOnOnceTheIntervalAllows) {
  Sim s;
  s.addRegion("ap", 3);
  s.policy.plans = {{"eu", "us"}, {"eu", "ap"}, {"us", "eu"}, {"us", "ap"}};
  s.policy.min_failover_interval = std::chrono::seconds{30};
  s.setRegion("eu", sim::diesAt(10'000));
  s.setRegion("us", sim::diesAt(25'000));
  s.runUntil(90'000);
  ASSERT_EQ(s.acted().size(), 2u);
  EXPECT_EQ(s.acted()[0].from, "eu");
  EXPECT_EQ(s.acted()[0].to, "us");
  EXPECT_EQ(s.acted()[1].from, "us");
  EXPECT_EQ(s.acted()[1].to, "ap");
  EXPECT_GE(s.actedAt(1), s.actedAt(0) + 30'000);
  EXPECT_EQ(s.state.active_region, "ap");
}

// --- Events -------------------------------------------------------------------------------------------------

TEST(Policy, RegionDeathProducesNamedEventsInOrder) {
  Sim s;
  s.setRegion("eu", sim::diesAt(10'000));
  s.runUntil(20'000);
  std::vector<std::string> node;
  std::vector<std::string> region;
  for (const Event& e : s.events) {
    if (e.subject == "eu-1") node.push_back(e.name);
    if (e.subject == "eu") region.push_back(e.name);
  }
  EXPECT_EQ(node, (std::vector<std::string>{"+node-healthy", "+node-suspect", "+node-failed"}));
  // Nodes suspect: alive but fewer than two healthy, so degraded before down.
  EXPECT_EQ(region, (std::vector<std::string>{"+region-degraded", "+region-down"}));
}

TEST(Policy, RecoveredRegionNeedsUpAfterToLeaveDown) {
  Sim s;
  s.setRegion("eu", sim::silentBetween(10'000, 30'000));  // heartbeats again from 30 s; up_after is 5 s
  auto leftDown = [&] {
    for (const Event& e : s.events) {
      if (e.name == "-region-down" && e.subject == "eu") return true;
    }
    return false;
  };
  s.runUntil(33'000);
  EXPECT_FALSE(leftDown());
  s.runUntil(40'000);
  EXPECT_TRUE(leftDown());
}

}  // namespace
}  // namespace hale::aggregator
