#include "heartbeat_publisher.h"

#include <cstdio>
#include <random>

#include "heartbeat_cadence.h"
#include "heartbeat_codec.h"
#include "thread_name.h"

namespace hale::agent {

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
  if (auto r = prepare(); !r) return r;
  run();
  return {};
}

Result<void> HeartbeatPublisher::prepare() {
  for (const AggregatorTarget& a : transport_.aggregators) {
    links_.push_back(std::make_unique<AggregatorLink>(context_, a, transport_.keys));
    if (auto r = links_.back()->open(); !r) {
      for (auto& l : links_) l->close();
      return r;
    }
  }
  return {};
}

void HeartbeatPublisher::run() {
  thread_ = std::thread([this] { loop(); });
}

std::vector<LinkState> HeartbeatPublisher::links() const {
  std::vector<LinkState> out;
  out.reserve(links_.size());
  for (const auto& l : links_) out.push_back(l->state());
  return out;
}

void HeartbeatPublisher::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (auto& l : links_) l->close();
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
  // Each aggregator's socket, and whether any connected one took the heartbeat.
  bool delivered = false;
  size_t connected = 0;
  for (auto& l : links_) {
    l->drain(hb.sent_unix_ms);
    delivered = l->send(frame) || delivered;
    connected += l->state().connected ? 1 : 0;
  }
  counters_.aggregators_connected.store(connected, std::memory_order_relaxed);
  if (delivered) {
    counters_.heartbeats_sent.fetch_add(1, std::memory_order_relaxed);
  } else {
    counters_.heartbeats_dropped.fetch_add(1, std::memory_order_relaxed);
  }
}

void HeartbeatPublisher::loop() {
  nameThisThread("heartbeats");
  std::string frame;
  heartbeat::Heartbeat hb;
  HeartbeatCadence cadence(interval_, clock_.steadyNow());
  for (;;) {
    {
      std::unique_lock lock(mu_);
      for (;;) {
        if (stopping_) return;
        const SteadyTime due = cadence.due(changed_);
        const SteadyTime now = clock_.steadyNow();
        if (now >= due) break;
        // Waits in real time for what the injected clock says is left; a notifyChange() or stop() wakes it.
        cv_.wait_until(lock, std::chrono::steady_clock::now() + (due - now));
      }
      changed_ = false;
    }
    sendOne(frame, hb);
    cadence.sent(clock_.steadyNow());
  }
}

}  // namespace hale::agent
