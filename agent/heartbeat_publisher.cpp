#include "heartbeat_publisher.h"

#include <cstdio>
#include <random>

#include "heartbeat_codec.h"
#include "log.h"

namespace hale::agent {
namespace {

// Per-connection queue bound: a few seconds of heartbeats at most; older news is worthless anyway.
constexpr int kSendHighWaterMark = 8;
// A status change is sent at once, but a check flapping faster than this cannot flood the aggregators.
constexpr std::chrono::milliseconds kMinChangeGap{50};

}  // namespace

std::string randomBootId() {
  std::random_device rd;
  uint32_t w[4];
  for (uint32_t& x : w) x = rd();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%04x%08x", w[0], w[1] >> 16, (w[1] & 0x0fffU) | 0x4000U,
                ((w[2] >> 16) & 0x3fffU) | 0x8000U, w[2] & 0xffffU, w[3]);
  return buf;
}

HeartbeatPublisher::HeartbeatPublisher(zmq::context_t& context, PublisherTransport transport,
                                       std::chrono::milliseconds interval, PublisherIdentity identity,
                                       std::function<std::shared_ptr<const Snapshot>()> source, AgentCounters& counters,
                                       const Clock& clock)
    : context_(context),
      transport_(std::move(transport)),
      interval_(interval),
      identity_(std::move(identity)),
      source_(std::move(source)),
      counters_(counters),
      clock_(clock) {}

HeartbeatPublisher::~HeartbeatPublisher() { stop(); }

Result<void> HeartbeatPublisher::start() {
  try {
    socket_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::pub);
    socket_->set(zmq::sockopt::linger, 0);
    socket_->set(zmq::sockopt::sndhwm, kSendHighWaterMark);
    socket_->set(zmq::sockopt::immediate, 1);
    socket_->set(zmq::sockopt::reconnect_ivl, 100);
    socket_->set(zmq::sockopt::reconnect_ivl_max, 1000);
    // ZMTP heartbeats drop a connection to an aggregator that vanished without closing TCP.
    socket_->set(zmq::sockopt::heartbeat_ivl, 1000);
    socket_->set(zmq::sockopt::heartbeat_timeout, 3000);
    std::vector<std::string> endpoints;
    for (const AggregatorTarget& a : transport_.aggregators) endpoints.push_back(a.endpoint);
    links_ = std::make_unique<AggregatorLinks>(endpoints);
    if (auto watched = links_->watch(context_, *socket_); !watched) {
      socket_.reset();
      return watched;
    }
    const bool curve = !transport_.keys.secret_key.empty();
    if (curve) {
      socket_->set(zmq::sockopt::curve_publickey, transport_.keys.public_key);
      socket_->set(zmq::sockopt::curve_secretkey, transport_.keys.secret_key);
    }
    for (const AggregatorTarget& a : transport_.aggregators) {
      // ZeroMQ takes the server key at connect time, so each aggregator gets its own.
      if (curve) socket_->set(zmq::sockopt::curve_serverkey, a.public_key);
      socket_->connect(a.endpoint);
    }
  } catch (const zmq::error_t& e) {
    if (links_) links_->close();
    socket_.reset();
    return makeError("zmq", std::string("heartbeat socket: ") + e.what());
  }
  thread_ = std::thread([this] { loop(); });
  return {};
}

void HeartbeatPublisher::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (links_) links_->close();
  socket_.reset();
}

void HeartbeatPublisher::notifyChange() {
  {
    std::lock_guard lock(mu_);
    changed_ = true;
  }
  cv_.notify_all();
}

void HeartbeatPublisher::sendOne(std::string& frame, heartbeat::Heartbeat& hb) {
  const std::shared_ptr<const Snapshot> snap = source_();
  const SteadyTime now = clock_.steadyNow();
  hb.node_id = snap->node_id;
  hb.region = snap->region;
  hb.boot_id = identity_.boot_id;
  hb.seq = identity_.seq->fetch_add(1) + 1;
  hb.sent_unix_ms = toUnixMillis(clock_.wallNow());
  hb.status = effectiveNodeStatus(*snap, now);
  hb.fence = fenceLevel(*snap);
  hb.checks.resize(std::min(snap->checks.size(), heartbeat::kMaxChecks));
  for (size_t i = 0; i < hb.checks.size(); ++i) {
    const CheckView& c = snap->checks[i];
    heartbeat::CheckReport& r = hb.checks[i];
    r.name = c.settings.name;
    r.status = effectiveStatus(c, now);
    r.critical = c.settings.critical;
    r.latency_us = c.latency_us;
    r.message = c.message;
  }
  heartbeat::encode(hb, frame);
  // Keep frames within the decoder's limit by dropping check messages, never the statuses.
  if (frame.size() > heartbeat::kMaxFrameBytes) {
    for (heartbeat::CheckReport& r : hb.checks) r.message.clear();
    heartbeat::encode(hb, frame);
  }
  links_->drain(hb.sent_unix_ms);
  counters_.aggregators_connected.store(links_->connected(), std::memory_order_relaxed);
  try {
    const auto sent = socket_->send(zmq::const_buffer(frame.data(), frame.size()), zmq::send_flags::dontwait);
    // A PUB socket takes a message with nobody connected: that heartbeat reached no aggregator.
    if (sent && links_->connected() > 0) {
      counters_.heartbeats_sent.fetch_add(1, std::memory_order_relaxed);
    } else {
      counters_.heartbeats_dropped.fetch_add(1, std::memory_order_relaxed);
    }
  } catch (const zmq::error_t& e) {
    counters_.heartbeats_dropped.fetch_add(1, std::memory_order_relaxed);
    logWarn("-heartbeat-send-failed", e.what());
  }
}

void HeartbeatPublisher::loop() {
  std::string frame;
  heartbeat::Heartbeat hb;
  auto next_tick = std::chrono::steady_clock::now();
  auto last_sent = next_tick - kMinChangeGap;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      for (;;) {
        if (stopping_) return;
        // Due at the next tick, or sooner for a change (but not sooner than kMinChangeGap after the last).
        auto due = next_tick;
        if (changed_) due = std::min(due, last_sent + kMinChangeGap);
        if (std::chrono::steady_clock::now() >= due) break;
        cv_.wait_until(lock, due);
      }
      changed_ = false;
    }
    sendOne(frame, hb);
    last_sent = std::chrono::steady_clock::now();
    next_tick = last_sent + interval_;
  }
}

}  // namespace hale::agent
