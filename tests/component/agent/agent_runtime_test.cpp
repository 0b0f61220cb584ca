// The agent as a whole, in process: real checks, the real HTTP port, real heartbeats over ZeroMQ.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <iostream>
#include <regex>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "agent.h"
#include "heartbeat_cadence.h"
#include "heartbeat_codec.h"
#include "http_client.h"
#include "metrics_check.h"
#include "ports.h"
#include "postgres_pair.h"
#include "process.h"
#include "temp_dir.h"

namespace hale::agent {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// A TCP listener the test opens and closes to drive a tcp check.
using Listener = hale::test::LoopbackListener;

AgentConfig configFrom(const std::string& text) {
  auto c = parseAgentConfig(text, "agent.toml");
  if (!c) ADD_FAILURE() << c.error().message;
  return c.ok() ? std::move(c).value() : AgentConfig{};
}

std::string baseConfig(const hale::test::TempDir& dir, const std::string& extra = "") {
  return "node = \"n1\"\nregion = \"eu\"\ncontrol_socket = \"" + dir.path() + "/agent.sock\"\n" + extra +
         "\n[http]\nlisten = \"127.0.0.1\"\nport = 0\n";
}

long healthz(const Agent& agent, std::string* body = nullptr) {
  HttpRequest r;
  r.url = "http://127.0.0.1:" + std::to_string(agent.httpPort()) + "/healthz";
  const HttpResponse resp = httpPerform(r);
  if (body != nullptr) *body = resp.body;
  return resp.status;
}

// #15 item 5: the agent's /metrics read by promtool and by the grouping rule, with a check name that
// needs escaping in a label.
TEST(AgentRuntime, MetricsPassPromtoolAndKeepEachFamilyTogether) {
  hale::test::TempDir dir("rt");
  Listener app;
  Agent agent;
  ASSERT_TRUE(agent
                  .start(configFrom(baseConfig(dir) +
                                    "[[check]]\nname = 'app \"main\" \\ 1'\ntype = \"tcp\"\n"
                                    "host = \"127.0.0.1\"\nport = " +
                                    std::to_string(app.port()) + "\ninterval = \"100ms\"\ntimeout = \"80ms\"\n"))
                  .ok());
  ASSERT_TRUE(hale::test::waitFor([&] { return healthz(agent) == 200; }, milliseconds{3000}));
  HttpRequest r;
  r.url = "http://127.0.0.1:" + std::to_string(agent.httpPort()) + "/metrics";
  const HttpResponse resp = httpPerform(r);
  ASSERT_EQ(resp.status, 200);
  EXPECT_EQ(hale::test::promtoolCheck(resp.body), "");
  EXPECT_EQ(hale::test::familiesGrouped(resp.body), "");
  EXPECT_NE(resp.body.find("check=\"app \\\"main\\\" \\\\ 1\""), std::string::npos) << resp.body;
  EXPECT_NE(resp.body.find("\nhale_agent_build_info{version=\""), std::string::npos);
  // The shipped alert rules and dashboard ask only for families the agent exports (#15 item 7).
  size_t asked = 0;
  for (const char* file : {"/packaging/prometheus/hale.rules.yml", "/packaging/grafana/hale.json"}) {
    const std::string text = hale::test::readFile(std::string(HALE_SOURCE_DIR) + file);
    const std::regex name("hale_agent_[a-z_]+");
    for (auto m = std::sregex_iterator(text.begin(), text.end(), name); m != std::sregex_iterator(); ++m, ++asked) {
      EXPECT_NE(resp.body.find("# TYPE " + m->str() + " "), std::string::npos) << m->str() << " is not exported";
    }
  }
  EXPECT_GE(asked, 3u);
  agent.stop();
}

TEST(AgentRuntime, HealthzFlipsWithRiseAndFallHonoured) {
  hale::test::TempDir dir("rt");
  Listener app;
  Agent agent;
  ASSERT_TRUE(agent
                  .start(configFrom(
                      baseConfig(dir) + "[[check]]\nname = \"app\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = " +
                      std::to_string(app.port()) + "\ninterval = \"150ms\"\ntimeout = \"100ms\"\nrise = 3\nfall = 2\n"))
                  .ok());
  ASSERT_TRUE(hale::test::waitFor([&] { return healthz(agent) == 200; }, milliseconds{3000}));
  std::string body;
  healthz(agent, &body);
  EXPECT_EQ(nlohmann::json::parse(body)["checks"][0]["status"], "pass");

  // Down: the first error leaves the check passing; the second (fall = 2) fails it.
  app.close();
  bool saw_one_error_while_passing = false;
  ASSERT_TRUE(hale::test::waitFor(
      [&] {
        const auto s = agent.snapshot();
        const CheckView& c = s->checks[0];
        if (c.state.consecutive_bad == 1 && c.state.status == CheckStatus::pass) saw_one_error_while_passing = true;
        if (c.state.status == CheckStatus::fail) {
          EXPECT_EQ(c.state.consecutive_bad, 2u);
          return true;
        }
        return false;
      },
      milliseconds{3000}, milliseconds{5}));
  EXPECT_TRUE(saw_one_error_while_passing);
  EXPECT_EQ(healthz(agent, &body), 503);
  EXPECT_EQ(nlohmann::json::parse(body)["status"], "unhealthy");

  // Up again: passing only after rise = 3 good runs in a row.
  app.open();
  int max_passes_while_failing = 0;
  ASSERT_TRUE(hale::test::waitFor(
      [&] {
        const auto s = agent.snapshot();
        const CheckView& c = s->checks[0];
        if (c.state.status == CheckStatus::fail)
          max_passes_while_failing = std::max<int>(max_passes_while_failing, c.state.consecutive_pass);
        return c.state.status == CheckStatus::pass;
      },
      milliseconds{3000}, milliseconds{5}));
  EXPECT_EQ(max_passes_while_failing, 2);
  EXPECT_EQ(healthz(agent), 200);
  agent.stop();
}

class HeartbeatSink {
 public:
  HeartbeatSink() : socket_(context_, zmq::socket_type::sub) {
    socket_.set(zmq::sockopt::subscribe, "");
    socket_.bind("tcp://127.0.0.1:0");
    endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
  }
  const std::string& endpoint() const { return endpoint_; }
  // The next heartbeat within `timeout`, decoded with the common decoder, and when it arrived.
  bool next(heartbeat::Heartbeat& hb, Clock::time_point& at, milliseconds timeout) {
    socket_.set(zmq::sockopt::rcvtimeo, static_cast<int>(timeout.count()));
    zmq::message_t msg;
    if (!socket_.recv(msg)) return false;
    at = Clock::now();
    const auto r = decoder_.decode(std::string_view(static_cast<const char*>(msg.data()), msg.size()), hb);
    EXPECT_TRUE(r.ok()) << heartbeat::decodeErrorName(r.error);
    return r.ok();
  }

