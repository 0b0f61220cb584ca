#include "health_state.h"

#include <gtest/gtest.h>

namespace hale::agent {
namespace {

using S = CheckStatus;
using O = Outcome;

// Feeds `outcomes` from a fresh state and returns the status after each.
std::vector<S> run(std::initializer_list<O> outcomes, Thresholds t = {2, 3}) {
  HealthState s;
  std::vector<S> out;
  for (O o : outcomes) {
    s = applyOutcome(s, o, t);
    out.push_back(s.status);
  }
  return out;
}

TEST(HealthState, FirstOutcomeDecidesAtOnce) {
  EXPECT_EQ(run({O::pass}), std::vector<S>{S::pass});
  EXPECT_EQ(run({O::warn}), std::vector<S>{S::warn});
  EXPECT_EQ(run({O::fail}), std::vector<S>{S::fail});
  EXPECT_EQ(run({O::error}), std::vector<S>{S::fail});  // not ready until proven
}

TEST(HealthState, ErrorsNeedFallInARow) {
  EXPECT_EQ(run({O::pass, O::error, O::error, O::error}), (std::vector<S>{S::pass, S::pass, S::pass, S::fail}));
  // An answer in between resets the count: two lost probes around a good one never fail the check.
  EXPECT_EQ(run({O::pass, O::error, O::error, O::pass, O::error, O::error}),
            (std::vector<S>{S::pass, S::pass, S::pass, S::pass, S::pass, S::pass}));
  EXPECT_EQ(run({O::pass, O::error}, {2, 1}), (std::vector<S>{S::pass, S::fail}));
}

TEST(HealthState, DefinitiveFailureIsImmediate) {
  EXPECT_EQ(run({O::pass, O::fail}), (std::vector<S>{S::pass, S::fail}));
}

TEST(HealthState, RecoveryNeedsRiseInARow) {
  EXPECT_EQ(run({O::fail, O::pass, O::pass}), (std::vector<S>{S::fail, S::fail, S::pass}));
  EXPECT_EQ(run({O::fail, O::pass, O::error, O::pass, O::pass}),
            (std::vector<S>{S::fail, S::fail, S::fail, S::fail, S::pass}));
  EXPECT_EQ(run({O::fail, O::pass, O::pass, O::pass}, {3, 3}), (std::vector<S>{S::fail, S::fail, S::fail, S::pass}));
}

TEST(HealthState, WarnShowsAtOnceButRisesFromFailure) {
  EXPECT_EQ(run({O::pass, O::warn, O::pass}), (std::vector<S>{S::pass, S::warn, S::pass}));
  EXPECT_EQ(run({O::fail, O::warn, O::warn}), (std::vector<S>{S::fail, S::fail, S::warn}));
  // Warnings never count toward `fall`.
  EXPECT_EQ(run({O::pass, O::error, O::error, O::warn, O::error, O::error}),
            (std::vector<S>{S::pass, S::pass, S::pass, S::warn, S::warn, S::warn}));
}

TEST(HealthState, CountersTrackTheRun) {
  HealthState s;
  s = applyOutcome(s, O::error, {2, 3});
  s = applyOutcome(s, O::error, {2, 3});
  EXPECT_EQ(s.consecutive_bad, 2u);
  EXPECT_EQ(s.consecutive_pass, 0u);
  s = applyOutcome(s, O::pass, {2, 3});
  EXPECT_EQ(s.consecutive_bad, 0u);
  EXPECT_EQ(s.consecutive_pass, 1u);
}

TEST(NodeStatus, CriticalChecksDecide) {
  using heartbeat::NodeStatus;
  auto node = [](std::vector<CheckSummary> v) { return nodeStatus(v.data(), v.size()); };
  EXPECT_EQ(node({}), NodeStatus::healthy);
  EXPECT_EQ(node({{S::pass, true}, {S::pass, false}}), NodeStatus::healthy);
  EXPECT_EQ(node({{S::pass, true}, {S::fail, false}}), NodeStatus::degraded);
  EXPECT_EQ(node({{S::warn, true}, {S::pass, false}}), NodeStatus::degraded);
  EXPECT_EQ(node({{S::fail, true}, {S::pass, false}}), NodeStatus::unhealthy);
  EXPECT_EQ(node({{S::unknown, true}}), NodeStatus::unhealthy);  // not ready yet
  EXPECT_EQ(node({{S::unknown, false}, {S::pass, true}}), NodeStatus::degraded);
}

}  // namespace
}  // namespace hale::agent
