#include "agent_config.h"

#include <gtest/gtest.h>

#include "temp_dir.h"

namespace hale::agent {
namespace {

constexpr const char* kHead = "region = \"eu\"\n";

// The error text of a config that must not load.
std::string errorsOf(const std::string& body) {
  auto c = parseAgentConfig(std::string(kHead) + body, "agent.toml");
  EXPECT_FALSE(c.ok()) << body;
  return c.ok() ? "" : c.error().message;
}

TEST(AgentConfig, LoadsEveryCheckType) {
  test::TempDir dir("agentcfg");
  const std::string pw = dir.writeFile("pw", "secret\n", 0600);
  const std::string ak = dir.writeFile("ak", "AKIAEXAMPLE", 0600);
  const std::string sk = dir.writeFile("sk", "example-secret", 0600);
  auto c = parseAgentConfig(
      std::string(kHead) +
          "node = \"n1\"\nheartbeat_interval = \"500ms\"\n"
          "insecure = true\naggregators = [\"tcp://127.0.0.1:7450\", \"ipc:///run/hale/agg\"]\n"
          "[http]\nlisten = \"127.0.0.1\"\nport = 0\n"
          "[[check]]\nname = \"pg\"\ntype = \"postgres\"\nconninfo = \"host=127.0.0.1 port=5\"\n"
          "password_file = \"" +
          pw +
          "\"\nexpected_role = \"standby\"\nmax_lag = \"5s\"\n"
          "[[check]]\nname = \"my\"\ntype = \"mysql\"\nuser = \"u\"\npassword_file = \"" +
          pw +
          "\"\n"
          "[[check]]\nname = \"ddb\"\ntype = \"dynamodb\"\nregion = \"eu-west-1\"\ntable = \"t\"\n"
          "access_key_file = \"" +
          ak + "\"\nsecret_key_file = \"" + sk +
          "\"\n"
          "mode = \"item\"\nmax_age = \"1m\"\n"
          "[[check]]\nname = \"web\"\ntype = \"http\"\nurl = \"http://127.0.0.1:1/\"\nexpect_status = 204\n"
          "[[check]]\nname = \"port\"\ntype = \"tcp\"\nhost = \"localhost\"\nport = 22\ncritical = false\n"
          "[[check]]\nname = \"plugin\"\ntype = \"exec\"\ncommand = [\"true\"]\n"
          "interval = \"10s\"\ntimeout = \"9s\"\nrise = 1\nfall = 5\n",
      "agent.toml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  const AgentConfig& a = c.value();
  EXPECT_EQ(a.node_id, "n1");
  EXPECT_EQ(a.heartbeat_interval, std::chrono::milliseconds{500});
  EXPECT_EQ(a.transport.aggregators.size(), 2u);
  EXPECT_TRUE(a.transport.keys.secret_key.empty());  // insecure: plaintext
  EXPECT_EQ(a.http_port, 0);
  ASSERT_EQ(a.checks.size(), 6u);
  EXPECT_EQ(a.checks[4].settings.critical, false);
  EXPECT_EQ(a.checks[5].settings.thresholds.rise, 1u);
  EXPECT_EQ(a.checks[5].settings.thresholds.fall, 5u);
  for (const auto& check : a.checks) EXPECT_NE(check.check, nullptr);
}

constexpr const char* kPg = "[[check]]\nname = \"pg\"\ntype = \"postgres\"\nconninfo = \"host=127.0.0.1 port=5\"\n";
constexpr const char* kEtcd = "[etcd]\nendpoints = [\"http://127.0.0.1:2379\"]\n";

TEST(AgentConfig, LoadsALeaseWithItsDefaults) {
  auto c = parseAgentConfig(std::string(kHead) + kEtcd + kPg + "[check.lease]\ndatabase = \"main\"\n", "agent.toml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  const auto& lease = c.value().checks.at(0).lease;
  ASSERT_TRUE(lease);
  EXPECT_EQ(lease->database, "main");
  EXPECT_EQ(lease->ttl.count(), 3000);
  EXPECT_EQ(lease->margin.count(), 1000);
  EXPECT_EQ(lease->fence_timeout.count(), 1000);
  EXPECT_EQ(c.value().etcd->options.timeout.count(), 1000);
  EXPECT_EQ(c.value().etcd->cluster, "hale");
  // A short lease shortens the default margin and request timeout with it.
  c = parseAgentConfig(std::string(kHead) + kEtcd + kPg + "[check.lease]\ndatabase = \"main\"\nttl = \"1500ms\"\n",
                       "agent.toml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c.value().checks.at(0).lease->margin.count(), 500);
  EXPECT_EQ(c.value().etcd->options.timeout.count(), 500);
}

TEST(AgentConfig, RefusesALeaseThatCouldNotHold) {
  const std::string lease = "[check.lease]\ndatabase = \"main\"\n";
  EXPECT_NE(errorsOf(kPg + lease).find("needs an [etcd] table"), std::string::npos);
  EXPECT_NE(errorsOf(std::string(kEtcd) + kPg + "[check.lease]\ndatabase = \"a/b\"\n").find("database"),
            std::string::npos);
  EXPECT_NE(errorsOf(std::string(kEtcd) + kPg + lease + "margin = \"2s\"\n").find("at most half of ttl"),
            std::string::npos);
  EXPECT_NE(errorsOf(std::string(kEtcd) + kPg + lease + "fence_timeout = \"2s\"\n").find("at most margin"),
            std::string::npos);
  EXPECT_NE(errorsOf(std::string(kEtcd) + kPg + lease + "fence_command = [\"/no/such/fence\"]\n").find("not found"),
            std::string::npos);
  EXPECT_NE(
      errorsOf(std::string(kEtcd) + kPg + lease + "unfence_command = [\"/bin/true\"]\n").find("needs fence_command"),
      std::string::npos);
  EXPECT_NE(errorsOf(std::string(kEtcd) + kPg + lease + "tll = \"3s\"\n").find("unknown key"), std::string::npos);
  EXPECT_NE(errorsOf(std::string(kEtcd) +
                     "[[check]]\nname = \"app\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = 80\n" + lease)
                .find("needs a fence_command"),
            std::string::npos);
  EXPECT_NE(errorsOf(std::string(kEtcd) + kPg + lease +
                     "[[check]]\nname = \"pg2\"\ntype = \"postgres\"\nconninfo = \"host=127.0.0.1 port=6\"\n" + lease)
                .find("already has a lease"),
            std::string::npos);
  EXPECT_NE(errorsOf(std::string(kEtcd) + "timeout = \"2s\"\n" + kPg + lease).find("a third of the shortest"),
            std::string::npos);
}

TEST(AgentConfig, HeartbeatsNeedCurveKeysUnlessInsecure) {
  test::TempDir dir("agentcurve");
  auto mine = curve::generate();
  auto theirs = curve::generate();
  ASSERT_TRUE(mine && theirs);
  const std::string secret = dir.writeFile("agent.key", mine.value().secret_key + "\n", 0600);
  const std::string target =
      "[[aggregator]]\nendpoint = \"tcp://10.0.0.5:7450\"\npublic_key = \"" + theirs.value().public_key + "\"\n";
  auto c =
      parseAgentConfig(std::string(kHead) + "[curve]\nsecret_key_file = \"" + secret + "\"\n" + target, "agent.toml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_FALSE(c.value().insecure);
  EXPECT_EQ(c.value().transport.keys, mine.value());  // the public key is derived from the secret
  ASSERT_EQ(c.value().transport.aggregators.size(), 1u);
  EXPECT_EQ(c.value().transport.aggregators[0].public_key, theirs.value().public_key);

  EXPECT_NE(errorsOf(target).find("curve: heartbeats need this agent's CURVE key"), std::string::npos);
  EXPECT_NE(errorsOf("aggregators = [\"tcp://10.0.0.5:7450\"]\n").find("endpoints alone carry no aggregator key"),
            std::string::npos);
  EXPECT_NE(
      errorsOf("[curve]\nsecret_key_file = \"" + secret + "\"\n[[aggregator]]\nendpoint = \"tcp://10.0.0.5:7450\"\n")
          .find("aggregator[0].public_key: required key is missing"),
      std::string::npos);
  EXPECT_NE(errorsOf("[curve]\nsecret_key_file = \"" + secret +
                     "\"\n[[aggregator]]\nendpoint = \"tcp://10.0.0.5:7450\"\npublic_key = \"short\"\n")
                .find("aggregator[0].public_key: is not a CURVE public key"),
            std::string::npos);
  const std::string garbage = dir.writeFile("garbage.key", "not a key at all\n", 0600);
  EXPECT_NE(
      errorsOf("[curve]\nsecret_key_file = \"" + garbage + "\"\n" + target).find("does not hold a CURVE secret key"),
      std::string::npos);
  const std::string open_key = dir.writeFile("open.key", mine.value().secret_key, 0644);
  EXPECT_NE(errorsOf("[curve]\nsecret_key_file = \"" + open_key + "\"\n" + target).find("readable by every user"),
            std::string::npos);
  // Plaintext is a choice written in the config, never a default.
  auto plain =
      parseAgentConfig(std::string(kHead) + "insecure = true\naggregators = [\"tcp://10.0.0.5:7450\"]\n", "agent.toml");
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_TRUE(plain.value().insecure);
}

TEST(AgentConfig, LogFormatIsTextOrJson) {
  auto text = parseAgentConfig(kHead, "agent.toml");
  ASSERT_TRUE(text.ok()) << text.error().message;
  EXPECT_EQ(text.value().log_format, LogFormat::text);
  auto json = parseAgentConfig(std::string(kHead) + "log_format = \"json\"\n", "agent.toml");
  ASSERT_TRUE(json.ok()) << json.error().message;
  EXPECT_EQ(json.value().log_format, LogFormat::json);
  const std::string errors = errorsOf("log_format = \"xml\"\n");
  EXPECT_NE(errors.find("log_format"), std::string::npos) << errors;
  EXPECT_NE(errors.find("json"), std::string::npos) << "the error names what is allowed: " << errors;
}

TEST(AgentConfig, NodeDefaultsToTheHostName) {
  auto c = parseAgentConfig(kHead, "agent.toml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_FALSE(c.value().node_id.empty());
}

TEST(AgentConfig, RefusesBadCommonSettings) {
  EXPECT_NE(
      errorsOf("[[check]]\nname = \"a\"\ntype = \"tcp\"\nhost = \"h\"\nport = 1\ninterval = \"1s\"\ntimeout = \"1s\"\n")
          .find("agent.toml:8: check[0].timeout: must be shorter than interval"),
      std::string::npos);
  EXPECT_NE(errorsOf("[[check]]\nname = \"a\"\ntype = \"smtp\"\n")
                .find("agent.toml:4: check[0].type: unknown check type \"smtp\""),
            std::string::npos);
  EXPECT_NE(errorsOf("[[check]]\nname = \"a\"\ntype = \"tcp\"\nhost = \"h\"\nport = 1\n"
                     "[[check]]\nname = \"a\"\ntype = \"tcp\"\nhost = \"h\"\nport = 2\n")
                .find("agent.toml:8: check[1].name: duplicate check name \"a\""),
            std::string::npos);
  EXPECT_NE(errorsOf("[[check]]\nname = \"a\"\ntype = \"tcp\"\nhost = \"h\"\nport = 1\nrise = 0\n")
                .find("check[0].rise: must be between 1 and 100"),
            std::string::npos);
  EXPECT_NE(errorsOf("[[check]]\nname = \"a\"\ntype = \"tcp\"\nhost = \"h\"\nport = 1\nprot = 2\n")
                .find("agent.toml:7: check[0].prot: unknown key"),
            std::string::npos);
  EXPECT_NE(
      errorsOf("aggregators = [\"10.0.0.1:7450\"]\n").find("aggregators: \"10.0.0.1:7450\": not a ZeroMQ endpoint"),
      std::string::npos);
  // #15 item 4: what start-up would refuse, refused here with its line.
  EXPECT_NE(errorsOf("aggregators = [\"tcp://256.1.1.1:7450\"]\n").find("\"256.1.1.1\" is not an IPv4 address"),
            std::string::npos);
  EXPECT_NE(errorsOf("aggregators = [\"tcp://agg.example:70000\"]\n").find("the port 70000 is not in 1..65535"),
            std::string::npos);
  EXPECT_NE(
      errorsOf("[http]\nlisten = \"256.1.1.1\"\n").find("http.listen: \"256.1.1.1\" is not an IPv4 or IPv6 address"),
      std::string::npos);
  EXPECT_NE(errorsOf("heartbeat_interval = \"10ms\"\n").find("heartbeat_interval: must be between 100ms and 1m"),
            std::string::npos);
  auto missing_region = parseAgentConfig("node = \"x\"\n", "agent.toml");
  ASSERT_FALSE(missing_region.ok());
  EXPECT_NE(missing_region.error().message.find("agent.toml:1: region: required key is missing"), std::string::npos);
}

TEST(AgentConfig, RefusesBadTypeSpecificSettings) {
  struct Case {
    std::string body;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"type = \"tcp\"\nhost = \"h\"\n", "agent.toml:2: check[0].port: required key is missing"},
      {"type = \"tcp\"\nhost = \"h\"\nport = 70000\n", "check[0].port: must be between 1 and 65535"},
      {"type = \"http\"\nurl = \"ftp://x\"\n", "check[0].url: must start with http:// or https://"},
      {"type = \"http\"\nurl = \"http://x\"\nexpect_status = 99\n",
       "check[0].expect_status: must be between 100 and 599"},
      {"type = \"exec\"\ncommand = []\n", "check[0].command: must name a program"},
      {"type = \"exec\"\ncommand = [\"/nonexistent/plugin\"]\n", "\"/nonexistent/plugin\" is not an executable file"},
      {"type = \"postgres\"\nconninfo = \"host=h password=p\"\n",
       "check[0].conninfo: must not hold a password; use a password file"},
      {"type = \"postgres\"\nconninfo = \"nonsense\"\n", "check[0].conninfo: not a libpq connection string"},
      {"type = \"postgres\"\nconninfo = \"host=h\"\npassword_file = \"/nonexistent/pw\"\n",
       "cannot read secret file /nonexistent/pw"},
      {"type = \"postgres\"\nconninfo = \"host=h\"\nexpected_role = \"leader\"\n",
       "must be one of primary, standby, any"},
      {"type = \"mysql\"\nhost = \"h\"\n", "check[0].user: required key is missing"},
      {"type = \"dynamodb\"\ntable = \"t\"\n", "check[0].region: required key is missing"},
      {"type = \"dynamodb\"\nregion = \"r\"\ntable = \"t\"\nmode = \"item\"\naccess_key_file = "
       "\"/nonexistent/a\"\nsecret_key_file = \"/nonexistent/b\"\n",
       "check[0].max_age: required when mode = \"item\""},
      {"type = \"dynamodb\"\nregion = \"r\"\ntable = \"t\"\naccess_key_file = \"/nonexistent/a\"\n",
       "access_key_file and secret_key_file must be given together"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    const std::string errors = errorsOf("[[check]]\nname = \"c\"\n" + c.body);
    EXPECT_NE(errors.find(c.expected), std::string::npos) << errors;
    EXPECT_NE(errors.find("agent.toml:"), std::string::npos) << errors;
  }
}

TEST(AgentConfig, FileErrorsNameThePath) {
  auto c = loadAgentConfig("/nonexistent/agent.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message, "/nonexistent/agent.toml: cannot open file: No such file or directory");
}

}  // namespace
}  // namespace hale::agent
