// aggregator/coordination's Coordinator and EpochFence against a real etcd, from inside one process so the
// instants between a round's read and a write can be chosen: a plan's end never overwrites a pause set
// meanwhile, a deposed epoch writes nothing, and observers that disagree on the quorum configuration, or
// share a name, lead nobody.

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <nlohmann/json.hpp>

#include "clock.h"
#include "coordination.h"
#include "etcd_client.h"
#include "etcd_server.h"
#include "process.h"

namespace hale::aggregator {
namespace {

using std::chrono::milliseconds;

class CoordinatorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    etcd_ = new test::EtcdServer();
    etcd_->start();
  }
  static void TearDownTestSuite() {
    delete etcd_;
    etcd_ = nullptr;
  }

  static std::unique_ptr<Coordinator> observer(const std::string& cluster, const std::string& name,
                                               std::vector<std::string> observers, milliseconds interval,
                                               Coordinator::VerdictSource standing = nullptr,
                                               milliseconds ttl = milliseconds{3000}) {
    CoordinationConfig c;
    c.mode = CoordinationConfig::Mode::etcd;
    c.cluster = cluster;
    c.name = name;
    c.quorum.observers = std::move(observers);
    c.store.endpoints = {etcd_->endpoint()};
    c.lease_ttl = ttl;
    c.publish_interval = interval;
    if (!standing) {
      standing = [] { return Coordinator::Standing{{{"eu", Verdict::down}, {"us", Verdict::up}}, ""}; };
    }
    auto coordinator = std::make_unique<Coordinator>(c, clock_, std::move(standing));
    coordinator->start();
    return coordinator;
  }

  // A coordinator whose rounds are far apart (10 s), so its view of the store stays as of its first round.
  std::unique_ptr<Coordinator> leader(const std::string& cluster) {
    auto coordinator = observer(cluster, "a", {"a"}, milliseconds{10000});
    EXPECT_TRUE(test::waitFor([&] { return coordinator->view().leading; }, milliseconds{5000}));
    return coordinator;
  }

  static SharedPlan plan() {
    SharedPlan p;
    p.kind = "failover";
    p.from = "eu";
    p.to = "us";
    p.status = "running";
    p.steps = {{"s0", "pending"}};
    return p;
  }

  // What the engine's end of a plan leaves: the store's state now, with the new active region.
  static SharedState afterDone(const std::string&, const std::optional<SharedState>& now) {
    SharedState s = now.value_or(SharedState{"eu", false, 0, ""});
    s.active_region = "us";
    s.last_failover_ms = 1;
    return s;
  }

  static test::EtcdServer* etcd_;
  static SystemClock clock_;
};

SystemClock CoordinatorTest::clock_;

test::EtcdServer* CoordinatorTest::etcd_ = nullptr;

TEST_F(CoordinatorTest, APauseSetDuringThePlanSurvivesItsEnd) {
  auto c = leader("fence-pause");
  const int64_t epoch = c->view().epoch;
  ASSERT_GT(epoch, 0);
  ASSERT_TRUE(c->updateState({"eu", false, 0, ""}, 0));
  auto id = c->createPlan(epoch, plan(), 0, 0, c->readShared().value().state_revision);
  ASSERT_TRUE(id) << id.error().message;
  SharedPlan p = plan();
  p.id = id.value();
  // An operator pauses on another aggregator while the step runs; this leader's view is older than that.
  auto before = c->readShared();
  ASSERT_TRUE(before);
  ASSERT_TRUE(c->updateState({"eu", true, 0, ""}, before.value().state_revision));
  EpochFence fence(*c, epoch, p, afterDone);
  ASSERT_TRUE(fence.afterStep({}, 0, true));
  ASSERT_TRUE(fence.finish({}, "done"));
  auto after = c->readShared();
  ASSERT_TRUE(after);
  ASSERT_TRUE(after.value().state);
  EXPECT_TRUE(after.value().state->paused);
  EXPECT_EQ(after.value().state->active_region, "us");
  ASSERT_TRUE(after.value().plan);
  EXPECT_EQ(after.value().plan->status, "done");
  EXPECT_EQ(after.value().plan->steps.at(0).state, "done");
}

// A decision made on a view older than a pause (the leader's rounds are 10 s apart here) is not shared:
// the plan is created only while the state is still the one the decision saw.
TEST_F(CoordinatorTest, APauseSetAfterTheDecisionsViewIsNeverDecidedOver) {
  auto c = leader("pause-race");
  const CoordinationView seen = c->view();
  ASSERT_TRUE(c->updateState({"eu", false, 0, ""}, 0));
  auto now = c->readShared();
  ASSERT_TRUE(now);
  ASSERT_TRUE(c->updateState({"eu", true, 0, ""}, now.value().state_revision));  // paused on some aggregator
  auto stale = c->createPlan(seen.epoch, plan(), 0, seen.plan_revision, seen.state_revision);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, "conflict");
  EXPECT_FALSE(c->readShared().value().plan.has_value());
}

