#include "config_reader.h"

#include <gtest/gtest.h>

#include <fstream>

#include "temp_dir.h"

namespace hale {
namespace {

// A schema shaped like the agent's, enough to drive every getter.
struct Sample {
  std::string node;
  int64_t port = 8080;
  bool verbose = false;
  double ratio = 0.5;
  std::chrono::milliseconds interval{1000};
  std::vector<std::string> endpoints;
  std::vector<int64_t> ids;
  struct Check {
    std::string name;
    std::string type;
    std::chrono::milliseconds interval{5000};
    std::chrono::milliseconds timeout{1000};
  };
  std::vector<Check> checks;
};

// Reads `text` as Sample; returns the errors.
ConfigErrors readSample(std::string_view text, Sample& out) {
  ConfigErrors errors;
  auto doc = ConfigDocument::parse(text, "agent.toml");
  if (!doc) {
    errors.add(ConfigIssue{"", 0, "", doc.error().message});
    return errors;
  }
  ConfigTable root = doc.value().root(errors);
  root.get("node", out.node, Presence::required);
  root.get("port", out.port, Presence::optional, 1, 65535);
  root.get("verbose", out.verbose);
  root.get("ratio", out.ratio);
  root.getDuration("interval", out.interval, Presence::optional, std::chrono::milliseconds{100},
                   std::chrono::minutes{5});
  root.get("endpoints", out.endpoints);
  root.get("ids", out.ids, Presence::optional, 1, 999);
  for (ConfigTable& t : root.tables("checks")) {
    Sample::Check c;
    t.get("name", c.name, Presence::required);
    t.getEnum("type", c.type, {"http", "tcp"}, Presence::required);
    t.getDuration("interval", c.interval, Presence::optional, std::chrono::milliseconds{100}, std::chrono::hours{1});
    t.getDuration("timeout", c.timeout, Presence::optional, std::chrono::milliseconds{10}, std::chrono::hours{1});
    if (c.timeout >= c.interval) t.error("timeout", "must be shorter than interval");
    t.finish();
    out.checks.push_back(c);
  }
  if (auto http = root.table("http")) {
    std::string listen;
    http->get("listen", listen);
    http->finish();
  }
  root.finish();
  return errors;
}

// The single error of `text`, formatted.
std::string onlyError(std::string_view text) {
  Sample s;
  const ConfigErrors errors = readSample(text, s);
  EXPECT_EQ(errors.issues().size(), 1u) << errors.format();
  return errors.empty() ? "" : errors.issues()[0].format();
}

TEST(ConfigReader, ReadsAValidDocument) {
  Sample s;
  const ConfigErrors errors = readSample(R"(
node = "app-1"
port = 9100
verbose = true
ratio = 2
interval = "1m30s"
endpoints = ["tcp://a:5555", "tcp://b:5555"]

[http]
listen = "127.0.0.1"

[[checks]]
name = "web"
type = "http"
interval = "2s"
timeout = "500ms"
)",
                                         s);
  ASSERT_TRUE(errors.empty()) << errors.format();
  EXPECT_EQ(s.node, "app-1");
  EXPECT_EQ(s.port, 9100);
  EXPECT_TRUE(s.verbose);
  EXPECT_DOUBLE_EQ(s.ratio, 2.0);
  EXPECT_EQ(s.interval, std::chrono::seconds{90});
  EXPECT_EQ(s.endpoints, (std::vector<std::string>{"tcp://a:5555", "tcp://b:5555"}));
  ASSERT_EQ(s.checks.size(), 1u);
  EXPECT_EQ(s.checks[0].timeout, std::chrono::milliseconds{500});
}

TEST(ConfigReader, SyntaxErrorNamesFileAndLine) {
  auto doc = ConfigDocument::parse("node = \"a\"\nport = = 3\n", "agent.toml");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.error().code, "syntax");
  EXPECT_EQ(doc.error().message.rfind("agent.toml:2: syntax error", 0), 0u) << doc.error().message;
}

TEST(ConfigReader, UnreadableFileNamesThePath) {
  auto doc = ConfigDocument::loadFile("/nonexistent/hale.toml");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.error().message, "/nonexistent/hale.toml: cannot open file: No such file or directory");
}

// #15 item 4: a directory is said to be one, not read as an empty file (which then lacked every key).
TEST(ConfigReader, ADirectoryIsNotAnEmptyFile) {
  test::TempDir dir("config");
  auto doc = ConfigDocument::loadFile(dir.path());
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.error().message, dir.path() + ": is a directory, not a file");
}

TEST(ConfigReader, LoadsFromAFile) {
  test::TempDir dir("config");
  const std::string path = dir.path() + "/agent.toml";
  std::ofstream(path) << "node = \"n\"\nbogus = 1\n";
  auto doc = ConfigDocument::loadFile(path);
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  ConfigErrors errors;
  ConfigTable root = doc.value().root(errors);
  std::string node;
  EXPECT_TRUE(root.get("node", node, Presence::required));
  root.finish();
  ASSERT_EQ(errors.issues().size(), 1u);
  EXPECT_EQ(errors.issues()[0].format(), path + ":2: bogus: unknown key");
}

