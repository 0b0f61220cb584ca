// Nobody can fake a node: an in-process aggregator with CurveZMQ on, real ZeroMQ connections with listed,
// unlisted and wrong keys, a real hale-agent, and a key holder that floods, forges and replays while the
// real agent keeps its node healthy. Labelled `security`.

#include <gtest/gtest.h>

#include <zmq.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <thread>

#include "curve_gate.h"
#include "curve_ring.h"
#include "engine.h"
#include "heartbeat_codec.h"
#include "http_client.h"
#include "ports.h"
#include "process.h"
#include "temp_dir.h"

namespace hale::aggregator {
namespace {

using std::chrono::milliseconds;
using test::waitFor;

std::string heartbeatFrame(const std::string& node, const std::string& boot, uint64_t seq, int64_t sent_ms = 0) {
  heartbeat::Heartbeat hb;
  hb.node_id = node;
  hb.region = node.substr(0, 2);
  hb.boot_id = boot;
  hb.seq = seq;
  hb.sent_unix_ms = sent_ms != 0 ? sent_ms : toUnixMillis(SystemClock::instance().wallNow());
  hb.status = heartbeat::NodeStatus::healthy;
  std::string out;
  heartbeat::encode(hb, out);
  return out;
}

class IngestSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    endpoint_ = "tcp://127.0.0.1:" + std::to_string(test::freeLoopbackPort());
    server_ = test::curveKeys(dir_, "aggregator");
    std::string keys;
    for (const char* node : {"eu-1", "eu-2", "us-1"})
      keys += std::string(node) + " = \"" + test::curveKeys(dir_, node).public_key + "\"\n";
    auto config = parseAggregatorConfig(
        "coordination = \"none\"\nlisten = [\"" + endpoint_ + "\"]\ncontrol_socket = \"" + dir_.path() +
            "/agg.sock\"\njournal = \"" + dir_.path() +
            "/journal.db\"\n"
            "[http]\nlisten = \"127.0.0.1\"\nport = 0\n"
            "[curve]\nsecret_key_file = \"" +
            test::curveSecretFile(dir_, "aggregator") + "\"\n[agent_keys]\n" + keys +
            "[detection]\nsuspect_after = \"1s\"\nmiss_after = \"2s\"\nstartup_grace = \"0s\"\n"
            "[guards]\nmin_failover_interval = \"0s\"\n"
            "[[region]]\nname = \"eu\"\nrole = \"active\"\nnodes = [\"eu-1\", \"eu-2\"]\nmin_healthy = 1\n"
            "[[region]]\nname = \"us\"\nnodes = [\"us-1\"]\n"
            "[[action]]\nname = \"mark\"\ntype = \"record\"\npath = \"" +
            dir_.path() + "/failover\"\n[[plan]]\nfrom = \"eu\"\nto = \"us\"\nsteps = [\"mark\"]\n",
        "agg.toml");
    ASSERT_TRUE(config.ok()) << config.error().message;
    engine_ = std::make_unique<Engine>(std::move(config).value());
    ASSERT_TRUE(engine_->start().ok());
  }
  void TearDown() override {
    for (auto& s : sockets_) s.close();
    if (engine_) engine_->stop();
  }

  // A PUB connection to the aggregator: with `keys` (CURVE) and `server_key`, or plaintext when `keys` is empty.
  zmq::socket_t& connect(const curve::Keypair& keys, const std::string& server_key) {
    zmq::socket_t& s = sockets_.emplace_back(context_, zmq::socket_type::pub);
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::sndhwm, 0);  // queue everything: the flood's count is exact
    if (!keys.secret_key.empty()) {
      s.set(zmq::sockopt::curve_serverkey, server_key);
      s.set(zmq::sockopt::curve_publickey, keys.public_key);
      s.set(zmq::sockopt::curve_secretkey, keys.secret_key);
    }
    s.connect(endpoint_);
    return s;
  }
  static void send(zmq::socket_t& s, const std::string& bytes) { s.send(zmq::buffer(bytes), zmq::send_flags::none); }

  const IngestCounters& counters() const { return engine_->ingestCounters(); }
  uint64_t rejected(IngestReject r) const { return counters().rejected[static_cast<size_t>(r)].load(); }
  uint64_t refused(TransportReject r) const { return counters().transport_rejected[static_cast<size_t>(r)].load(); }
  uint64_t decodeRejected() const {
    uint64_t sum = 0;
    for (const auto& c : counters().decode_rejected) sum += c.load();
    return sum;
  }
  nlohmann::json node(const std::string& id) const {
    for (const auto& n : engine_->nodes("")) {
      if (n["node"] == id) return n;
    }
    return {};
  }
  bool heardWithin(const std::string& id, int64_t ms) const {
    const nlohmann::json n = node(id);
    return n.is_object() && n["health"] == "healthy" && n["last_heard_ms"].get<int64_t>() <= ms;
  }
  // Sends `node`'s heartbeats on `s` until one is accepted (PUB drops until the handshake completes).
  bool warmUp(zmq::socket_t& s, const std::string& node, const std::string& boot, uint64_t& seq) {
    const uint64_t before = counters().accepted.load();
    return waitFor(
        [&] {
          send(s, heartbeatFrame(node, boot, ++seq));
          return counters().accepted.load() > before;
        },
        milliseconds{5000}, milliseconds{20});
  }
  bool anyDecision() const {
    auto j = engine_->journalEvents(1000);
    return !j.ok() || j.value().dump().find("+decision") != std::string::npos;  // unreadable counts as a failure
  }

  test::TempDir dir_{"ingestsec"};
  std::string endpoint_;
  curve::Keypair server_;
  std::unique_ptr<Engine> engine_;
  zmq::context_t context_;
  std::deque<zmq::socket_t> sockets_;
};

