#include "health_board.h"

#include <gtest/gtest.h>

#include "heartbeat.h"
#include "text.h"

namespace hale::agent {
namespace {

// A check's message goes into heartbeats, /healthz and halectl: whatever a probe or plugin printed, it is
// stored as clean text within the wire limit, cut on a character boundary, so the aggregator's decoder
// never refuses the node's heartbeats for one odd byte.
TEST(HealthBoard, MessagesAreCleanedAndCutOnACharacterBoundary) {
  ConfiguredCheck check;
  check.settings.name = "plugin";
  check.settings.type = "exec";
  HealthBoard board("n1", "eu", {check});
  std::string euros;
  for (int i = 0; i < 100; ++i) euros += "\xe2\x82\xac";  // 300 bytes, 3 per character
  board.record(0, CheckResult{Outcome::pass, "line one\nline two\t\x1b[31mred\xff", DbRole::none, ""},
               std::chrono::microseconds{10}, SteadyTime{});
  EXPECT_EQ(board.snapshot()->checks[0].message, "line one line two  [31mred\xef\xbf\xbd");
  board.record(0, CheckResult{Outcome::pass, euros, DbRole::none, ""}, std::chrono::microseconds{10}, SteadyTime{});
  const std::string& cut = board.snapshot()->checks[0].message;
  EXPECT_EQ(cut.size(), heartbeat::kMaxMessageBytes / 3 * 3);  // 255: 85 whole characters
  EXPECT_TRUE(isCleanText(cut));
}

}  // namespace
}  // namespace hale::agent
