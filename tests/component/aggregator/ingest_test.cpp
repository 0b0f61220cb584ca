// Heartbeat ingest end to end: a real ZeroMQ connection into an in-process engine; hand-built frames for
// every rejection path, and real hale-agent processes.

#include <gtest/gtest.h>

#include <zmq.hpp>

#include <fstream>

#include "engine.h"
#include "heartbeat_codec.h"
#include "http_client.h"
#include "ports.h"
#include "process.h"
#include "stderr_capture.h"
#include "temp_dir.h"

namespace hale::aggregator {
namespace {

using std::chrono::milliseconds;
using test::occurrences;
using test::readFile;
using test::waitFor;

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    endpoint_ = "tcp://127.0.0.1:" + std::to_string(test::freeLoopbackPort());
    engine_ = makeEngine(endpoint_, "agg");
    ASSERT_TRUE(engine_);
    pub_.set(zmq::sockopt::linger, 0);
    pub_.connect(endpoint_);
    // PUB drops messages until the connection is up: send until the first one is counted.
    ASSERT_TRUE(waitFor(
        [&] {
          send(frame("eu-2", "eu", "warmup", ++warm_seq_));
          return engine_->ingestCounters().accepted.load() > 0;
        },
        milliseconds{5000}, milliseconds{20}));
    // Warm-up frames still in flight are counted before any test reads a baseline.
    std::this_thread::sleep_for(milliseconds{300});
  }

  // An engine listening on `endpoint`, its socket and journal named after `name`; nullptr (and a test
  // failure) when it cannot start.
  std::unique_ptr<Engine> makeEngine(const std::string& endpoint, const std::string& name) {
    auto config = parseAggregatorConfig(
        "coordination = \"none\"\ninsecure = true\nlisten = [\"" + endpoint + "\"]\ncontrol_socket = \"" + dir_.path() +
            "/" + name + ".sock\"\njournal = \"" + dir_.path() + "/" + name +
            ".db\"\n"
            "[http]\nlisten = \"127.0.0.1\"\nport = 0\n"
            "[[region]]\nname = \"eu\"\nrole = \"active\"\nnodes = [\"eu-1\", \"eu-2\"]\n"
            "[[region]]\nname = \"us\"\naccept_any_node = true\n"
            "[[action]]\nname = \"page\"\ntype = \"record\"\npath = \"" +
            dir_.path() + "/alerts\"\nlabel = \"page\"\n[alerts]\nactions = [\"page\"]\n",
        name + ".toml");
    if (!config.ok()) {
      ADD_FAILURE() << config.error().message;
      return nullptr;
    }
    auto engine = std::make_unique<Engine>(std::move(config).value());
    if (auto started = engine->start(); !started.ok()) {
      ADD_FAILURE() << started.error().message;
      return nullptr;
    }
    return engine;
  }

  static std::string frame(const std::string& node, const std::string& region, const std::string& boot, uint64_t seq,
                           int64_t sent_ms = 0, uint8_t fence = 0) {
    heartbeat::Heartbeat hb;
    hb.node_id = node;
    hb.region = region;
    hb.boot_id = boot;
    hb.seq = seq;
    hb.sent_unix_ms = sent_ms != 0 ? sent_ms : toUnixMillis(SystemClock::instance().wallNow());
    hb.status = fence != 0 ? heartbeat::NodeStatus::unhealthy : heartbeat::NodeStatus::healthy;
    hb.fence = fence;
    std::string out;
    heartbeat::encode(hb, out);
    return out;
  }
  void send(const std::string& bytes) { pub_.send(zmq::buffer(bytes), zmq::send_flags::dontwait); }
  uint64_t rejected(IngestReject r) const { return engine_->ingestCounters().rejected[static_cast<size_t>(r)].load(); }
  uint64_t rejected(heartbeat::DecodeError e) const {
    return engine_->ingestCounters().decode_rejected[static_cast<size_t>(e)].load();
  }

  test::TempDir dir_{"ingest"};
  std::string endpoint_;
  std::unique_ptr<Engine> engine_;
  zmq::context_t context_;
  zmq::socket_t pub_{context_, zmq::socket_type::pub};
  uint64_t warm_seq_ = 0;
};