 private:
  zmq::context_t context_;
  zmq::socket_t socket_;
  std::string endpoint_;
  heartbeat::Decoder decoder_;
};

// The timing rule itself is heartbeat_cadence_test's, over injected instants. Here, through a real socket,
// only what a loaded machine cannot change: the agent's own send stamps, sequence numbers, and a change
// that overtakes a tick seconds away.
std::string tcpCheck(uint16_t port) {
  return "[[check]]\nname = \"app\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = " + std::to_string(port) +
         "\ninterval = \"100ms\"\ntimeout = \"80ms\"\nfall = 1\n";
}

std::string publishingTo(const HeartbeatSink& sink, const std::string& interval) {
  return "heartbeat_interval = \"" + interval + "\"\ninsecure = true\naggregators = [\"" + sink.endpoint() + "\"]";
}

// The first heartbeat carrying the one check's first passing result. The heartbeats before it, and the
// change one that carries it, come sooner than the interval by design.
bool firstHealthy(HeartbeatSink& sink, heartbeat::Heartbeat& hb, Clock::time_point& at, milliseconds within) {
  return hale::test::waitFor(
      [&] {
        return sink.next(hb, at, within) && hb.status == heartbeat::NodeStatus::healthy && hb.checks.size() == 1 &&
               hb.checks[0].status == heartbeat::CheckStatus::pass;
      },
      within, milliseconds{0});
}

TEST(AgentRuntime, HeartbeatsNoSoonerThanTheIntervalWithConsecutiveSequenceNumbers) {
  hale::test::TempDir dir("hb");
  HeartbeatSink sink;
  Listener app;
  Agent agent;
  ASSERT_TRUE(agent.start(configFrom(baseConfig(dir, publishingTo(sink, "200ms")) + tcpCheck(app.port()))).ok());
  heartbeat::Heartbeat hb;
  Clock::time_point at;
  ASSERT_TRUE(firstHealthy(sink, hb, at, milliseconds{10000}));
  EXPECT_EQ(hb.node_id, "n1");
  EXPECT_EQ(hb.region, "eu");
  EXPECT_EQ(hb.boot_id, agent.bootId());
  ASSERT_EQ(hb.checks.size(), 1u);
  EXPECT_EQ(hb.checks[0].name, "app");
  heartbeat::Heartbeat last = hb;
  // A tick can carry that first result before the change's own heartbeat goes out (a slow machine, or
  // an instrumented build, lets the tick in between): then that change heartbeat follows, at least the
  // minimum change gap later, and the cadence counts from it.
  ASSERT_TRUE(sink.next(hb, at, milliseconds{5000})) << "no heartbeat after the first healthy one";
  EXPECT_EQ(hb.seq, last.seq + 1);
  EXPECT_GE(hb.sent_unix_ms - last.sent_unix_ms, HeartbeatCadence::kMinChangeGap.count() - 5);
  last = hb;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(sink.next(hb, at, milliseconds{5000})) << "heartbeat " << i << " never came";
    EXPECT_EQ(hb.seq, last.seq + 1);
    EXPECT_EQ(hb.status, heartbeat::NodeStatus::healthy);
    // Stamped by the agent as it sends: a loaded machine makes a heartbeat late, never early. (The wall
    // clock may be slewed by a millisecond or two.)
    EXPECT_GE(hb.sent_unix_ms - last.sent_unix_ms, 200 - 5) << "heartbeat " << i;
    last = hb;
  }
  agent.stop();
}

