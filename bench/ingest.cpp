// Heartbeat ingest end to end: virtual agents send real heartbeat frames (4 checks, fresh seq and time
// each) as fast as a real hale-aggregator takes them, through ZeroMQ publishers with ZMQ_XPUB_NODROP
// (a full queue blocks the sender instead of dropping, so the rate is what the receiver sustains).
// Accepted/s comes from the aggregator's own counter. The baseline, in the same run: the same senders
// and frames into a bare ZeroMQ SUB socket that only counts. Beside each rate, the CPU each side spent
// per frame over the same window, by thread (/proc/<pid>/task/*/stat), and how busy the machine was:
// what bounds the rate. Two cases:
//   plain  N nodes (10 000 by default) over 4 connections, insecure aggregator (accept_any_node);
//   curve  M nodes (200 by default), each its own CurveZMQ connection and key, as real agents are.
// Prints a human summary on stderr and one JSON object on stdout.
//
//   bench_ingest [--nodes N] [--curve-nodes M] [--seconds S]

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "cli_args.h"
#include "curve_ring.h"
#include "hale_processes.h"
#include "heartbeat_codec.h"
#include "ports.h"
#include "proc_cpu.h"
#include "temp_dir.h"
#include "thread_name.h"

namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

struct Link {
  std::string endpoint;
  std::string server_key;  // empty: plaintext
  std::string node;        // the node whose key the connection uses (curve)
};

// The bench's two ZeroMQ contexts name their I/O threads "1/ZMQbg/IO/0" (the senders') and
// "2/ZMQbg/IO/0" (the bare sink's), so each side's CPU can be told apart.
constexpr int kSenderContext = 1;
constexpr int kSinkContext = 2;

zmq::context_t namedContext(int prefix) {
  zmq::context_t context;
  context.set(zmq::ctxopt::thread_name_prefix, prefix);  // before a socket starts the context's threads
  return context;
}

// Sends heartbeats for `nodes` round-robin over `links` until stopped: node i goes over link i % links.
class Blaster {
 public:
  Blaster(const hale::test::TempDir& dir, const std::vector<Link>& links, size_t nodes) : nodes_(nodes) {
    for (const Link& l : links) {
      sockets_.emplace_back(context_, zmq::socket_type::xpub);
      zmq::socket_t& s = sockets_.back();
      s.set(zmq::sockopt::xpub_nodrop, 1);
      s.set(zmq::sockopt::linger, 0);
      if (!l.server_key.empty()) {
        const hale::curve::Keypair keys = hale::test::curveKeys(dir, "agent-" + l.node);  // as AgentProcess names them
        s.set(zmq::sockopt::curve_serverkey, l.server_key);
        s.set(zmq::sockopt::curve_publickey, keys.public_key);
        s.set(zmq::sockopt::curve_secretkey, keys.secret_key);
      }
      s.connect(l.endpoint);
    }
  }
  ~Blaster() { stop(); }

  void start(std::vector<std::string> ids, std::vector<std::string> regions) {
    thread_ = std::thread([this, ids = std::move(ids), regions = std::move(regions)] { run(ids, regions); });
  }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  uint64_t sent() const { return sent_.load(); }

 private:
  void run(const std::vector<std::string>& ids, const std::vector<std::string>& regions) {
    hale::nameThisThread("sender");
    hale::heartbeat::Heartbeat hb;
    hb.boot_id = "bench-boot-0000";
    hb.status = hale::heartbeat::NodeStatus::healthy;
    hb.checks = {{"postgres", hale::heartbeat::CheckStatus::pass, true, 850, ""},
                 {"dynamodb", hale::heartbeat::CheckStatus::pass, true, 12'000, ""},
                 {"http", hale::heartbeat::CheckStatus::pass, true, 400, ""},
                 {"disk", hale::heartbeat::CheckStatus::warn, false, 90, "82% used"}};
    std::string frame;
    uint64_t seq = 1;
    while (!stop_.load(std::memory_order_relaxed)) {
      const int64_t now_ms =
          std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
      for (size_t i = 0; i < nodes_ && !stop_.load(std::memory_order_relaxed); ++i) {
        hb.node_id = ids[i];
        hb.region = regions[i];
        hb.seq = seq;
        hb.sent_unix_ms = now_ms;
        hale::heartbeat::encode(hb, frame);
        zmq::socket_t& s = sockets_[i % sockets_.size()];
        // Blocks while the peer's queue is full (NODROP); a short timeout lets stop() be seen.
        while (!stop_.load(std::memory_order_relaxed)) {
          if (s.send(zmq::buffer(frame), zmq::send_flags::dontwait)) {
            sent_.fetch_add(1, std::memory_order_relaxed);
            break;
          }
          zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLOUT, 0};
          zmq::poll(&item, 1, milliseconds{50});
        }
      }
      ++seq;
    }
  }