// A node reporting a split brain: journaled, logged as an error, counted per region, and paged once through
// the [alerts] action; its end is journaled too, and pages nobody.
TEST_F(IngestTest, ASplitBrainIsJournaledCountedAndPagedOnce) {
  for (uint64_t seq = 1; seq <= 3; ++seq) send(frame("eu-1", "eu", "sb", seq, 0, 2));
  ASSERT_TRUE(waitFor([&] { return readFile(dir_.path() + "/alerts").find(" page") != std::string::npos; },
                      milliseconds{5000}));
  send(frame("eu-1", "eu", "sb", 4, 0, 0));
  ASSERT_TRUE(waitFor(
      [&] {
        auto j = engine_->journalEvents(100);
        return j.ok() && j.value().dump().find("-split-brain") != std::string::npos;
      },
      milliseconds{5000}));
  const std::string journal = engine_->journalEvents(100).value().dump();
  EXPECT_NE(journal.find("+split-brain"), std::string::npos);
  EXPECT_NE(journal.find("+alert-sent"), std::string::npos) << journal;
  std::this_thread::sleep_for(milliseconds{300});
  const std::string alerts = readFile(dir_.path() + "/alerts");
  EXPECT_EQ(std::count(alerts.begin(), alerts.end(), '\n'), 1) << alerts;                  // one onset, one page
  EXPECT_NE(alerts.find(" page hale/split-brain/eu-1 -\n"), std::string::npos) << alerts;  // alone: no observer
  HttpRequest r;
  r.url = "http://127.0.0.1:" + std::to_string(engine_->httpPort()) + "/metrics";
  const std::string metrics = httpPerform(r).body;
  EXPECT_NE(metrics.find("hale_aggregator_alerts_total{outcome=\"sent\"} 1"), std::string::npos) << metrics;
}