TEST_F(IngestSecurityTest, AListedAgentKeyIsHeard) {
  zmq::socket_t& s = connect(test::curveKeys(dir_, "eu-1"), server_.public_key);
  uint64_t seq = 0;
  ASSERT_TRUE(warmUp(s, "eu-1", "boot", seq));
  EXPECT_TRUE(waitFor([&] { return heardWithin("eu-1", 1000); }, milliseconds{3000})) << node("eu-1").dump();
  EXPECT_EQ(refused(TransportReject::unlisted_key), 0u);
  EXPECT_EQ(refused(TransportReject::handshake_failed), 0u);
}

// Three ways in without the right key: none gets a frame through, and each is counted.
TEST_F(IngestSecurityTest, UnlistedWrongAndMissingKeysAreRefusedAndCounted) {
  auto stranger = curve::generate();
  ASSERT_TRUE(stranger);
  auto fake_server = curve::generate();
  ASSERT_TRUE(fake_server);
  zmq::socket_t& unlisted = connect(stranger.value(), server_.public_key);
  zmq::socket_t& wrong_server = connect(test::curveKeys(dir_, "eu-1"), fake_server.value().public_key);
  zmq::socket_t& plaintext = connect({}, "");
  const auto deadline = std::chrono::steady_clock::now() + milliseconds{3000};
  uint64_t seq = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    for (zmq::socket_t* s : {&unlisted, &wrong_server, &plaintext}) send(*s, heartbeatFrame("eu-1", "b", ++seq));
    std::this_thread::sleep_for(milliseconds{20});
  }
  EXPECT_EQ(counters().accepted.load(), 0u);
  EXPECT_FALSE(node("eu-1")["health"] == "healthy") << node("eu-1").dump();
  EXPECT_GE(refused(TransportReject::unlisted_key), 1u);
  EXPECT_GE(refused(TransportReject::handshake_failed), 2u);  // the wrong server key and plaintext, at least once each
  // The same counts on /metrics.
  HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(engine_->httpPort()) + "/metrics";
  const HttpResponse m = httpPerform(req);
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("hale_aggregator_connections_refused_total{reason=\"unlisted_key\"} " +
                        std::to_string(refused(TransportReject::unlisted_key))),
            std::string::npos)
      << m.body;
}

