#include "duration.h"

#include <gtest/gtest.h>

namespace hale {
namespace {

using std::chrono::milliseconds;

TEST(Duration, ParsesUnitsAndCombinations) {
  EXPECT_EQ(parseDuration("250ms"), milliseconds{250});
  EXPECT_EQ(parseDuration("5s"), milliseconds{5000});
  EXPECT_EQ(parseDuration("2m"), milliseconds{120'000});
  EXPECT_EQ(parseDuration("1h"), milliseconds{3'600'000});
  EXPECT_EQ(parseDuration("1m30s"), milliseconds{90'000});
  EXPECT_EQ(parseDuration("1s500ms"), milliseconds{1500});
  EXPECT_EQ(parseDuration("0s"), milliseconds{0});
}

TEST(Duration, RefusesAnythingElse) {
  for (const char* bad : {"", "5", "s", "5 s", "-5s", "1.5s", "5sec", "5S", "ms", "5ms3", "99999999999999999999s"}) {
    EXPECT_FALSE(parseDuration(bad).has_value()) << bad;
  }
}

TEST(Duration, FormatsTheShortestExactForm) {
  EXPECT_EQ(formatDuration(milliseconds{0}), "0s");
  EXPECT_EQ(formatDuration(milliseconds{250}), "250ms");
  EXPECT_EQ(formatDuration(milliseconds{1500}), "1500ms");
  EXPECT_EQ(formatDuration(milliseconds{90'000}), "1m30s");
  EXPECT_EQ(formatDuration(milliseconds{3'600'000}), "1h");
  for (int64_t ms : {1, 999, 1000, 61'000, 3'723'000}) {
    EXPECT_EQ(parseDuration(formatDuration(milliseconds{ms})), milliseconds{ms});
  }
}

}  // namespace
}  // namespace hale
