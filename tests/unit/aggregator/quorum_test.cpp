// The quorum rule (core/quorum) in simulated time: which observers vote, when a region is down or up for a
// decision, and how the policy acts on the tally. Observers are named after where they run: eu and us (one
// per region) and w (a witness with no nodes of its own).

#include "quorum.h"

#include <gtest/gtest.h>

namespace hale::aggregator {
namespace {

using std::chrono::milliseconds;
using V = Verdict;

const SteadyTime t0{std::chrono::seconds{1000}};

QuorumConfig three() { return QuorumConfig{{"eu", "us", "w"}, 0, milliseconds{1500}}; }

ObserverReport report(const std::string& who, int64_t heard_ms_ago, V eu, V us) {
  return {who, t0 - milliseconds{heard_ms_ago}, {{"eu", eu}, {"us", us}}};
}

Tally run(const QuorumConfig& c, const std::vector<ObserverReport>& reports) {
  return tally(c, {"eu", "us"}, reports, t0);
}

TEST(Quorum, DefaultIsAStrictMajorityOfConfiguredObservers) {
  EXPECT_EQ((QuorumConfig{{"a"}, 0, {}}).needed(), 1u);
  EXPECT_EQ((QuorumConfig{{"a", "b"}, 0, {}}).needed(), 2u);
  EXPECT_EQ(three().needed(), 2u);
  EXPECT_EQ((QuorumConfig{{"a", "b", "c", "d"}, 0, {}}).needed(), 3u);
  EXPECT_EQ((QuorumConfig{{"a", "b", "c", "d", "e"}, 0, {}}).needed(), 3u);
  EXPECT_EQ((QuorumConfig{{"a", "b", "c", "d", "e"}, 4, {}}).needed(), 4u);
}

TEST(Quorum, TwoOfThreeDownIsDown) {
  const Tally t = run(
      three(), {report("us", 100, V::down, V::up), report("w", 200, V::down, V::up), report("eu", 100, V::up, V::up)});
  EXPECT_TRUE(t.visible);
  EXPECT_EQ(t.region("eu")->verdict, V::down);
  EXPECT_EQ(t.region("eu")->down_by, (std::vector<std::string>{"us", "w"}));
  EXPECT_EQ(t.region("us")->verdict, V::up);
}

TEST(Quorum, OneObserverAloneIsNotDown) {
  // The observer cut off from eu says down; the other two see eu healthy.
  const Tally t = run(
      three(), {report("us", 100, V::down, V::up), report("w", 100, V::up, V::up), report("eu", 100, V::up, V::up)});
  EXPECT_EQ(t.region("eu")->verdict, V::up);
  EXPECT_EQ(t.region("eu")->down, 1u);
}

TEST(Quorum, OneDownOneUpOneSilentIsDegradedNotDown) {
  const Tally t = run(three(), {report("us", 100, V::down, V::up), report("w", 100, V::up, V::up)});
  EXPECT_TRUE(t.visible);
  EXPECT_EQ(t.region("eu")->verdict, V::degraded);
  EXPECT_EQ(t.silent, (std::vector<std::string>{"eu"}));
}

TEST(Quorum, ObserversInTheFailingRegionVanishAndTheSurvivorsDecide) {
  // eu died with its own aggregator: its report is gone (its lease expired); us and the witness agree.
  const Tally t = run(three(), {report("us", 50, V::down, V::up), report("w", 300, V::down, V::up)});
  EXPECT_TRUE(t.visible);
  EXPECT_EQ(t.region("eu")->verdict, V::down);
  EXPECT_EQ(t.region("us")->verdict, V::up);
}

TEST(Quorum, StaleVerdictsDoNotVote) {
  // The witness's last report is older than the window: only us votes, which is not a quorum.
  const Tally t = run(three(), {report("us", 100, V::down, V::up), report("w", 1501, V::down, V::up)});
  EXPECT_FALSE(t.visible);
  EXPECT_EQ(t.fresh, 1u);
  EXPECT_EQ(t.region("eu")->verdict, V::degraded);
}

TEST(Quorum, AReportExactlyAtTheWindowStillCounts) {
  const Tally t = run(three(), {report("us", 1500, V::down, V::up), report("w", 1500, V::down, V::up)});
  EXPECT_EQ(t.region("eu")->verdict, V::down);
}

TEST(Quorum, AReportFromTheFutureDoesNotVote) {
  ObserverReport future = report("w", 0, V::down, V::up);
  future.heard = t0 + milliseconds{10};
  const Tally t = run(three(), {report("us", 100, V::down, V::up), future});
  EXPECT_EQ(t.fresh, 1u);
  EXPECT_EQ(t.region("eu")->verdict, V::degraded);
}

TEST(Quorum, UnconfiguredObserversDoNotVote) {
  const Tally t = run(three(), {report("us", 100, V::down, V::up), report("intruder", 100, V::down, V::up),
                                report("intruder2", 100, V::down, V::up)});
  EXPECT_FALSE(t.visible);
  EXPECT_EQ(t.region("eu")->down, 1u);
  EXPECT_EQ(t.region("eu")->verdict, V::degraded);
}

TEST(Quorum, AnObserverVotesOnceWhateverItsReportCount) {
  const Tally t = run(three(), {report("us", 900, V::down, V::up), report("us", 100, V::down, V::up)});
  EXPECT_EQ(t.fresh, 1u);
  EXPECT_EQ(t.region("eu")->down, 1u);
  EXPECT_FALSE(t.visible);
}

TEST(Quorum, TheNewestReportOfAnObserverIsTheOneThatCounts) {
  const Tally t = run(
      three(), {report("us", 100, V::up, V::up), report("us", 1000, V::down, V::up), report("w", 100, V::down, V::up)});
  EXPECT_EQ(t.region("eu")->down, 1u);
  EXPECT_EQ(t.region("eu")->verdict, V::degraded);
}

TEST(Quorum, MajorityOfConfiguredNotOfLiving) {
  // Five configured, three dead: the two that live agree, but two is not a majority of five.
  const QuorumConfig c{{"a", "b", "c", "d", "e"}, 0, milliseconds{1500}};
  const Tally t = run(c, {report("a", 100, V::down, V::up), report("b", 100, V::down, V::up)});
  EXPECT_FALSE(t.visible);
  EXPECT_EQ(t.region("eu")->verdict, V::degraded);
}

TEST(Quorum, WitnessOnlyIsNoQuorumOfThree) {
  const Tally t = run(three(), {report("w", 100, V::down, V::up)});
  EXPECT_FALSE(t.visible);
  EXPECT_EQ(t.region("eu")->verdict, V::degraded);
  EXPECT_EQ(t.region("us")->verdict, V::degraded);
}

TEST(Quorum, ASingleConfiguredWitnessDecidesAlone) {
  const QuorumConfig c{{"w"}, 0, milliseconds{1500}};
  const Tally t = run(c, {report("w", 100, V::down, V::up)});
  EXPECT_TRUE(t.visible);
  EXPECT_EQ(t.region("eu")->verdict, V::down);
}

TEST(Quorum, TargetMustBeUpByQuorum) {
  // Only one observer sees us up; the other says us is degraded: us is no target.
  const Tally t = run(three(), {report("eu", 5000, V::up, V::up), report("us", 100, V::down, V::up),
                                report("w", 100, V::down, V::degraded)});
  EXPECT_EQ(t.region("eu")->verdict, V::down);
  EXPECT_EQ(t.region("us")->verdict, V::degraded);
}

TEST(Quorum, ThreeRegionsFiveObservers) {
  const QuorumConfig c{{"eu", "us", "ap", "w1", "w2"}, 0, milliseconds{1500}};
  auto r = [](const std::string& who, V eu, V us, V ap) {
    return ObserverReport{who, t0, {{"eu", eu}, {"us", us}, {"ap", ap}}};
  };
  const Tally t = tally(c, {"eu", "us", "ap"},
                        {r("us", V::down, V::up, V::up), r("ap", V::down, V::up, V::down),
                         r("w1", V::down, V::up, V::up), r("w2", V::up, V::up, V::down)},
                        t0);
  EXPECT_TRUE(t.visible);
  EXPECT_EQ(t.needed, 3u);
  EXPECT_EQ(t.region("eu")->verdict, V::down);      // 3 of 5
  EXPECT_EQ(t.region("us")->verdict, V::up);        // 4 of 5
  EXPECT_EQ(t.region("ap")->verdict, V::degraded);  // 2 down, 2 up: neither
}

TEST(Quorum, AnObserverThatDoesNotKnowARegionDoesNotVoteOnIt) {
  const Tally t =
      tally(three(), {"eu", "us", "ap"}, {report("us", 100, V::down, V::up), report("w", 100, V::down, V::up)}, t0);
  EXPECT_EQ(t.region("ap")->up + t.region("ap")->down + t.region("ap")->degraded, 0u);
  EXPECT_EQ(t.region("ap")->verdict, V::degraded);
}

TEST(Quorum, AnExplicitQuorumOfOneLetsAnyFreshObserverDecide) {
  const QuorumConfig c{{"eu", "us", "w"}, 1, milliseconds{1500}};
  const Tally t = run(c, {report("us", 100, V::down, V::up)});
  EXPECT_TRUE(t.visible);
  EXPECT_EQ(t.region("eu")->verdict, V::down);
}

TEST(Quorum, NoObserversConfiguredNeverDecides) {
  const Tally t = run(QuorumConfig{}, {report("us", 100, V::down, V::up)});
  EXPECT_FALSE(t.visible);
  EXPECT_EQ(t.region("eu")->verdict, V::degraded);
}

// --- The policy on a tally -----------------------------------------------------------------------------

Observations localView(V eu, V us) {
  Observations seen;
  seen.regions = {RegionSummary{.name = "eu", .priority = 1, .verdict = eu, .healthy = 3, .total = 3},
                  RegionSummary{.name = "us", .priority = 2, .verdict = us, .healthy = 3, .total = 3}};
  return seen;
}

PolicyConfig policy() {
  PolicyConfig c;
  c.home_region = "eu";
  c.plans = {{"eu", "us"}, {"us", "eu"}};
  return c;
}

PolicyState activeEu() {
  PolicyState s;
  s.active_region = "eu";
  return s;
}

TEST(QuorumPolicy, TheLeadersOwnDownViewIsOverruledByTheQuorum) {
  Observations seen = localView(V::down, V::up);  // the leader is the observer cut off from eu
  applyTally(seen, run(three(), {report("us", 100, V::down, V::up), report("w", 100, V::up, V::up),
                                 report("eu", 100, V::up, V::up)}));
  const Decision d = decide(seen, activeEu(), policy(), std::nullopt, t0, WallTime{});
  EXPECT_FALSE(d.acts());
  EXPECT_NE(d.reason.find("active region eu is up"), std::string::npos) << d.reason;
}

TEST(QuorumPolicy, QuorumDownFailsOverWithTheQuorumAsReason) {
  Observations seen = localView(V::up, V::up);  // the leader itself still sees eu (a partial view)
  applyTally(seen, run(three(), {report("us", 100, V::down, V::up), report("w", 100, V::down, V::up),
                                 report("eu", 100, V::up, V::up)}));
  const Decision d = decide(seen, activeEu(), policy(), std::nullopt, t0, WallTime{});
  ASSERT_TRUE(d.acts());
  EXPECT_EQ(d.to, "us");
  EXPECT_NE(d.reason.find("region eu down: down by quorum: 2 of 2 needed observers say down (us, w)"),
            std::string::npos)
      << d.reason;
}

TEST(QuorumPolicy, NoVisibleQuorumDecidesNothing) {
  Observations seen = localView(V::down, V::up);
  applyTally(seen, run(three(), {report("us", 100, V::down, V::up)}));
  const Decision d = decide(seen, activeEu(), policy(), std::nullopt, t0, WallTime{});
  EXPECT_FALSE(d.acts());
  EXPECT_NE(d.reason.find("no quorum: 1 of 2 needed observers heard (silent: eu, w)"), std::string::npos) << d.reason;
}

TEST(QuorumPolicy, AnOperatorFailoverWithoutQuorumNeedsForce) {
  Observations seen = localView(V::up, V::up);
  applyTally(seen, run(three(), {report("us", 100, V::up, V::up)}));
  const OperatorRequest req{OperatorRequest::Kind::failover, "us", false};
  EXPECT_FALSE(decide(seen, activeEu(), policy(), req, t0, WallTime{}).acts());
  const OperatorRequest forced{OperatorRequest::Kind::failover, "us", true};
  EXPECT_TRUE(decide(seen, activeEu(), policy(), forced, t0, WallTime{}).acts());
}

TEST(QuorumPolicy, AQuorumDownTargetIsNoTarget) {
  Observations seen = localView(V::down, V::up);
  applyTally(seen, run(three(), {report("us", 100, V::down, V::down), report("w", 100, V::down, V::down)}));
  const Decision d = decide(seen, activeEu(), policy(), std::nullopt, t0, WallTime{});
  EXPECT_FALSE(d.acts());
  EXPECT_NE(d.reason.find("no region with a plan is up"), std::string::npos) << d.reason;
}

}  // namespace
}  // namespace hale::aggregator