TEST(AgentRuntime, AStatusChangeGoesOutAtOnceNotAtTheNextTick) {
  hale::test::TempDir dir("change");
  HeartbeatSink sink;
  Listener app;
  Agent agent;
  // A 10 s interval: a change heartbeat that waited for the tick would come 10 s after the last one.
  ASSERT_TRUE(agent.start(configFrom(baseConfig(dir, publishingTo(sink, "10s")) + tcpCheck(app.port()))).ok());
  heartbeat::Heartbeat hb;
  Clock::time_point at;
  ASSERT_TRUE(firstHealthy(sink, hb, at, milliseconds{15000}));
  // Start-up may send more than one change heartbeat (the check's first results): take the last one
  // before things settle (nothing for 500 ms, far below the 10 s tick), then cause the change.
  heartbeat::Heartbeat healthy = hb;
  for (int i = 0; i < 20 && sink.next(hb, at, milliseconds{500}); ++i) healthy = hb;
  ASSERT_EQ(healthy.status, heartbeat::NodeStatus::healthy);
  app.close();
  ASSERT_TRUE(sink.next(hb, at, milliseconds{12000}));
  EXPECT_EQ(hb.status, heartbeat::NodeStatus::unhealthy);
  EXPECT_EQ(hb.checks[0].status, heartbeat::CheckStatus::fail);
  EXPECT_EQ(hb.seq, healthy.seq + 1) << "a heartbeat went out between the healthy one and the change";
  const int64_t gap = hb.sent_unix_ms - healthy.sent_unix_ms;
  EXPECT_LT(gap, 10000 - 10) << "the change waited for the tick";
  EXPECT_GE(gap, HeartbeatCadence::kMinChangeGap.count() - 5);
  std::cout << "change heartbeat sent " << gap << " ms after the last healthy one\n";
  agent.stop();
}