TEST_F(CoordinatorTest, EpochZeroWritesNothingEvenWhenNobodyLeads) {
  auto c = leader("epoch-zero");
  c->stop();  // revokes the lease: nobody leads
  SharedPlan p = plan();
  p.id = 1;
  auto w = c->updatePlan(0, p, SharedState{"us", false, 0, ""});
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, "deposed");
  EXPECT_FALSE(c->createPlan(0, plan(), 0, 0, 0));
  EXPECT_FALSE(c->readShared().value().plan.has_value());
}

TEST_F(CoordinatorTest, ADeposedEpochWritesNeitherStepNorEnd) {
  auto c = leader("fence-deposed");
  const int64_t epoch = c->view().epoch;
  auto id = c->createPlan(epoch, plan(), 0, 0, 0);
  ASSERT_TRUE(id);
  SharedPlan p = plan();
  p.id = id.value();
  EpochFence stale(*c, epoch - 1, p, afterDone);  // an epoch that is not the leader key's
  auto step = stale.afterStep({}, 0, true);
  ASSERT_FALSE(step);
  EXPECT_EQ(step.error().code, "deposed");
  auto end = stale.finish({}, "done");
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error().code, "deposed");
  auto after = c->readShared();
  ASSERT_TRUE(after);
  ASSERT_TRUE(after.value().plan);
  EXPECT_EQ(after.value().plan->status, "running");
  EXPECT_EQ(after.value().plan->steps.at(0).state, "pending");
  EXPECT_FALSE(after.value().state.has_value());
  auto before = stale.beforeAttempt({}, 0, milliseconds{1000});
  ASSERT_FALSE(before);
  EXPECT_EQ(before.error().code, "deposed");
}

TEST_F(CoordinatorTest, ObserversThatDisagreeOnTheQuorumLeadNobody) {
  // b was given a quorum of its own (observers a, b, c where a has a and b): neither may lead, since their
  // majorities would not mean the same thing.
  auto a = observer("conflict-quorum", "a", {"a", "b"}, milliseconds{100});
  auto b = observer("conflict-quorum", "b", {"a", "b", "c"}, milliseconds{100});
  ASSERT_TRUE(test::waitFor(
      [&] {
        const CoordinationView va = a->view();
        const CoordinationView vb = b->view();
        return va.reachable && vb.reachable && va.leader.empty() && !va.unfit.empty() && !vb.unfit.empty();
      },
      milliseconds{5000}))
      << "a: leader " << a->view().leader << ", unfit " << a->view().unfit << "; b: unfit " << b->view().unfit;
  EXPECT_NE(a->view().unfit.find("another quorum configuration"), std::string::npos) << a->view().unfit;
  EXPECT_FALSE(a->view().leading);
  EXPECT_FALSE(b->view().leading);
  // Once b agrees (restarted with a's configuration), one of them leads again.
  b.reset();
  b = observer("conflict-quorum", "b", {"a", "b"}, milliseconds{100});
  ASSERT_TRUE(test::waitFor(
      [&] { return (a->view().leading || b->view().leading) && a->view().unfit.empty() && b->view().unfit.empty(); },
      milliseconds{8000}))
      << a->view().unfit << " / " << b->view().unfit;
}

TEST_F(CoordinatorTest, TwoAggregatorsWithOneNameLeadNobodyAndVoteNothing) {
  auto first = observer("conflict-name", "a", {"a", "b"}, milliseconds{100});
  auto second = observer("conflict-name", "a", {"a", "b"}, milliseconds{100});
  ASSERT_TRUE(test::waitFor(
      [&] {
        return first->view().unfit.find("also publishes as observer a") != std::string::npos &&
               second->view().unfit.find("also publishes as observer a") != std::string::npos;
      },
      milliseconds{5000}))
      << first->view().unfit << " / " << second->view().unfit;
  ASSERT_TRUE(test::waitFor([&] { return first->view().leader.empty(); }, milliseconds{5000}))
      << "leader: " << first->view().leader;
  EXPECT_FALSE(first->view().leading);
  EXPECT_FALSE(second->view().leading);
}