TEST(ConfigReader, MissingRequiredKey) {
  EXPECT_EQ(onlyError("port = 1\n"), "agent.toml:1: node: required key is missing");
  EXPECT_EQ(onlyError("node = \"a\"\n\n[[checks]]\ntype = \"tcp\"\n"),
            "agent.toml:3: checks[0].name: required key is missing");
}

TEST(ConfigReader, WrongType) {
  EXPECT_EQ(onlyError("node = 5\n"), "agent.toml:1: node: expected a string, got an integer");
  EXPECT_EQ(onlyError("node = \"a\"\nverbose = \"yes\"\n"), "agent.toml:2: verbose: expected a boolean, got a string");
  EXPECT_EQ(onlyError("node = \"a\"\nratio = \"x\"\n"), "agent.toml:2: ratio: expected a number, got a string");
  EXPECT_EQ(onlyError("node = \"a\"\nport = 1.5\n"), "agent.toml:2: port: expected an integer, got a float");
  EXPECT_EQ(onlyError("node = \"a\"\nendpoints = \"x\"\n"),
            "agent.toml:2: endpoints: expected an array of strings, got a string");
  EXPECT_EQ(onlyError("node = \"a\"\nendpoints = [\"x\",\n  3]\n"),
            "agent.toml:3: endpoints[1]: expected a string, got an integer");
  EXPECT_EQ(onlyError("node = \"a\"\nhttp = 1\n"), "agent.toml:2: http: expected a table, got an integer");
  EXPECT_EQ(onlyError("node = \"a\"\nchecks = 1\n"),
            "agent.toml:2: checks: expected an array of tables ([[checks]]), got an integer");
  EXPECT_EQ(onlyError("node = \"a\"\nchecks = [1]\n"), "agent.toml:2: checks[0]: expected a table, got an integer");
  EXPECT_EQ(onlyError("node = \"a\"\ninterval = 5\n"),
            "agent.toml:2: interval: expected a duration string such as \"5s\" or \"250ms\", got an integer");
}

TEST(ConfigReader, ValueOutOfRange) {
  EXPECT_EQ(onlyError("node = \"a\"\nport = 70000\n"), "agent.toml:2: port: must be between 1 and 65535, got 70000");
  EXPECT_EQ(onlyError("node = \"a\"\ninterval = \"2h\"\n"),
            "agent.toml:2: interval: must be between 100ms and 5m, got 2h");
}

TEST(ConfigReader, IntegerArrays) {
  Sample s;
  EXPECT_TRUE(readSample("node = \"a\"\nids = [3, 1]\n", s).empty());
  EXPECT_EQ(s.ids, (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(onlyError("node = \"a\"\nids = [3, 1000]\n"), "agent.toml:2: ids[1]: must be between 1 and 999");
  EXPECT_EQ(onlyError("node = \"a\"\nids = [3, \"x\"]\n"), "agent.toml:2: ids[1]: expected an integer, got a string");
  EXPECT_EQ(onlyError("node = \"a\"\nids = 3\n"), "agent.toml:2: ids: expected an array of integers, got an integer");
}

TEST(ConfigReader, InvalidDuration) {
  EXPECT_EQ(onlyError("node = \"a\"\ninterval = \"5\"\n"),
            "agent.toml:2: interval: invalid duration \"5\" (use a number and a unit: ms, s, m, h)");
}

TEST(ConfigReader, ValueNotInEnum) {
  EXPECT_EQ(onlyError("node = \"a\"\n[[checks]]\nname = \"c\"\ntype = \"udp\"\n"),
            "agent.toml:4: checks[0].type: must be one of http, tcp, got \"udp\"");
}

TEST(ConfigReader, UnknownKeysAnywhere) {
  EXPECT_EQ(onlyError("node = \"a\"\nnodes = 2\n"), "agent.toml:2: nodes: unknown key");
  EXPECT_EQ(onlyError("node = \"a\"\n[http]\nlisten = \"x\"\nlistne = \"y\"\n"),
            "agent.toml:4: http.listne: unknown key");
  EXPECT_EQ(
      onlyError("node = \"a\"\n[[checks]]\nname = \"a\"\ntype = \"tcp\"\n[[checks]]\nname = \"b\"\ntype = \"tcp\"\n"
                "tmeout = \"1s\"\n"),
      "agent.toml:8: checks[1].tmeout: unknown key");
}

TEST(ConfigReader, CrossFieldRuleNamesTheKey) {
  EXPECT_EQ(onlyError("node = \"a\"\n[[checks]]\nname = \"c\"\ntype = \"tcp\"\ninterval = \"1s\"\ntimeout = \"2s\"\n"),
            "agent.toml:6: checks[0].timeout: must be shorter than interval");
}

TEST(ConfigReader, CollectsEveryErrorAtOnce) {
  Sample s;
  const ConfigErrors errors = readSample("port = 0\nverbose = 1\nextra = true\n[[checks]]\ntype = \"x\"\n", s);
  const std::string text = errors.format();
  EXPECT_EQ(errors.issues().size(), 6u) << text;
  for (const char* expected :
       {"agent.toml:1: node: required key is missing", "agent.toml:1: port: must be between",
        "agent.toml:2: verbose: expected a boolean", "agent.toml:3: extra: unknown key",
        "agent.toml:4: checks[0].name: required key is missing", "agent.toml:5: checks[0].type: must be one of"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\nin:\n" << text;
  }
}

}  // namespace
}  // namespace hale