  size_t nodes_;
  zmq::context_t context_ = namedContext(kSenderContext);
  std::vector<zmq::socket_t> sockets_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> sent_{0};
  std::thread thread_;
};

// The baseline receiver: a SUB socket that counts frames.
class Sink {
 public:
  explicit Sink(const hale::test::TempDir& dir, bool curve) {
    socket_.set(zmq::sockopt::subscribe, "");
    if (curve) {
      const hale::curve::Keypair keys = hale::test::curveKeys(dir, "bench-sink");
      socket_.set(zmq::sockopt::curve_server, 1);
      socket_.set(zmq::sockopt::curve_secretkey, keys.secret_key);
      server_key_ = keys.public_key;
    }
    const uint16_t port = hale::test::freeLoopbackPort();
    endpoint_ = "tcp://127.0.0.1:" + std::to_string(port);
    socket_.bind(endpoint_);
    thread_ = std::thread([this] {
      hale::nameThisThread("sink");
      zmq::message_t msg;
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      while (!stop_.load()) {
        if (zmq::poll(&item, 1, milliseconds{100}) <= 0) continue;
        while (socket_.recv(msg, zmq::recv_flags::dontwait)) received_.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  ~Sink() {
    stop_ = true;
    thread_.join();
  }
  const std::string& endpoint() const { return endpoint_; }
  const std::string& serverKey() const { return server_key_; }
  uint64_t received() const { return received_.load(); }

 private:
  zmq::context_t context_ = namedContext(kSinkContext);
  zmq::socket_t socket_{context_, zmq::socket_type::sub};
  std::string endpoint_;
  std::string server_key_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> received_{0};
  std::thread thread_;
};

uint64_t acceptedCounter(const hale::test::AggregatorProcess& agg) {
  const std::string text = agg.metrics();
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(R"(\nhale_aggregator_heartbeats_accepted_total ([0-9]+))")))
    throw std::runtime_error("no accepted counter in the aggregator's /metrics");
  return std::stoull(m[1]);
}

// What one case's receiver did over a window: frames a second, and the CPU each thread of the
// processes involved spent meanwhile ("hale-aggregator/ingest", "bench/sender", ...).
struct Window {
  double rate = 0;
  double frames = 0;
  double seconds = 0;
  double machine_busy_cores = 0;
  std::map<std::string, double> cpu_seconds;
};

// The rate of `counter` over `window` after `warmup`, with the CPU of `processes` (name, pid).
template <typename Counter>
Window measure(Counter&& counter, const std::vector<std::pair<std::string, pid_t>>& processes, seconds warmup,
               seconds window) {
  std::this_thread::sleep_for(warmup);
  const auto cpuNow = [&] {
    std::map<std::string, double> all;
    for (const auto& [name, pid] : processes) {
      for (const auto& [thread, s] : hale::bench::cpuByThread(pid)) all[name + "/" + thread] += s;
    }
    return all;
  };
  const std::map<std::string, double> cpu_before = cpuNow();
  const double busy_before = hale::bench::machineBusySeconds();
  const uint64_t before = counter();
  const auto t0 = steady_clock::now();
  std::this_thread::sleep_for(window);
  const uint64_t after = counter();
  Window w;
  w.seconds = std::chrono::duration<double>(steady_clock::now() - t0).count();
  w.machine_busy_cores = (hale::bench::machineBusySeconds() - busy_before) / w.seconds;
  for (const auto& [thread, s] : cpuNow()) {
    const auto it = cpu_before.find(thread);
    const double used = s - (it == cpu_before.end() ? 0 : it->second);
    if (used > 0) w.cpu_seconds[thread] = used;
  }
  w.frames = static_cast<double>(after - before);
  w.rate = w.frames / w.seconds;
  return w;
}

struct Case {
  Window aggregator;  // accepted/s
  Window bare;        // received/s
};

// A window's CPU as JSON, by thread: the share of a core and the microseconds per frame.
json cpuJson(const Window& w) {
  json threads = json::object();
  for (const auto& [thread, s] : w.cpu_seconds) {
    if (s / w.seconds < 0.01) continue;  // under 1 % of a core: not a bound
    threads[thread] = {{"core_share", s / w.seconds}, {"us_per_frame", w.frames > 0 ? s / w.frames * 1e6 : 0}};
  }
  return {{"machine_busy_cores", w.machine_busy_cores}, {"threads", threads}};
}

// The CPU per frame, in microseconds, of the threads whose names start with one of `prefixes`.
double cpuPerFrameUs(const Window& w, const std::vector<std::string>& prefixes) {
  double s = 0;
  for (const auto& [thread, used] : w.cpu_seconds) {
    for (const auto& p : prefixes) s += thread.rfind(p, 0) == 0 ? used : 0;
  }
  return w.frames > 0 ? s / w.frames * 1e6 : 0;
}

std::vector<std::string> nodeIds(size_t n, const std::string& prefix) {
  std::vector<std::string> ids;
  for (size_t i = 0; i < n; ++i) ids.push_back(prefix + std::to_string(i));
  return ids;
}

Case runCase(bool curve, size_t nodes, int window_seconds) {
  hale::test::TempDir dir(curve ? "bench-ingest-curve" : "bench-ingest");
  const std::vector<std::string> ids = nodeIds(nodes, curve ? "curve-node-" : "node-");
  std::vector<std::string> regions;
  for (size_t i = 0; i < nodes; ++i) regions.push_back(i % 2 == 0 ? "eu" : "us");
  const size_t connections = curve ? nodes : 4;
  const seconds warmup{3};
  const seconds window{window_seconds};
  Case c;
  {
    // The aggregator: plaintext with accept_any_node, or CURVE with every node's key listed.
    std::string body;
    if (curve) {
      std::string eu, us;
      for (size_t i = 0; i < nodes; ++i) (i % 2 == 0 ? eu : us) += "\"" + ids[i] + "\", ";
      body = "[[region]]\nname = \"eu\"\nrole = \"active\"\nnodes = [" + eu +
             "]\n[[region]]\nname = \"us\"\nnodes = [" + us + "]\n";
    } else {
      body =
          "[[region]]\nname = \"eu\"\nrole = \"active\"\naccept_any_node = true\n"
          "[[region]]\nname = \"us\"\naccept_any_node = true\n";
    }
    hale::test::AggregatorProcess agg(dir, body, "aggregator", {},
                                      curve ? "coordination = \"none\"\n" : hale::test::kAloneInsecure);
    agg.start();
    std::vector<Link> links;
    for (size_t k = 0; k < connections; ++k) {
      links.push_back({agg.endpoint(), curve ? hale::test::serverKeyAt(agg.endpoint()) : "", curve ? ids[k] : ""});
    }
    Blaster blaster(dir, links, nodes);
    blaster.start(ids, regions);
    c.aggregator = measure([&] { return acceptedCounter(agg); },
                           {{"hale-aggregator", agg.pid()}, {"bench", ::getpid()}}, warmup, window);
    blaster.stop();
    if (c.aggregator.rate <= 0) {
      std::string refused;
      std::istringstream lines(agg.metrics());
      for (std::string line; std::getline(lines, line);) {
        if (line.rfind("hale_aggregator_heartbeats_", 0) == 0 && line.back() != '0') refused += "  " + line + "\n";
      }
      throw std::runtime_error(std::string("the aggregator accepted nothing; its counters:\n") + refused +
                               "its log:\n" + agg.log());
    }
  }
  {
    Sink sink(dir, curve);
    std::vector<Link> links;
    for (size_t k = 0; k < connections; ++k) links.push_back({sink.endpoint(), sink.serverKey(), curve ? ids[k] : ""});
    Blaster blaster(dir, links, nodes);
    blaster.start(ids, regions);
    c.bare = measure([&] { return sink.received(); }, {{"bench", ::getpid()}}, warmup, window);
    blaster.stop();
  }
  return c;
}

}  // namespace

int main(int argc, char** argv) try {
  auto parsed = hale::CliArgs::parse(argc, argv, {}, {"nodes", "curve-nodes", "seconds"});
  if (!parsed || !parsed.value().positional().empty()) {
    std::cerr << "usage: bench_ingest [--nodes N] [--curve-nodes M] [--seconds S]\n";
    return hale::kExitUsage;
  }
  const hale::CliArgs& args = parsed.value();
  const auto nodes = std::stoul(args.valueOr("nodes", "10000"));
  const auto curve_nodes = std::stoul(args.valueOr("curve-nodes", "200"));
  const int window = std::stoi(args.valueOr("seconds", "10"));
  json report;
  for (const bool curve : {false, true}) {
    const size_t n = curve ? curve_nodes : nodes;
    const Case c = runCase(curve, n, window);
    const char* name = curve ? "curve" : "plain";
    const double ratio = c.aggregator.rate / c.bare.rate;
    // Per frame: the receiver (the aggregator's process, or the bare sink's thread and its context's
    // threads) and the senders (their thread and their context's threads), in either case.
    const double hale_receiver = cpuPerFrameUs(c.aggregator, {"hale-aggregator/"});
    const double bare_receiver = cpuPerFrameUs(c.bare, {"bench/sink", "bench/2/"});
    const double hale_sender = cpuPerFrameUs(c.aggregator, {"bench/sender", "bench/1/"});
    const double bare_sender = cpuPerFrameUs(c.bare, {"bench/sender", "bench/1/"});
    std::fprintf(stderr,
                 "ingest %-5s %6zu nodes: aggregator %9.0f accepted/s, bare ZeroMQ %9.0f/s, ratio %.2f\n"
                 "  CPU per frame: aggregator %.2f us, bare sink %.2f us; senders %.2f and %.2f us; "
                 "machine busy %.2f and %.2f of %ld cores\n",
                 name, n, c.aggregator.rate, c.bare.rate, ratio, hale_receiver, bare_receiver, hale_sender, bare_sender,
                 c.aggregator.machine_busy_cores, c.bare.machine_busy_cores, ::sysconf(_SC_NPROCESSORS_ONLN));
    for (const auto* w : {&c.aggregator, &c.bare}) {
      for (const auto& [thread, s] : w->cpu_seconds) {
        if (s / w->seconds >= 0.05 && w->frames > 0) {
          std::fprintf(stderr, "    %-8s %-32s %3.0f %% of a core, %.2f us a frame\n",
                       w == &c.aggregator ? "hale" : "bare", thread.c_str(), 100 * s / w->seconds, s / w->frames * 1e6);
        }
      }
    }
    report[name] = {{"nodes", n},
                    {"connections", curve ? n : 4},
                    {"aggregator_accepted_per_s", c.aggregator.rate},
                    {"bare_zeromq_per_s", c.bare.rate},
                    {"ratio", ratio},
                    {"receiver_cpu_us_per_frame", {{"aggregator", hale_receiver}, {"bare", bare_receiver}}},
                    {"sender_cpu_us_per_frame", {{"with_aggregator", hale_sender}, {"with_bare", bare_sender}}},
                    {"cpu_aggregator_run", cpuJson(c.aggregator)},
                    {"cpu_bare_run", cpuJson(c.bare)}};
  }
  report["seconds"] = window;
  std::cout << report.dump(2) << "\n";
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_ingest: %s\n", e.what());
  return 1;
}