// A port probe, or a client that stops half-way through the greeting, holds a connection 5 s at most
// (handshake_ivl): then it is closed and counted handshake_failed.
TEST_F(IngestSecurityTest, AClientThatNeverFinishesTheHandshakeIsDroppedAfterFiveSeconds) {
  const uint16_t port = static_cast<uint16_t>(std::stoi(endpoint_.substr(endpoint_.rfind(':') + 1)));
  const auto open = [&] {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
    return fd;
  };
  const uint64_t failed_before = refused(TransportReject::handshake_failed);
  const uint64_t disconnects_before = counters().disconnects.load();
  const int silent = open();
  const int half = open();
  // The first bytes of a ZMTP 3 greeting (the signature and major version), then nothing.
  const unsigned char greeting[] = {0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3};
  ASSERT_EQ(::send(half, greeting, sizeof greeting, MSG_NOSIGNAL), static_cast<ssize_t>(sizeof greeting));
  const auto start = std::chrono::steady_clock::now();
  // Closed: a read gives end of file or a reset, after whatever the server sent of its own greeting.
  const auto closedWithin = [&](int fd, milliseconds limit) {
    char buf[256];
    while (std::chrono::steady_clock::now() - start < limit) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    }
    return false;
  };
  EXPECT_TRUE(closedWithin(silent, milliseconds{10'000}));
  EXPECT_TRUE(closedWithin(half, milliseconds{10'000}));
  const auto took = std::chrono::steady_clock::now() - start;
  ::close(silent);
  ::close(half);
  // Not at once (that would be another cause), and near the interval.
  EXPECT_GE(took, milliseconds{4000});
  EXPECT_LT(took, milliseconds{9000});
  EXPECT_TRUE(
      waitFor([&] { return refused(TransportReject::handshake_failed) >= failed_before + 2; }, milliseconds{2000}))
      << refused(TransportReject::handshake_failed) - failed_before;
  // Each counted once, as a refused handshake and not also as a connection closed (its end is paired).
  std::this_thread::sleep_for(milliseconds{300});
  EXPECT_EQ(refused(TransportReject::handshake_failed), failed_before + 2);
  EXPECT_EQ(counters().disconnects.load(), disconnects_before);
}

// Should the ZAP handler be gone while the socket still listens (a bug in the order of a stop), the socket
// admits nobody, not everybody: it enforces the ZAP domain (without that, libzmq lets any CURVE client in).
TEST(CurveGateTest, WithItsHandlerGoneTheSocketAdmitsNoKeyNotEveryKey) {
  test::TempDir dir("zapgone");
  IngestSecurity security;
  security.server = test::curveKeys(dir, "aggregator");
  const curve::Keypair agent = test::curveKeys(dir, "eu-1");
  security.agent_keys = {{"eu-1", agent.public_key}};
  // Whether a frame of the listed key reaches a CURVE socket behind a gate (the gate stopped at once if
  // `handler_gone`), and how many handshakes the socket saw fail and succeed meanwhile. A context each: the
  // ZAP endpoint is the context's.
  struct Heard {
    bool arrived = false;
    int handshakes_failed = 0;
    int handshakes_succeeded = 0;
  };
  const auto heard = [&](bool handler_gone) {
    IngestCounters counters;
    zmq::context_t context;
    zmq::socket_t ingest(context, zmq::socket_type::sub);
    ingest.set(zmq::sockopt::subscribe, "");
    ingest.set(zmq::sockopt::linger, 0);
    CurveGate gate(context, security, counters);
    EXPECT_TRUE(gate.start(ingest).ok());
    if (handler_gone) gate.stop();
    constexpr int kHandshakeEvents = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    EXPECT_EQ(zmq_socket_monitor(ingest.handle(), "inproc://zapgone-monitor", kHandshakeEvents), 0);
    zmq::socket_t monitor(context, zmq::socket_type::pair);
    monitor.set(zmq::sockopt::linger, 0);
    monitor.connect("inproc://zapgone-monitor");
    const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(test::freeLoopbackPort());
    ingest.bind(endpoint);
    zmq::socket_t client(context, zmq::socket_type::pub);
    client.set(zmq::sockopt::linger, 0);
    client.set(zmq::sockopt::curve_serverkey, security.server.public_key);
    client.set(zmq::sockopt::curve_publickey, agent.public_key);
    client.set(zmq::sockopt::curve_secretkey, agent.secret_key);
    client.connect(endpoint);
    const std::string frame = heartbeatFrame("eu-1", "b", 1);
    Heard result;
    zmq::message_t got;
    // A PUB socket drops what it sends before the handshake completes: send until heard. Without the
    // handler, until the socket has refused a handshake of the client's (libzmq fails it and drops the
    // connection; the client reconnects and is refused again), then half a second more, so a frame that
    // would slip in had the chance. 10 s for either on a loaded machine. This monitor replaces the gate's
    // own, so the gate's counters do not count here.
    const auto sendAndWatch = [&] {
      client.send(zmq::buffer(frame), zmq::send_flags::dontwait);
      result.arrived = result.arrived || ingest.recv(got, zmq::recv_flags::dontwait).has_value();
      zmq::message_t event;
      while (monitor.recv(event, zmq::recv_flags::dontwait)) {
        uint16_t id = 0;
        if (event.size() >= sizeof id) std::memcpy(&id, event.data(), sizeof id);
        if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
          ++result.handshakes_succeeded;
        else if (id != 0)
          ++result.handshakes_failed;
        zmq::message_t address;
        (void)monitor.recv(address);  // each event's second frame: the endpoint
      }
      return result.arrived || result.handshakes_failed > 0;
    };
    waitFor(sendAndWatch, milliseconds{10'000}, milliseconds{20});
    if (handler_gone) {
      waitFor([&] { return sendAndWatch() && result.arrived; }, milliseconds{500}, milliseconds{20});
    }
    client.close();
    zmq_socket_monitor(ingest.handle(), nullptr, 0);
    monitor.close();
    ingest.close();
    return result;
  };
  const Heard admitted = heard(false);  // the handler admits the listed key
  EXPECT_TRUE(admitted.arrived);
  EXPECT_EQ(admitted.handshakes_failed, 0);
  const Heard refused = heard(true);
  EXPECT_FALSE(refused.arrived);
  EXPECT_GE(refused.handshakes_failed, 1);
  EXPECT_EQ(refused.handshakes_succeeded, 0);
}

// A listed key speaks for its own node only.
TEST_F(IngestSecurityTest, AKeyNamingAnotherNodeIsImpersonation) {
  zmq::socket_t& eu1 = connect(test::curveKeys(dir_, "eu-1"), server_.public_key);
  uint64_t seq = 0;
  ASSERT_TRUE(warmUp(eu1, "eu-1", "boot", seq));
  for (uint64_t i = 1; i <= 20; ++i) {
    send(eu1, heartbeatFrame("eu-2", "forged", i));
    send(eu1, heartbeatFrame("us-1", "forged", i));
  }
  ASSERT_TRUE(waitFor([&] { return rejected(IngestReject::impersonation) == 40; }, milliseconds{3000}))
      << rejected(IngestReject::impersonation);
  EXPECT_NE(node("eu-2")["health"], "healthy");
  EXPECT_NE(node("us-1")["health"], "healthy");
}

// A real agent holds eu up while the holder of its own key (a compromised node, say) floods the aggregator
// with 100 000 garbage frames, forges a new life sent tomorrow, replays old sequences, jumps the sequence
// and sends oversized frames. Everything is dropped and counted; the node is never locked out; nothing is
// decided.
TEST_F(IngestSecurityTest, FloodsForgeriesAndReplaysNeitherLockANodeOutNorFailOver) {
  const std::string eu1_secret = test::curveSecretFile(dir_, "eu-1");
  const std::string agent_config = dir_.writeFile(
      "eu-1.toml",
      "node = \"eu-1\"\nregion = \"eu\"\nheartbeat_interval = \"200ms\"\ncontrol_socket = \"" + dir_.path() +
          "/eu-1.sock\"\n[http]\nlisten = \"127.0.0.1\"\nport = 0\n[curve]\nsecret_key_file = \"" + eu1_secret +
          "\"\n[[aggregator]]\nendpoint = \"" + endpoint_ + "\"\npublic_key = \"" + server_.public_key +
          "\"\n[[check]]\nname = \"ok\"\ntype = \"exec\"\ncommand = [\"/bin/true\"]\n"
          "interval = \"200ms\"\ntimeout = \"150ms\"\n");
  test::ChildProcess agent(
      test::SpawnOptions{.argv = {HALE_AGENT_BIN, "--config", agent_config}, .log_path = dir_.path() + "/eu-1.log"});
  ASSERT_TRUE(waitFor([&] { return heardWithin("eu-1", 500); }, milliseconds{8000})) << agent.logTail();
  auto agentStatus = [&] {
    return nlohmann::json::parse(
        test::runCommand(test::SpawnOptions{.argv = {HALECTL_BIN, "--socket", dir_.path() + "/eu-1.sock", "raw",
                                                     "status", "--json"}},
                         milliseconds{5000})
            .output,
        nullptr, false);
  };
  nlohmann::json status;
  ASSERT_TRUE(waitFor(
      [&] {
        status = agentStatus();
        return status.is_object() && status["heartbeats_sent"].get<uint64_t>() >= 10;
      },
      milliseconds{5000}));
  const std::string real_boot = status["boot_id"];

  // us stays up throughout, so a locked-out eu-1 would make a failover target-ready decision possible.
  std::atomic<bool> stop_us{false};
  std::thread us([&] {
    zmq::socket_t s(context_, zmq::socket_type::pub);
    const curve::Keypair keys = test::curveKeys(dir_, "us-1");
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::curve_serverkey, server_.public_key);
    s.set(zmq::sockopt::curve_publickey, keys.public_key);
    s.set(zmq::sockopt::curve_secretkey, keys.secret_key);
    s.connect(endpoint_);
    for (uint64_t n = 1; !stop_us.load(); ++n) {
      send(s, heartbeatFrame("us-1", "us-boot", n));
      std::this_thread::sleep_for(milliseconds{100});
    }
  });
  struct Joiner {
    std::atomic<bool>& stop;
    std::thread& t;
    ~Joiner() {
      stop = true;
      t.join();
    }
  } joiner{stop_us, us};
  ASSERT_TRUE(waitFor([&] { return heardWithin("us-1", 500); }, milliseconds{5000}));

  // The attacker replays the live boot id with sequences behind the agent's until one is seen (PUB drops
  // frames until its handshake is done).
  zmq::socket_t& attacker = connect(test::curveKeys(dir_, "eu-1"), server_.public_key);
  const uint64_t behind_before = rejected(IngestReject::out_of_order);
  ASSERT_TRUE(waitFor(
      [&] {
        send(attacker, heartbeatFrame("eu-1", real_boot, 1));
        return rejected(IngestReject::out_of_order) > behind_before;
      },
      milliseconds{5000}, milliseconds{20}));

  const int64_t now_ms = toUnixMillis(SystemClock::instance().wallNow());
  // Replays of sequences the agent has already sent (it has sent at least as many as status said then).
  const uint64_t sent = status["heartbeats_sent"];
  ASSERT_GE(sent, 10u);
  for (uint64_t s = 1; s <= sent; ++s) send(attacker, heartbeatFrame("eu-1", real_boot, s));
  send(attacker, heartbeatFrame("eu-1", "forged-life", 1, now_ms + 86'400'000));            // tomorrow
  send(attacker, heartbeatFrame("eu-1", "forged-life", 2, now_ms - 86'400'000));            // yesterday
  send(attacker, heartbeatFrame("eu-1", real_boot, std::numeric_limits<uint64_t>::max()));  // a sequence jump
  // Authenticated frames with a wrong clock count as liveness (and as skewed), never as a send time later
  // than ours; the real boot id with a huge sequence is refused.
  ASSERT_TRUE(waitFor([&] { return counters().skewed.load() == 2 && rejected(IngestReject::sequence_jump) == 1; },
                      milliseconds{3000}))
      << counters().skewed.load() << " " << rejected(IngestReject::sequence_jump);
  EXPECT_EQ(rejected(IngestReject::clock_skew), 0u);
  EXPECT_TRUE(waitFor([&] { return rejected(IngestReject::out_of_order) + rejected(IngestReject::duplicate) >= sent; },
                      milliseconds{3000}));

  // 100 000 garbage frames, in batches, each batch counted in full before the next (no HWM drop hides any).
  std::mt19937 rng(13);
  const uint64_t garbage_before = decodeRejected();
  const uint64_t accepted_before = counters().accepted.load();
  constexpr int kBatches = 10;
  constexpr int kPerBatch = 10'000;
  std::string junk;
  for (int b = 0; b < kBatches; ++b) {
    for (int i = 0; i < kPerBatch; ++i) {
      junk.resize(1 + rng() % 64);
      for (char& c : junk) c = static_cast<char>(rng());
      send(attacker, junk);
    }
    ASSERT_TRUE(
        waitFor([&] { return decodeRejected() - garbage_before == uint64_t(b + 1) * kPerBatch; }, milliseconds{15000}))
        << "batch " << b << ": " << decodeRejected() - garbage_before;
  }
  // Real heartbeats kept flowing through it all.
  EXPECT_GE(counters().accepted.load() - accepted_before, 1u);
  EXPECT_TRUE(waitFor([&] { return heardWithin("eu-1", 500); }, milliseconds{3000})) << node("eu-1").dump();

  // An oversized frame: ZeroMQ closes that connection rather than deliver it, and the close is counted.
  const uint64_t closed_before = counters().disconnects.load();
  send(attacker, std::string(heartbeat::kMaxFrameBytes * 4, 'x'));
  EXPECT_TRUE(waitFor([&] { return counters().disconnects.load() > closed_before; }, milliseconds{3000}));

  // Nobody was locked out, nothing was decided.
  std::this_thread::sleep_for(milliseconds{2500});  // longer than miss_after
  EXPECT_TRUE(heardWithin("eu-1", 500)) << node("eu-1").dump() << engine_->status().dump() << agent.logTail();
  EXPECT_EQ(engine_->regions()[0]["verdict"], "up");
  EXPECT_FALSE(anyDecision()) << engine_->journalEvents(100).value().dump(1);
  agent.stop(SIGTERM, milliseconds{3000});
}

}  // namespace
}  // namespace hale::aggregator
