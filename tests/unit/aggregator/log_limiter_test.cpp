#include "log_limiter.h"

#include <gtest/gtest.h>

#include <string>

#include "rejected_senders.h"

namespace hale::aggregator {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(LogLimiter, OnceAnIntervalPerSubjectAndACapInAllWithTheRestSummedUp) {
  LogLimiter limiter(seconds{60}, 3);
  const SteadyTime t0{seconds{1000}};
  uint64_t held = 0;
  EXPECT_TRUE(limiter.allow("a", t0, held));
  EXPECT_FALSE(limiter.allow("a", t0 + seconds{1}, held)) << "said about a lately";
  EXPECT_TRUE(limiter.allow("b", t0 + seconds{2}, held));
  EXPECT_TRUE(limiter.allow("c", t0 + seconds{3}, held));
  EXPECT_FALSE(limiter.allow("d", t0 + seconds{4}, held)) << "three lines this interval already";
  EXPECT_FALSE(limiter.allow("e", t0 + seconds{5}, held));
  EXPECT_EQ(held, 0u);
  // The next interval: the two held back are reported once, and a is due again.
  EXPECT_TRUE(limiter.allow("a", t0 + seconds{61}, held));
  EXPECT_EQ(held, 2u);
  EXPECT_TRUE(limiter.allow("d", t0 + seconds{62}, held));
  EXPECT_EQ(held, 0u);
}

TEST(LogLimiter, MadeUpSubjectsCostBoundedMemoryAndKnownOnesStayRemembered) {
  LogLimiter limiter(seconds{60}, 1'000'000, 8);
  SteadyTime t{seconds{1000}};
  uint64_t held = 0;
  for (int i = 0; i < 100; ++i) {
    t += milliseconds{1};
    EXPECT_TRUE(limiter.allow("made-up-" + std::to_string(i), t, held));
  }
  // The most recent are still remembered (said lately), the oldest were forgotten (said again).
  EXPECT_FALSE(limiter.allow("made-up-99", t, held));
  EXPECT_TRUE(limiter.allow("made-up-0", t, held));
}

TEST(RejectedSenders, CountsPerSenderAndReasonNewestFirstBounded) {
  RejectedSenders senders;
  senders.note("eu-9", "eu", "unknown_node", 1000);
  senders.note("eu-9", "eu", "unknown_node", 1500);
  senders.note("eu-1", "us", "wrong_region", 1200);
  nlohmann::json j = senders.json(2000);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["node"], "eu-9");
  EXPECT_EQ(j[0]["frames"], 2);
  EXPECT_EQ(j[0]["first_heard_ms"], 1000);
  EXPECT_EQ(j[0]["last_heard_ms"], 500);
  EXPECT_EQ(j[1]["reason"], "wrong_region");
  for (int i = 0; i < 100; ++i) senders.note("x" + std::to_string(i), "eu", "unknown_node", 3000 + i);
  j = senders.json(4000);
  EXPECT_EQ(j.size(), RejectedSenders::kMaxSenders);
  EXPECT_EQ(j[0]["node"], "x99");
  for (const auto& s : j) EXPECT_NE(s["node"], "eu-9") << "the sender heard longest ago is the one replaced";
}

}  // namespace
}  // namespace hale::aggregator
