#include "clock.h"

#include <gtest/gtest.h>

namespace hale {
namespace {

TEST(ManualClock, MovesOnlyWhenTold) {
  ManualClock clock;
  const SteadyTime s0 = clock.steadyNow();
  const WallTime w0 = clock.wallNow();
  EXPECT_EQ(clock.steadyNow(), s0);
  clock.advance(std::chrono::milliseconds{1500});
  EXPECT_EQ(clock.steadyNow() - s0, std::chrono::milliseconds{1500});
  EXPECT_EQ(clock.wallNow() - w0, std::chrono::milliseconds{1500});
}

TEST(ManualClock, WallJumpsLeaveSteadyTimeAlone) {
  ManualClock clock;
  const SteadyTime s0 = clock.steadyNow();
  const WallTime w0 = clock.wallNow();
  clock.jumpWall(-std::chrono::hours{1});
  EXPECT_EQ(clock.steadyNow(), s0);
  EXPECT_EQ(w0 - clock.wallNow(), std::chrono::hours{1});
  clock.advance(-std::chrono::seconds{5});  // steady time never goes backwards
  EXPECT_EQ(clock.steadyNow(), s0);
}

TEST(Clock, UnixMillisRoundTrip) {
  EXPECT_EQ(toUnixMillis(fromUnixMillis(1'700'000'000'123)), 1'700'000'000'123);
  EXPECT_EQ(toUnixMillis(ManualClock(fromUnixMillis(42)).wallNow()), 42);
  const auto now = SystemClock::instance().wallNow();
  EXPECT_GT(toUnixMillis(now), 1'700'000'000'000);
}

}  // namespace
}  // namespace hale
