// The example configurations shipped in packaging/ pass the daemons' own --check-config, so what an
// operator copies is valid as written. The only edits: the two scripts the aggregator's example names
// (operator-provided, under /usr/local/sbin) point at stand-ins here, the CURVE secret key files are made
// here with `halectl keygen` as the example's comments say, the placeholders for the other side's public
// keys ("<app-eu-1's agent.pub>") get keys made the same way, and the agent's DynamoDB check gets AWS
// credentials from the environment, as it would on a node. As shipped, the placeholders fail the check: a
// copied example never runs with keys whose secrets nobody has.

#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "process.h"
#include "temp_dir.h"

namespace hale {
namespace {

void replaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

// Makes a keypair with halectl keygen in `dir` as README's set-up does (the secret given to the daemon's
// group, here nogroup: the hale group may not exist on a test machine) and points the example's secret key
// file at it; the daemons then accept a group-readable secret.
void useFreshKey(const test::TempDir& dir, std::string& text, const std::string& shipped_path) {
  ASSERT_NE(text.find(shipped_path), std::string::npos) << shipped_path;
  const std::string base = dir.path() + "/" + shipped_path.substr(shipped_path.rfind('/') + 1, std::string::npos);
  const std::string stem = base.substr(0, base.size() - 4);  // without ".key"
  const test::CommandResult made = test::runCommand(
      test::SpawnOptions{.argv = {HALECTL_BIN, "keygen", stem, "--group", "nogroup"}}, std::chrono::seconds{10});
  ASSERT_EQ(made.exit_code, 0) << made.output;
  replaceAll(text, shipped_path, stem + ".key");
}

// Replaces every "<NAME's FILE.pub>" placeholder with the public key of a keypair made for NAME.
void fillPublicKeys(const test::TempDir& dir, std::string& text) {
  static const std::regex kPlaceholder("<([a-z0-9-]+)'s (agent|aggregator)\\.pub>");
  std::smatch m;
  while (std::regex_search(text, m, kPlaceholder)) {
    const std::string stem = dir.path() + "/" + m[1].str() + "-peer";
    const test::CommandResult made =
        test::runCommand(test::SpawnOptions{.argv = {HALECTL_BIN, "keygen", stem}}, std::chrono::seconds{10});
    ASSERT_EQ(made.exit_code, 0) << made.output;
    std::string key = test::readFile(stem + ".pub");
    key.erase(key.find_last_not_of('\n') + 1);
    text.replace(static_cast<size_t>(m.position(0)), static_cast<size_t>(m.length(0)), key);
  }
}

test::CommandResult checkConfig(const std::string& binary, const std::string& config,
                                std::vector<std::string> env = {}) {
  return test::runCommand(
      test::SpawnOptions{.argv = {binary, "--check-config", "--config", config}, .env = std::move(env)},
      std::chrono::seconds{10});
}

// keygen --group: the secret 0640 and owned by that group (the daemon's user can read it, nobody else);
// without it 0600; an unknown group is a usage error before anything is written.
TEST(ShippedConfigs, KeygenGivesTheSecretToTheDaemonsGroupOnly) {
  test::TempDir dir("keygen");
  const auto keygen = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {HALECTL_BIN, "keygen"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return test::runCommand(test::SpawnOptions{.argv = argv}, std::chrono::seconds{10});
  };
  const auto modeAndGroup = [](const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    const struct group* g = ::getgrgid(st.st_gid);
    return std::to_string(st.st_mode & 0777) + " " + (g != nullptr ? g->gr_name : "?");
  };
  const test::CommandResult shared = keygen({dir.path() + "/agent", "--group", "nogroup"});
  ASSERT_EQ(shared.exit_code, 0) << shared.output;
  EXPECT_EQ(modeAndGroup(dir.path() + "/agent.key"), std::to_string(0640) + " nogroup");
  EXPECT_NE(shared.output.find("mode 0640, group nogroup"), std::string::npos) << shared.output;

  const test::CommandResult own = keygen({dir.path() + "/own"});
  ASSERT_EQ(own.exit_code, 0) << own.output;
  EXPECT_EQ(modeAndGroup(dir.path() + "/own.key").substr(0, 4), std::to_string(0600) + " ");

  const test::CommandResult unknown = keygen({dir.path() + "/x", "--group", "no-such-group-here"});
  EXPECT_EQ(unknown.exit_code, 64) << unknown.output;
  EXPECT_NE(unknown.output.find("no group named \"no-such-group-here\""), std::string::npos) << unknown.output;
  EXPECT_NE(::access((dir.path() + "/x.key").c_str(), F_OK), 0) << "a key was written for an unknown group";
}

TEST(ShippedConfigs, TheAggregatorExamplePassesCheckConfig) {
  test::TempDir dir("shipped");
  std::string text = test::readFile(HALE_SOURCE_DIR "/packaging/aggregator.toml");
  ASSERT_FALSE(text.empty());
  for (const char* script : {"/usr/local/sbin/fence-region", "/usr/local/sbin/promote-db"}) {
    ASSERT_NE(text.find(script), std::string::npos) << script;
    const std::string name = std::string(script).substr(std::string(script).rfind('/') + 1);
    replaceAll(text, script, dir.writeFile(name, "#!/bin/sh\nexit 0\n", 0755));
  }
  useFreshKey(dir, text, "/etc/hale/aggregator.key");
  const test::CommandResult as_shipped = checkConfig(HALE_AGGREGATOR_BIN, dir.writeFile("shipped.toml", text));
  EXPECT_EQ(as_shipped.exit_code, 2) << as_shipped.output;
  EXPECT_NE(as_shipped.output.find("agent_keys.app-eu-1: is not a CURVE public key"), std::string::npos)
      << as_shipped.output;
  fillPublicKeys(dir, text);
  const std::string config = dir.writeFile("aggregator.toml", text);
  const test::CommandResult r = checkConfig(HALE_AGGREGATOR_BIN, config);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("insecure"), std::string::npos) << r.output;  // the example is not plaintext
}

TEST(ShippedConfigs, TheAgentExamplePassesCheckConfig) {
  test::TempDir dir("shipped");
  std::string text = test::readFile(HALE_SOURCE_DIR "/packaging/agent.toml");
  useFreshKey(dir, text, "/etc/hale/agent.key");
  fillPublicKeys(dir, text);
  const test::CommandResult r = checkConfig(HALE_AGENT_BIN, dir.writeFile("agent.toml", text),
                                            {"AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=example"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("insecure"), std::string::npos) << r.output;
}

// The check is not a rubber stamp: the same example with a plan step naming no action fails it.
TEST(ShippedConfigs, CheckConfigRefusesABrokenCopy) {
  test::TempDir dir("shipped");
  std::string text = test::readFile(HALE_SOURCE_DIR "/packaging/aggregator.toml");
  useFreshKey(dir, text, "/etc/hale/aggregator.key");
  fillPublicKeys(dir, text);
  replaceAll(text, "steps = [\"", "steps = [\"no-such-action\", \"");
  const test::CommandResult r = checkConfig(HALE_AGGREGATOR_BIN, dir.writeFile("aggregator.toml", text));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("no action named \"no-such-action\""), std::string::npos) << r.output;
}

}  // namespace
}  // namespace hale
