// The publisher's timing rule over injected instants: what the component test can only see through a
// loaded machine's scheduler is pinned here exactly.

#include <gtest/gtest.h>

#include "heartbeat_cadence.h"

namespace hale::agent {
namespace {

using std::chrono::milliseconds;

const SteadyTime t0{std::chrono::seconds{1000}};

TEST(HeartbeatCadence, FirstHeartbeatIsDueAtStart) {
  const HeartbeatCadence c(milliseconds{400}, t0);
  EXPECT_EQ(c.due(false), t0);
  EXPECT_EQ(c.due(true), t0);
}

TEST(HeartbeatCadence, NextIsOneIntervalAfterTheLastSent) {
  HeartbeatCadence c(milliseconds{400}, t0);
  c.sent(t0);
  EXPECT_EQ(c.due(false), t0 + milliseconds{400});
  c.sent(t0 + milliseconds{400});
  EXPECT_EQ(c.due(false), t0 + milliseconds{800});
}

TEST(HeartbeatCadence, ALateSendIsNotFollowedByACatchUp) {
  HeartbeatCadence c(milliseconds{400}, t0);
  c.sent(t0);
  // Due at 400 ms but the machine only got to it at 1 s: the next is 400 ms after that, not at once.
  c.sent(t0 + milliseconds{1000});
  EXPECT_EQ(c.due(false), t0 + milliseconds{1400});
}

TEST(HeartbeatCadence, AChangeGoesOutAtTheMinimumGapNotAtTheTick) {
  HeartbeatCadence c(milliseconds{400}, t0);
  c.sent(t0);
  EXPECT_EQ(c.due(true), t0 + HeartbeatCadence::kMinChangeGap);
  // A change noticed long after the gap (at 300 ms) is due at once: its due time is already past.
  const SteadyTime noticed = t0 + milliseconds{300};
  EXPECT_LE(c.due(true), noticed);
  EXPECT_GT(c.due(false), noticed) << "without the change nothing would be due yet";
}

TEST(HeartbeatCadence, AChangeNeverMakesAHeartbeatLaterThanTheTick) {
  // An interval shorter than the minimum gap: the tick wins.
  HeartbeatCadence c(milliseconds{20}, t0);
  c.sent(t0);
  EXPECT_EQ(c.due(true), t0 + milliseconds{20});
  EXPECT_EQ(c.due(false), t0 + milliseconds{20});
}

TEST(HeartbeatCadence, AFlappingCheckSendsAtMostOnePerGap) {
  // A check changing status every millisecond for one second: the rule allows one heartbeat per 50 ms.
  HeartbeatCadence c(milliseconds{1000}, t0);
  c.sent(t0);
  int sent = 0;
  for (SteadyTime now = t0 + milliseconds{1}; now <= t0 + milliseconds{1000}; now += milliseconds{1}) {
    if (now >= c.due(true)) {
      c.sent(now);
      ++sent;
    }
  }
  EXPECT_EQ(sent, 1000 / HeartbeatCadence::kMinChangeGap.count());
}

}  // namespace
}  // namespace hale::agent
