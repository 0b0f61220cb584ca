#include "aggregator_config.h"

#include <gtest/gtest.h>

#include "temp_dir.h"

namespace hale::aggregator {
namespace {

constexpr const char* kValid = R"(coordination = "none"
insecure = true
listen = ["tcp://127.0.0.1:7450"]
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

// The region rule's knobs: fail_over_below and database_check, off by default.
TEST(AggregatorConfig, RegionRuleKnobs) {
  auto plain = parseAggregatorConfig(kValid, "agg.toml");
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(plain.value().observer.regions[0].params.fail_over_below, 0u);
  EXPECT_EQ(plain.value().observer.regions[0].params.database_check, "");
  auto set = parseAggregatorConfig(
      replaced(kValid, "min_healthy = 2", "min_healthy = 2\nfail_over_below = 2\ndatabase_check = \"db\""), "agg.toml");
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set.value().observer.regions[0].params.fail_over_below, 2u);
  EXPECT_EQ(set.value().observer.regions[0].params.database_check, "db");
  EXPECT_NE(errorsOf(replaced(kValid, "min_healthy = 2", "min_healthy = 2\nfail_over_below = 3"))
                .find("would always be down"),
            std::string::npos);
  EXPECT_NE(errorsOf(replaced(kValid, "min_healthy = 2", "min_healthy = 1\nfail_over_below = 2"))
                .find("is more than min_healthy (1)"),
            std::string::npos);
  EXPECT_NE(errorsOf(replaced(kValid, "min_healthy = 2", "database_check = \"\"")).find("must name a check"),
            std::string::npos);
}

TEST(AggregatorConfig, CrossReferencesAreChecked) {
  EXPECT_NE(errorsOf(replaced(kValid, "steps = [\"mark\", \"hook\"]", "steps = [\"mark\", \"fence\"]"))
                .find("agg.toml:38: plan[0].steps: no action named \"fence\""),
            std::string::npos);
  EXPECT_NE(errorsOf(replaced(kValid, "steps = [\"mark\", \"hook\"]", "steps = [\"mark\"]\non_failure = [\"pager\"]"))
                .find("plan[0].on_failure: no action named \"pager\""),
            std::string::npos);
  auto with_on_failure = parseAggregatorConfig(
      replaced(kValid, "steps = [\"mark\", \"hook\"]", "steps = [\"mark\"]\non_failure = [\"hook\"]"), "agg.toml");
  ASSERT_TRUE(with_on_failure) << with_on_failure.error().message;
  EXPECT_EQ(with_on_failure.value().plans[0].on_failure, std::vector<std::string>{"hook"});
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

// #15 item 4: --check-config catches what start-up would fail on, and names a cause once.
TEST(AggregatorConfig, LogFormatIsTextOrJson) {
  auto text = parseAggregatorConfig(kValid, "agg.toml");
  ASSERT_TRUE(text.ok()) << text.error().message;
  EXPECT_EQ(text.value().log_format, LogFormat::text);
  auto json = parseAggregatorConfig("log_format = \"json\"\n" + std::string(kValid), "agg.toml");
  ASSERT_TRUE(json.ok()) << json.error().message;
  EXPECT_EQ(json.value().log_format, LogFormat::json);
  const std::string errors = errorsOf("log_format = \"syslog\"\n" + std::string(kValid));
  EXPECT_NE(errors.find("log_format"), std::string::npos) << errors;
}

TEST(AggregatorConfig, AddressesAreCheckedAsStartUpWould) {
  for (const char* bad : {"tcp://256.0.0.1:7450", "tcp://127.0.0.1", "tcp://127.0.0.1:70000", "tcp://[::1x]:7450",
                          "udp://127.0.0.1:7450", "tcp://127.0.0.1:port"}) {
    const std::string errors = errorsOf(replaced(kValid, "tcp://127.0.0.1:7450", bad));
    EXPECT_NE(errors.find("listen: \"" + std::string(bad) + "\": "), std::string::npos) << errors;
  }
  for (const char* good :
       {"tcp://*:7450", "tcp://[::1]:7450", "tcp://eth0:7450", "tcp://127.0.0.1:*", "ipc:///run/x"}) {
    EXPECT_TRUE(parseAggregatorConfig(replaced(kValid, "tcp://127.0.0.1:7450", good), "agg.toml").ok()) << good;
  }
  EXPECT_NE(errorsOf(std::string(kValid) + "[http]\nlisten = \"999.1.1.1\"\n")
                .find("http.listen: \"999.1.1.1\" is not an IPv4 or IPv6 address"),
            std::string::npos);
}

TEST(AggregatorConfig, AnActionWithErrorsIsNotAlsoReportedMissingWhereItIsNamed) {
  const std::string errors = errorsOf(replaced(kValid, "path = \"/tmp/r\"\n", ""));
  EXPECT_NE(errors.find("action[0].path: required key is missing"), std::string::npos) << errors;
  EXPECT_EQ(errors.find("no action named"), std::string::npos) << errors;
  // A name nothing declares is still reported.
  EXPECT_NE(errorsOf(replaced(kValid, "steps = [\"mark\", \"hook\"]", "steps = [\"mark\", \"fence\"]"))
                .find("no action named \"fence\""),
            std::string::npos);
}

TEST(AggregatorConfig, BadValuesNameFileLineAndKey) {
  EXPECT_NE(errorsOf(replaced(kValid, "approval = \"manual\"", "approval = \"maybe\""))
                .find("agg.toml:10: guards.approval: must be one of auto, manual"),
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

TEST(AggregatorConfig, CoordinationMustBeChosenExplicitly) {
  const std::string errors = errorsOf(replaced(kValid, "coordination = \"none\"\n", ""));
  EXPECT_NE(errors.find("agg.toml:1: coordination: required: \"none\" (this aggregator decides alone, and a path cut"),
            std::string::npos)
      << errors;
  EXPECT_NE(errorsOf(replaced(kValid, "coordination = \"none\"", "coordination = \"zookeeper\""))
                .find("coordination: must be one of none, etcd"),
            std::string::npos);
  auto c = parseAggregatorConfig(kValid, "agg.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c.value().coordination.mode, CoordinationConfig::Mode::none);
}

// kValid with CurveZMQ instead of insecure = true: the server key from `secret`, agent keys as given.
std::string withCurve(const std::string& secret, const std::string& agent_keys) {
  return replaced(kValid, "insecure = true\n", "") + "[curve]\nsecret_key_file = \"" + secret + "\"\n[agent_keys]\n" +
         agent_keys;
}

TEST(AggregatorConfig, HeartbeatsNeedCurveKeysUnlessInsecure) {
  test::TempDir dir("aggcurve");
  auto server = curve::generate();
  auto a1 = curve::generate();
  auto a2 = curve::generate();
  ASSERT_TRUE(server && a1 && a2);
  const std::string secret = dir.writeFile("aggregator.key", server.value().secret_key + "\n", 0600);
  const std::string k1 = a1.value().public_key;
  const std::string k2 = a2.value().public_key;
  auto c = parseAggregatorConfig(withCurve(secret, "eu-1 = \"" + k1 + "\"\n\"eu-2\" = \"" + k2 + "\"\n"), "agg.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_FALSE(c.value().ingest.insecure);
  EXPECT_EQ(c.value().ingest.server, server.value());
  EXPECT_EQ(c.value().ingest.agent_keys.at("eu-1"), k1);
  EXPECT_EQ(c.value().ingest.agent_keys.size(), 2u);
  EXPECT_EQ(c.value().ingest.max_clock_skew.count(), 30000);
  EXPECT_EQ(c.value().ingest.max_restarts_per_minute, 6);

  // Plaintext is never the default.
  const std::string none = errorsOf(replaced(kValid, "insecure = true\n", ""));
  EXPECT_NE(none.find("curve: heartbeats need CurveZMQ"), std::string::npos) << none;
  EXPECT_NE(none.find("agent_keys: list each agent's public key"), std::string::npos) << none;
  // A listed node without a key could never be heard; a key can speak for one node only.
  EXPECT_NE(errorsOf(withCurve(secret, "eu-1 = \"" + k1 + "\"\n")).find("node \"eu-2\" (region eu) has no key"),
            std::string::npos);
  EXPECT_NE(errorsOf(withCurve(secret, "eu-1 = \"" + k1 + "\"\neu-2 = \"" + k1 + "\"\n"))
                .find("agent_keys.eu-2: is also the key of node \"eu-1\""),
            std::string::npos);
  EXPECT_NE(errorsOf(withCurve(secret, "eu-1 = \"" + k1 + "\"\neu-2 = \"not-a-key\"\n"))
                .find("agent_keys.eu-2: is not a CURVE public key"),
            std::string::npos);
  EXPECT_NE(errorsOf(withCurve(secret, "eu-1 = \"" + k1 + "\"\neu-2 = \"" + server.value().public_key + "\"\n"))
                .find("is the aggregator's own public key"),
            std::string::npos);
  // us accepts any node, so a key for a node no region lists may come with it; when no region does, it is a typo.
  const std::string extra =
      "eu-1 = \"" + k1 + "\"\neu-2 = \"" + k2 + "\"\nus-9 = \"" + curve::generate().value().public_key + "\"\n";
  EXPECT_TRUE(parseAggregatorConfig(withCurve(secret, extra), "agg.toml"));
  const std::string closed = replaced(withCurve(secret, extra), "accept_any_node = true", "nodes = [\"us-1\"]");
  EXPECT_NE(errorsOf(closed).find("\"us-9\" is not a node of any region"), std::string::npos) << errorsOf(closed);
  const std::string open_secret = dir.writeFile("open.key", server.value().secret_key + "\n", 0644);
  EXPECT_NE(errorsOf(withCurve(open_secret, "eu-1 = \"" + k1 + "\"\neu-2 = \"" + k2 + "\"\n"))
                .find("curve.secret_key_file: secret file " + open_secret + " is readable by every user"),
            std::string::npos);
  EXPECT_NE(errorsOf(replaced(kValid, "insecure = true\n", "insecure = true\n[ingest]\nmax_clock_skew = \"10ms\"\n"))
                .find("ingest.max_clock_skew: must be between"),
            std::string::npos);
}

constexpr const char* kEtcd = R"(
[etcd]
endpoints = ["http://127.0.0.1:2379", "https://etcd-2:2379"]
cluster = "prod"
name = "eu"
observers = ["eu", "us", "witness"]
lease_ttl = "4s"
publish_interval = "200ms"
verdict_fresh = "1s"
ca_file = "/etc/hale/etcd-ca.pem"
cert_file = "/etc/hale/etcd.pem"
key_file = "/etc/hale/etcd.key"
username = "hale"
password_file = "etcd-password"
)";

TEST(AggregatorConfig, EtcdCoordination) {
  auto c =
      parseAggregatorConfig(replaced(kValid, "coordination = \"none\"", "coordination = \"etcd\"") + kEtcd, "agg.toml");
  ASSERT_TRUE(c) << c.error().message;
  const CoordinationConfig& k = c.value().coordination;
  EXPECT_EQ(k.mode, CoordinationConfig::Mode::etcd);
  EXPECT_EQ(k.cluster, "prod");
  EXPECT_EQ(k.name, "eu");
  EXPECT_EQ(k.quorum.observers.size(), 3u);
  EXPECT_EQ(k.quorum.needed(), 2u);
  EXPECT_EQ(k.store.endpoints.size(), 2u);
  EXPECT_EQ(k.lease_ttl, std::chrono::seconds{4});
  EXPECT_EQ(k.publish_interval, std::chrono::milliseconds{200});
  EXPECT_EQ(k.quorum.fresh_within, std::chrono::seconds{1});
  EXPECT_EQ(k.store.username, "hale");
  EXPECT_EQ(k.password_file, "etcd-password");
  EXPECT_TRUE(k.store.password.empty());  // read from the file at start, never from config text
}

// A promotion's lease lives in etcd: it needs etcd coordination, and a valid database name.
TEST(AggregatorConfig, APromotionLeaseNeedsEtcd) {
  const std::string promote =
      "[[action]]\nname = \"promote\"\ntype = \"postgres_promote\"\nstandby = \"host=127.0.0.1 port=5\"\n";
  EXPECT_NE(errorsOf(kValid + promote + "lease = \"main\"\n").find("needs coordination = \"etcd\""), std::string::npos);
  EXPECT_NE(errorsOf(kValid + promote + "lease_node = \"db-1\"\n").find("lease_node: needs lease"), std::string::npos);
  const std::string etcd = replaced(kValid, "coordination = \"none\"", "coordination = \"etcd\"") + kEtcd;
  EXPECT_NE(errorsOf(etcd + promote + "lease = \"a b\"\n").find("letters, digits"), std::string::npos);
  auto c = parseAggregatorConfig(etcd + promote + "lease = \"main\"\nlease_node = \"db-1\"\n", "agg.toml");
  ASSERT_FALSE(c.ok());  // the [etcd] password_file of kEtcd does not exist here: named, not ignored
  EXPECT_NE(c.error().message.find("etcd-password"), std::string::npos) << c.error().message;
}

TEST(AggregatorConfig, AlertsNameKnownActionsAndEvents) {
  auto c = parseAggregatorConfig(std::string(kValid) + "[alerts]\nactions = [\"hook\"]\n", "agg.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c.value().alerts.alerts("+split-brain"));  // the default event
  EXPECT_FALSE(c.value().alerts.alerts("+node-failed"));
  EXPECT_NE(errorsOf(std::string(kValid) + "[alerts]\nactions = [\"pager\"]\n").find("no action named \"pager\""),
            std::string::npos);
  EXPECT_NE(errorsOf(std::string(kValid) + "[alerts]\nactions = [\"hook\"]\nevents = [\"split-brain\"]\n")
                .find("is not an event name"),
            std::string::npos);
  EXPECT_NE(errorsOf(std::string(kValid) + "[alerts]\nactoins = [\"hook\"]\n").find("unknown key"), std::string::npos);
}

TEST(AggregatorConfig, EtcdCoordinationErrors) {
  const std::string etcd = replaced(kValid, "coordination = \"none\"", "coordination = \"etcd\"");
  EXPECT_NE(errorsOf(etcd).find("etcd: coordination = \"etcd\" needs an [etcd] table"), std::string::npos);
  EXPECT_NE(errorsOf(kValid + std::string(kEtcd)).find("etcd.endpoints: an [etcd] table needs coordination"),
            std::string::npos);
  EXPECT_NE(errorsOf(etcd + replaced(kEtcd, "name = \"eu\"", "name = \"ap\""))
                .find("etcd.observers: must list this aggregator's own name \"ap\""),
            std::string::npos);
  EXPECT_NE(errorsOf(etcd + replaced(kEtcd, "name = \"eu\"", "name = \"eu\"\nquorum = 1"))
                .find("etcd.quorum: must be a strict majority"),
            std::string::npos);
  EXPECT_NE(errorsOf(etcd + replaced(kEtcd, "name = \"eu\"", "name = \"eu\"\nquorum = 4"))
                .find("etcd.quorum: is more than the 3 observers"),
            std::string::npos);
  EXPECT_NE(errorsOf(etcd + replaced(kEtcd, "verdict_fresh = \"1s\"", "verdict_fresh = \"300ms\""))
                .find("etcd.verdict_fresh: must be at least twice publish_interval"),
            std::string::npos);
  EXPECT_NE(errorsOf(etcd + replaced(kEtcd, "publish_interval = \"200ms\"", "publish_interval = \"2s\""))
                .find("etcd.publish_interval: must be at most a quarter of lease_ttl"),
            std::string::npos);
  EXPECT_NE(errorsOf(etcd + replaced(kEtcd, "lease_ttl = \"4s\"", "lease_ttl = \"4s\"\ntimeout = \"2s\""))
                .find("etcd.timeout: must be at most a third of lease_ttl"),
            std::string::npos);
  EXPECT_NE(errorsOf(etcd + replaced(kEtcd, "\"http://127.0.0.1:2379\"", "\"127.0.0.1:2379\""))
                .find("etcd.endpoints: \"127.0.0.1:2379\" is not an http:// or https:// URL"),
            std::string::npos);
  EXPECT_NE(errorsOf(etcd + replaced(kEtcd, "key_file = \"/etc/hale/etcd.key\"\n", ""))
                .find("etcd.cert_file: cert_file and key_file go together"),
            std::string::npos);
  EXPECT_NE(errorsOf(etcd + replaced(kEtcd, "observers = [\"eu\", \"us\", \"witness\"]",
                                     "observers = [\"eu\", \"us\", \"us\"]"))
                .find("etcd.observers: observer \"us\" is listed twice"),
            std::string::npos);
}

}  // namespace
}  // namespace hale::aggregator
