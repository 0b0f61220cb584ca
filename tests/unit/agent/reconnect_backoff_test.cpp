#include "checks/reconnect_backoff.h"

#include <gtest/gtest.h>

namespace hale::agent {
namespace {

using std::chrono::milliseconds;

const SteadyTime t0{std::chrono::seconds{100}};

TEST(ReconnectBackoff, ConnectedOrNeverFailedMayAttemptAtAnyTime) {
  ReconnectBackoff b;
  EXPECT_TRUE(b.mayAttempt(t0));
  b.failed(t0, "refused");
  b.succeeded();
  EXPECT_EQ(b.failures(), 0);
  EXPECT_TRUE(b.mayAttempt(t0));
}

TEST(ReconnectBackoff, TheProbeAfterAFirstFailureTriesAgain) {
  ReconnectBackoff b;
  b.failed(t0, "refused");
  EXPECT_TRUE(b.mayAttempt(t0));
}

// The least time between consecutive failed attempts: 0, 1, 2, 4, then 8 s for ever.
TEST(ReconnectBackoff, FurtherFailuresSpaceAttemptsOneTwoFourThenEightSeconds) {
  ReconnectBackoff b;
  SteadyTime now = t0;
  const std::vector<milliseconds> spacing{milliseconds{0},    milliseconds{1000}, milliseconds{2000},
                                          milliseconds{4000}, milliseconds{8000}, milliseconds{8000},
                                          milliseconds{8000}};
  for (size_t i = 0; i < spacing.size(); ++i) {
    b.failed(now, "refused");
    if (spacing[i].count() > 0) {
      EXPECT_FALSE(b.mayAttempt(now + spacing[i] - milliseconds{1})) << "after failure " << i + 1;
    }
    EXPECT_TRUE(b.mayAttempt(now + spacing[i])) << "after failure " << i + 1;
    now += spacing[i];
  }
}

TEST(ReconnectBackoff, ThousandsOfFailuresStayAtTheCap) {
  ReconnectBackoff b;
  SteadyTime now = t0;
  for (int i = 0; i < 5000; ++i) {
    b.failed(now, "refused");
    now += ReconnectBackoff::kMax;
  }
  b.failed(now, "refused");
  EXPECT_FALSE(b.mayAttempt(now + ReconnectBackoff::kMax - milliseconds{1}));
  EXPECT_TRUE(b.mayAttempt(now + ReconnectBackoff::kMax));
}

TEST(ReconnectBackoff, WhileWaitingTheMessageGivesTheLastErrorAndTheWaitLeft) {
  ReconnectBackoff b;
  b.failed(t0, "first");
  b.failed(t0, "connection refused");
  EXPECT_EQ(b.waitingMessage(t0 + milliseconds{250}), "connection refused (not connected; next attempt in 750ms)");
}

}  // namespace
}  // namespace hale::agent