// /healthz answers from the cache while a probe hangs. What would show it waiting on the probe is an answer
// taking the probe's timeout (2 s here), so the bound is half of that, not a few milliseconds a loaded
// machine can exceed; how fast /healthz is, is the benchmark's to measure.
TEST(AgentRuntime, HungDatabaseFailsAtItsTimeoutWhileHealthzStaysFast) {
  constexpr milliseconds kInterval{3000};
  constexpr milliseconds kTimeout{2000};
  hale::test::TempDir dir("hung");
  hale::test::PostgresPair pg;
  pg.start();
  Agent agent;
  ASSERT_TRUE(
      agent
          .start(configFrom(baseConfig(dir) +
                            "[[check]]\nname = \"db\"\ntype = \"postgres\"\nconninfo = \"host=127.0.0.1 port=" +
                            std::to_string(pg.port(hale::test::PostgresPair::Node::primary)) +
                            " user=postgres dbname=postgres\"\ninterval = \"3s\"\ntimeout = \"2s\"\nfall = 1\n"))
          .ok());
  ASSERT_TRUE(hale::test::waitFor([&] { return healthz(agent) == 200; }, milliseconds{5000}));
  const auto slowestOf = [&](int n) {
    milliseconds slowest{0};
    for (int i = 0; i < n; ++i) {
      const auto t0 = Clock::now();
      healthz(agent);
      slowest = std::max(slowest, std::chrono::duration_cast<milliseconds>(Clock::now() - t0));
    }
    return slowest;
  };
  const milliseconds baseline = slowestOf(20);  // the same machine, nothing hung

  // The whole server stalls (as its host would): the check's kept session hangs too.
  pg.freezeAll(hale::test::PostgresPair::Node::primary);
  const auto frozen_at = Clock::now();
  milliseconds slowest{0};
  int answers = 0;
  bool failed = false;
  while (Clock::now() - frozen_at < milliseconds{15000}) {
    const auto t0 = Clock::now();
    const long status = healthz(agent);
    slowest = std::max(slowest, std::chrono::duration_cast<milliseconds>(Clock::now() - t0));
    ++answers;
    if (status == 503) {
      failed = true;
      break;
    }
    std::this_thread::sleep_for(milliseconds{5});
  }
  const auto failed_after = std::chrono::duration_cast<milliseconds>(Clock::now() - frozen_at);
  pg.thawAll(hale::test::PostgresPair::Node::primary);
  std::cout << "slowest /healthz: " << baseline.count() << " ms before, " << slowest.count() << " ms over " << answers
            << " requests while the check hung; failed " << failed_after.count() << " ms after the freeze\n";
  ASSERT_TRUE(failed) << "the check never failed while the server was frozen";
  // The probe gave up at its own timeout, not by some other error.
  const CheckView check = agent.snapshot()->checks[0];
  EXPECT_NE(check.message.find("timeout"), std::string::npos) << check.message;
  EXPECT_GE(uint64_t{check.latency_us}, static_cast<uint64_t>(std::chrono::microseconds{kTimeout}.count()) * 9 / 10);
  // Within one interval plus the timeout, and far from what waiting on the hung server would take.
  EXPECT_LT(failed_after, kInterval + kTimeout + kTimeout);
  EXPECT_LT(slowest, kTimeout / 2) << "a /healthz waited on the hung probe";
  EXPECT_GT(answers, 10);
  agent.stop();
}

}  // namespace
}  // namespace hale::agent
