#include "aggregator_config.h"

#include <gtest/gtest.h>

namespace hale::aggregator {
namespace {

constexpr const char* kValid = R"(listen = ["tcp://127.0.0.1:7450"]
journal = "/tmp/j.db"
[detection]
suspect_after = "1s"
miss_after = "3s"
[guards]
dry_run = true
approval = "manual"
min_failover_interval = "5m"
failback = "auto"
failback_after = "20m"
[[region]]
name = "eu"
role = "active"
nodes = ["eu-1", "eu-2"]
min_healthy = 2
[[region]]
name = "us"
priority = 5
accept_any_node = true
[[action]]
name = "mark"
type = "record"
path = "/tmp/r"
timeout = "5s"
attempts = 4
backoff = "250ms"
[[action]]
name = "hook"
type = "webhook"
url = "http://127.0.0.1:9/x"
format = "slack"
[[plan]]
from = "eu"
to = "us"
steps = ["mark", "hook"]
)";

std::string errorsOf(const std::string& text) {
  auto c = parseAggregatorConfig(text, "agg.toml");
  EXPECT_FALSE(c.ok());
  return c.ok() ? "" : c.error().message;
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

TEST(AggregatorConfig, LoadsAFullConfig) {
  auto c = parseAggregatorConfig(kValid, "agg.toml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  const AggregatorConfig& a = c.value();
  EXPECT_EQ(a.policy.home_region, "eu");
  EXPECT_TRUE(a.policy.dry_run);
  EXPECT_TRUE(a.policy.manual_approval);
  EXPECT_TRUE(a.policy.auto_failback);
  EXPECT_EQ(a.policy.min_failover_interval, std::chrono::minutes{5});
  EXPECT_EQ(a.observer.detection.miss_after, std::chrono::seconds{3});
  ASSERT_EQ(a.regions.size(), 2u);
  EXPECT_TRUE(a.regions[1].accept_any_node);
  EXPECT_EQ(a.observer.regions[1].priority, 5);
  EXPECT_EQ(a.actions.at("mark").policy.attempts, 4);
  EXPECT_EQ(a.actions.at("mark").policy.backoff, std::chrono::milliseconds{250});
  ASSERT_EQ(a.plans.size(), 1u);
  EXPECT_EQ(a.plans[0].steps, (std::vector<std::string>{"mark", "hook"}));
  EXPECT_EQ(a.policy.plans, (std::vector<std::pair<std::string, std::string>>{{"eu", "us"}}));
}

TEST(AggregatorConfig, CrossReferencesAreChecked) {
  EXPECT_NE(errorsOf(replaced(kValid, "steps = [\"mark\", \"hook\"]", "steps = [\"mark\", \"fence\"]"))
                .find("agg.toml:36: plan[0].steps: no action named \"fence\""),
            std::string::npos);
  EXPECT_NE(errorsOf(replaced(kValid, "to = \"us\"", "to = \"ap\"")).find("plan[0].to: unknown region \"ap\""),
            std::string::npos);
  EXPECT_NE(
      errorsOf(replaced(kValid, "role = \"active\"\n", "")).find("exactly one region must have role = \"active\""),
      std::string::npos);
  EXPECT_NE(errorsOf(replaced(kValid, "nodes = [\"eu-1\", \"eu-2\"]", "nodes = [\"eu-1\", \"eu-1\"]"))
                .find("node \"eu-1\" is listed twice"),
            std::string::npos);
  EXPECT_NE(errorsOf(replaced(kValid, "min_healthy = 2", "min_healthy = 3")).find("the region could never be up"),
            std::string::npos);
  EXPECT_NE(errorsOf(replaced(kValid, "accept_any_node = true\n", "")).find("region[1].nodes: list the region's nodes"),
            std::string::npos);
}

TEST(AggregatorConfig, BadValuesNameFileLineAndKey) {
  EXPECT_NE(errorsOf(replaced(kValid, "approval = \"manual\"", "approval = \"maybe\""))
                .find("agg.toml:8: guards.approval: must be one of auto, manual"),
            std::string::npos);
  EXPECT_NE(errorsOf(replaced(kValid, "miss_after = \"3s\"", "miss_after = \"500ms\""))
                .find("detection.suspect_after: must be shorter than miss_after"),
            std::string::npos);
  EXPECT_NE(errorsOf(replaced(kValid, "type = \"record\"", "type = \"carrier-pigeon\""))
                .find("action[0].type: unknown action type"),
            std::string::npos);
  EXPECT_NE(errorsOf(replaced(kValid, "path = \"/tmp/r\"\n", "")).find("action[0].path: required key is missing"),
            std::string::npos);
  EXPECT_NE(errorsOf(replaced(kValid, "format = \"slack\"", "format = \"slack\"\nchannel = \"#ops\""))
                .find("action[1].channel: unknown key"),
            std::string::npos);
  EXPECT_NE(errorsOf("journal = \"x\"\n").find("listen: required key is missing"), std::string::npos);
}

}  // namespace
}  // namespace hale::aggregator
