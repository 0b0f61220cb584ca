// The example configurations shipped in packaging/ pass the daemons' own --check-config, so what an
// operator copies is valid as written. The only edits: the two scripts the aggregator's example names
// (operator-provided, under /usr/local/sbin) point at stand-ins here, and the agent's DynamoDB check gets
// AWS credentials from the environment, as it would on a node.

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "process.h"
#include "temp_dir.h"

namespace hale {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void replaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

test::CommandResult checkConfig(const std::string& binary, const std::string& config,
                                std::vector<std::string> env = {}) {
  return test::runCommand(
      test::SpawnOptions{.argv = {binary, "--check-config", "--config", config}, .env = std::move(env)},
      std::chrono::seconds{10});
}

TEST(ShippedConfigs, TheAggregatorExamplePassesCheckConfig) {
  test::TempDir dir("shipped");
  std::string text = slurp(HALE_SOURCE_DIR "/packaging/aggregator.toml");
  ASSERT_FALSE(text.empty());
  for (const char* script : {"/usr/local/sbin/fence-region", "/usr/local/sbin/promote-db"}) {
    ASSERT_NE(text.find(script), std::string::npos) << script;
    const std::string name = std::string(script).substr(std::string(script).rfind('/') + 1);
    replaceAll(text, script, dir.writeFile(name, "#!/bin/sh\nexit 0\n", 0755));
  }
  const std::string config = dir.writeFile("aggregator.toml", text);
  const test::CommandResult r = checkConfig(HALE_AGGREGATOR_BIN, config);
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(ShippedConfigs, TheAgentExamplePassesCheckConfig) {
  const test::CommandResult r = checkConfig(HALE_AGENT_BIN, HALE_SOURCE_DIR "/packaging/agent.toml",
                                            {"AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=example"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

// The check is not a rubber stamp: the same example with a plan step naming no action fails it.
TEST(ShippedConfigs, CheckConfigRefusesABrokenCopy) {
  test::TempDir dir("shipped");
  std::string text = slurp(HALE_SOURCE_DIR "/packaging/aggregator.toml");
  replaceAll(text, "steps = [\"", "steps = [\"no-such-action\", \"");
  const test::CommandResult r = checkConfig(HALE_AGGREGATOR_BIN, dir.writeFile("aggregator.toml", text));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("no action named \"no-such-action\""), std::string::npos) << r.output;
}

}  // namespace
}  // namespace hale