TEST_F(IngestTest, CountsEveryRejectionAndDropsDuplicates) {
  const uint64_t accepted_before = engine_->ingestCounters().accepted.load();
  send(frame("eu-1", "eu", "boot-a", 10));
  send(frame("eu-1", "eu", "boot-a", 10));  // duplicate
  send(frame("eu-1", "eu", "boot-a", 9));   // out of order
  send(frame("eu-1", "eu", "boot-a", 11));
  const int64_t now_ms = toUnixMillis(SystemClock::instance().wallNow());
  send(frame("eu-1", "eu", "boot-old", 1, now_ms - 10'000));         // an older life
  send(frame("eu-1", "eu", "boot-forged", 1, now_ms + 86'400'000));  // tomorrow: never the node's high-water mark
  send(frame("intruder", "eu", "b", 1));                             // eu accepts only its listed nodes
  send(frame("eu-1", "us", "boot-a", 12));                           // eu-1 claiming another region
  send(frame("us-7", "us", "b", 1));                                 // us accepts any node
  std::string valid = frame("eu-1", "eu", "boot-a", 13);
  send(valid.substr(0, valid.size() - 3));   // truncated
  send(valid + "x");                         // trailing bytes
  send(std::string("\xc1", 1));              // not msgpack
  send(std::string("\x93\x01\x02\x03", 4));  // an array, not a map
  send(std::string(heartbeat::kMaxFrameBytes + 100, '\x80'));
  ASSERT_TRUE(waitFor([&] { return rejected(heartbeat::DecodeError::frame_too_large) == 1; }, milliseconds{3000}));

  EXPECT_EQ(engine_->ingestCounters().accepted.load() - accepted_before, 3u);  // eu-1 x2, us-7
  EXPECT_EQ(rejected(IngestReject::duplicate), 1u);
  EXPECT_EQ(rejected(IngestReject::out_of_order), 2u);
  EXPECT_EQ(rejected(IngestReject::clock_skew), 1u);
  EXPECT_EQ(rejected(IngestReject::unknown_node), 1u);
  EXPECT_EQ(rejected(IngestReject::wrong_region), 1u);
  EXPECT_EQ(rejected(heartbeat::DecodeError::truncated), 1u);
  EXPECT_EQ(rejected(heartbeat::DecodeError::trailing_bytes), 1u);
  EXPECT_EQ(rejected(heartbeat::DecodeError::malformed), 1u);
  EXPECT_EQ(rejected(heartbeat::DecodeError::not_a_map), 1u);

  // The same counts on /metrics, one line per reason.
  HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(engine_->httpPort()) + "/metrics";
  const HttpResponse m = httpPerform(req);
  ASSERT_EQ(m.status, 200);
  for (const char* line : {"hale_aggregator_heartbeats_rejected_total{reason=\"duplicate\"} 1",
                           "hale_aggregator_heartbeats_rejected_total{reason=\"out_of_order\"} 2",
                           "hale_aggregator_heartbeats_rejected_total{reason=\"clock_skew\"} 1",
                           "hale_aggregator_heartbeats_rejected_total{reason=\"unknown_node\"} 1",
                           "hale_aggregator_heartbeats_rejected_total{reason=\"wrong_region\"} 1",
                           "hale_aggregator_heartbeats_rejected_total{reason=\"frame_too_large\"} 1",
                           "hale_aggregator_heartbeats_rejected_total{reason=\"missing_key\"} 0"}) {
    EXPECT_NE(m.body.find(line), std::string::npos) << line;
  }
  // The node a region accepts on sight is tracked; the intruder is not.
  const auto nodes = engine_->nodes("");
  std::vector<std::string> ids;
  for (const auto& n : nodes) ids.push_back(n["node"]);
  EXPECT_EQ(ids, (std::vector<std::string>{"eu-1", "eu-2", "us-7"}));
}

TEST_F(IngestTest, RealAgentsBecomeHealthyNodes) {
  std::vector<std::unique_ptr<test::ChildProcess>> agents;
  for (const char* node : {"eu-1", "eu-2"}) {
    const std::string cfg = dir_.writeFile(std::string(node) + ".toml",
                                           "node = \"" + std::string(node) +
                                               "\"\nregion = \"eu\"\nheartbeat_interval = \"200ms\"\n"
                                               "insecure = true\naggregators = [\"" +
                                               endpoint_ + "\"]\ncontrol_socket = \"" + dir_.path() + "/" + node +
                                               ".sock\"\n[http]\nlisten = \"127.0.0.1\"\nport = 0\n"
                                               "[[check]]\nname = \"ok\"\ntype = \"exec\"\ncommand = [\"/bin/true\"]\n"
                                               "interval = \"200ms\"\ntimeout = \"150ms\"\n");
    agents.push_back(std::make_unique<test::ChildProcess>(
        test::SpawnOptions{.argv = {HALE_AGENT_BIN, "--config", cfg}, .log_path = dir_.path() + "/" + node + ".log"}));
  }
  ASSERT_TRUE(waitFor(
      [&] {
        for (const auto& n : engine_->nodes("eu")) {
          if (n["health"] != "healthy" || n["last_heard_ms"].get<int64_t>() > 500) return false;
        }
        return true;
      },
      milliseconds{5000}))
      << engine_->nodes("eu").dump();
  const uint64_t before = engine_->ingestCounters().accepted.load();
  std::this_thread::sleep_for(milliseconds{1000});
  EXPECT_GE(engine_->ingestCounters().accepted.load() - before, 8u);  // 2 agents x 5/s
  EXPECT_EQ(rejected(IngestReject::duplicate), 0u);
  EXPECT_EQ(engine_->regions()[0]["verdict"], "up");
}

// #17 item 4: one agent publishing to two live aggregators reaches both, and a configuration reload
// (SIGHUP) keeps its boot id and sequence: neither aggregator refuses a frame after it (no duplicate,
// out-of-order or restart), and both keep the node healthy without a gap.
TEST_F(IngestTest, OneAgentFeedsTwoLiveAggregatorsAndAReloadKeepsItsSequence) {
  const std::string endpoint2 = "tcp://127.0.0.1:" + std::to_string(test::freeLoopbackPort());
  auto second = makeEngine(endpoint2, "agg2");
  ASSERT_TRUE(second);
  const auto agentConfig = [&](const std::string& interval) {
    return "node = \"eu-1\"\nregion = \"eu\"\nheartbeat_interval = \"" + interval +
           "\"\ninsecure = true\naggregators = [\"" + endpoint_ + "\", \"" + endpoint2 + "\"]\ncontrol_socket = \"" +
           dir_.path() +
           "/eu-1.sock\"\n[http]\nlisten = \"127.0.0.1\"\nport = 0\n"
           "[[check]]\nname = \"ok\"\ntype = \"exec\"\ncommand = [\"/bin/true\"]\ninterval = \"200ms\"\ntimeout = "
           "\"150ms\"\n";
  };
  const std::string cfg = dir_.writeFile("eu-1.toml", agentConfig("200ms"));
  test::ChildProcess agent(
      test::SpawnOptions{.argv = {HALE_AGENT_BIN, "--config", cfg}, .log_path = dir_.path() + "/eu-1.log"});
  const auto healthyOn = [](const Engine& e) {
    for (const auto& n : e.nodes("eu")) {
      // Heard within four intervals: a loaded machine delays some, a silent node would pass this at once.
      if (n["node"] == "eu-1") return n["health"] == "healthy" && n["last_heard_ms"].get<int64_t>() <= 1000;
    }
    return false;
  };
  ASSERT_TRUE(waitFor([&] { return healthyOn(*engine_) && healthyOn(*second); }, milliseconds{5000}))
      << engine_->nodes("eu").dump() << second->nodes("eu").dump();
  const auto refusals = [](const Engine& e) {
    uint64_t n = 0;
    for (const auto& r : e.ingestCounters().rejected) n += r.load();
    return n;
  };
  const uint64_t refused1 = refusals(*engine_);
  const uint64_t refused2 = refusals(*second);

  dir_.writeFile("eu-1.toml", agentConfig("250ms"));  // a real change, so the reload does something
  ::kill(agent.pid(), SIGHUP);
  ASSERT_TRUE(
      waitFor([&] { return agent.logTail().find("+config-reloaded") != std::string::npos; }, milliseconds{3000}))
      << agent.logTail();
  const uint64_t accepted1 = engine_->ingestCounters().accepted.load();
  const uint64_t accepted2 = second->ingestCounters().accepted.load();
  for (int i = 0; i < 10; ++i) {
    std::this_thread::sleep_for(milliseconds{150});
    EXPECT_TRUE(healthyOn(*engine_)) << engine_->nodes("eu").dump();
    EXPECT_TRUE(healthyOn(*second)) << second->nodes("eu").dump();
  }
  EXPECT_GT(engine_->ingestCounters().accepted.load(), accepted1);
  EXPECT_GT(second->ingestCounters().accepted.load(), accepted2);
  EXPECT_EQ(refusals(*engine_), refused1) << "a frame after the reload was refused";
  EXPECT_EQ(refusals(*second), refused2) << "a frame after the reload was refused";
  second->stop();
}

// #15 item 2: a sender refused for who it says it is (a mistyped node name, a node naming the wrong region)
// is logged by name, once a minute per sender and 10 lines a minute in all, and listed by
// `nodes --unknown` (bounded, newest first) instead of only a counter moving. Failed before: nothing was
// logged and no command named the sender.
TEST_F(IngestTest, RefusedSendersAreLoggedByNameOnceAndListed) {
  const std::string log = dir_.path() + "/stderr.log";
  {
    test::StderrToFile capture(log);
    for (uint64_t i = 1; i <= 20; ++i) send(frame("eu-9", "eu", "b", i));  // mistyped: eu lists eu-1, eu-2
    for (uint64_t i = 1; i <= 5; ++i) send(frame("eu-1", "us", "w", i));   // listed in eu, says us
    for (int i = 0; i < 100; ++i) send(frame("made-up-" + std::to_string(i), "eu", "b", 1));
    ASSERT_TRUE(waitFor(
        [&] { return rejected(IngestReject::unknown_node) == 120 && rejected(IngestReject::wrong_region) == 5; },
        milliseconds{5000}))
        << rejected(IngestReject::unknown_node) << " " << rejected(IngestReject::wrong_region);
  }
  const std::string text = readFile(log);
  EXPECT_EQ(occurrences(text, "-heartbeat-unknown-node node \"eu-9\" (region eu) is in no region's nodes"), 1u) << text;
  EXPECT_EQ(occurrences(text, "-heartbeat-wrong-region node eu-1 says it is in region us but is listed in eu"), 1u)
      << text;
  EXPECT_LE(occurrences(text, "-heartbeat-unknown-node") + occurrences(text, "-heartbeat-wrong-region"), 10u)
      << "10 lines a minute in all, however many names are made up";

  const nlohmann::json senders = engine_->unknownSenders();
  ASSERT_TRUE(senders.is_array());
  EXPECT_EQ(senders.size(), RejectedSenders::kMaxSenders) << "102 senders, the listing bounded";
}

// Before a flood, the listing names each refused sender with its reason and frame count.
TEST_F(IngestTest, NodesUnknownNamesEachRefusedSender) {
  for (uint64_t i = 1; i <= 20; ++i) send(frame("eu-9", "eu", "b", i));
  for (uint64_t i = 1; i <= 5; ++i) send(frame("eu-1", "us", "w", i));
  ASSERT_TRUE(
      waitFor([&] { return rejected(IngestReject::unknown_node) == 20 && rejected(IngestReject::wrong_region) == 5; },
              milliseconds{5000}));
  const nlohmann::json senders = engine_->unknownSenders();
  ASSERT_EQ(senders.size(), 2u) << senders.dump();
  for (const auto& s : senders) {
    if (s["node"] == "eu-9") {
      EXPECT_EQ(s["region"], "eu");
      EXPECT_EQ(s["reason"], "unknown_node");
      EXPECT_EQ(s["frames"], 20);
    } else {
      EXPECT_EQ(s["node"], "eu-1");
      EXPECT_EQ(s["region"], "us");
      EXPECT_EQ(s["reason"], "wrong_region");
      EXPECT_EQ(s["frames"], 5);
    }
  }
}

}  // namespace
}  // namespace hale::aggregator