// A report anyone with access to etcd can write: a field of another type or out of bounds is not read (and
// does not end the round); the alert keys a well-formed report carries are.
TEST_F(CoordinatorTest, AReportOfAnotherShapeIsReadWithinBoundsAndNeverEndsTheRound) {
  etcd::Options o;
  o.endpoints = {etcd_->endpoint()};
  etcd::Client client(o);
  const std::string prefix = "/hale/odd-reports/observers/";
  const std::string long_key(Coordinator::kMaxAlertKey + 1, 'k');
  nlohmann::json too_many = nlohmann::json::array();
  for (size_t i = 0; i <= Coordinator::kMaxReportedPages; ++i) too_many.push_back("k" + std::to_string(i));
  const std::vector<std::pair<std::string, nlohmann::json>> reports = {
      {"b", {{"config", 5}, {"regions", {{"eu", "up"}}}, {"paged", {"c/split-brain/eu-1", 7, long_key}}}},
      {"c", {{"config", nullptr}, {"regions", {{"eu", "up"}}}, {"paged", too_many}}},
      {"d", {{"regions", {{"eu", "up"}}}, {"paged", "c/split-brain/eu-1"}}},
  };
  for (const auto& [name, body] : reports) {
    ASSERT_TRUE(client.txn({}, {etcd::put(prefix + name, body.dump())}, {}).ok());
  }
  // Well formed but over the size bound: not parsed at all (read in the same range as the others).
  nlohmann::json large = {{"regions", {{"eu", "up"}}}, {"paged", {"c/split-brain/eu-1"}}};
  large["padding"] = std::string(Coordinator::kMaxReportBytes, 'p');
  ASSERT_TRUE(client.txn({}, {etcd::put(prefix + "e", large.dump())}, {}).ok());
  auto a = observer("odd-reports", "a", {"a", "b", "c", "d", "e"}, milliseconds{100});
  ASSERT_TRUE(test::waitFor([&] { return a->view().reports.size() == 4; }, milliseconds{5000}))
      << a->view().error << " " << a->view().reports.size();
  const CoordinationView v = a->view();
  EXPECT_TRUE(v.reachable);
  for (const ObserverReport& r : v.reports) {
    EXPECT_NE(r.observer, "e") << "a report over " << Coordinator::kMaxReportBytes << " bytes was parsed";
    if (r.observer == "b") {
      EXPECT_EQ(r.paged, std::vector<std::string>{"c/split-brain/eu-1"});
    } else {
      EXPECT_TRUE(r.paged.empty()) << r.observer;
    }
  }
  // Still going: later rounds publish (a's report changes).
  const int64_t before = client.txn({}, {etcd::get(prefix + "a")}, {}).value().ranges[0].front().mod_revision;
  EXPECT_TRUE(test::waitFor(
      [&] { return client.txn({}, {etcd::get(prefix + "a")}, {}).value().ranges[0].front().mod_revision > before; },
      milliseconds{3000}));
}

// A leader that stops between two rounds (its thread stuck here, as a SIGSTOPped or dead aggregator's
// would be) keeps its lease in etcd for its whole TTL, and longer when etcd's own leader changes.
struct Stoppable {
  std::atomic<bool> stopped{false};
  std::atomic<bool> released{false};
  Coordinator::VerdictSource source() {
    return [this] {
      while (stopped && !released) std::this_thread::sleep_for(milliseconds{10});
      return Coordinator::Standing{{{"eu", Verdict::up}, {"us", Verdict::up}}, ""};
    };
  }
};

TEST_F(CoordinatorTest, ALeaderSilentForALeaseIsEvictedBeforeItsLeaseEnds) {
  Stoppable a_state;
  // a's lease is long (20 s), b counts silence in its own 2 s lease: only an eviction makes b lead soon.
  auto a = observer("evict", "a", {"a", "b"}, milliseconds{100}, a_state.source(), milliseconds{20000});
  ASSERT_TRUE(test::waitFor([&] { return a->view().leading; }, milliseconds{5000}));
  auto b = observer("evict", "b", {"a", "b"}, milliseconds{100}, nullptr, milliseconds{2000});
  ASSERT_TRUE(test::waitFor([&] { return b->view().reachable && b->view().leader == "a"; }, milliseconds{5000}));
  a_state.stopped = true;
  ASSERT_TRUE(test::waitFor([&] { return b->view().leading; }, milliseconds{10000})) << b->view().leader;
  EXPECT_EQ(b->view().evictions, 1u);
  EXPECT_GT(b->view().epoch, a->view().epoch);
  // a, back, finds it leads no more: its lease is alive, but the key is b's.
  a_state.released = true;
  ASSERT_TRUE(test::waitFor([&] { return a->view().leader == "b"; }, milliseconds{5000}));
  EXPECT_FALSE(a->view().leading);
  EXPECT_FALSE(a->leads(a->view().epoch));
}

TEST_F(CoordinatorTest, ALiveLeaderIsNotEvictedAfterEtcdItselfWasSilent) {
  auto a = observer("no-evict", "a", {"a", "b"}, milliseconds{100});
  ASSERT_TRUE(test::waitFor([&] { return a->view().leading; }, milliseconds{5000}));
  auto b = observer("no-evict", "b", {"a", "b"}, milliseconds{100}, nullptr, milliseconds{1000});
  ASSERT_TRUE(test::waitFor([&] { return b->view().reachable && b->view().leader == "a"; }, milliseconds{5000}));
  // etcd stalls for longer than b's lease TTL (a's is 3 s and survives it): nobody could write meanwhile.
  etcd_->freeze();
  std::this_thread::sleep_for(milliseconds{1500});
  etcd_->thaw();
  std::this_thread::sleep_for(milliseconds{2500});
  EXPECT_EQ(b->view().evictions, 0u);
  EXPECT_EQ(b->view().leader, "a");
  EXPECT_TRUE(a->view().leading);
}

}  // namespace
}  // namespace hale::aggregator
