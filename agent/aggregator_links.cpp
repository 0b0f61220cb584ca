#include "aggregator_links.h"

#include <zmq.h>

#include <cstring>

namespace hale::agent {
namespace {

constexpr int kEvents = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CONNECT_RETRIED |
                        ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                        ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;

std::atomic<uint64_t> monitor_count{0};

}  // namespace

std::string_view describe(LinkProblem p) {
  switch (p) {
    case LinkProblem::none: return "";
    case LinkProblem::not_yet: return "not connected yet";
    case LinkProblem::cannot_connect: return "cannot connect (nothing answers there)";
    case LinkProblem::lost: return "connection lost";
    case LinkProblem::key_refused: return "the aggregator refused this agent's key (is it in its [agent_keys]?)";
    case LinkProblem::handshake_failed: return "handshake failed (wrong server key, or plaintext against CurveZMQ)";
  }
  return "";
}

AggregatorLinks::AggregatorLinks(const std::vector<std::string>& endpoints) {
  for (const std::string& e : endpoints) links_.push_back({e, false, 0, LinkProblem::not_yet});
}

AggregatorLinks::~AggregatorLinks() { close(); }

Result<void> AggregatorLinks::watch(zmq::context_t& context, zmq::socket_t& socket) {
  const std::string address = "inproc://hale-heartbeat-links-" + std::to_string(monitor_count.fetch_add(1));
  if (zmq_socket_monitor(socket.handle(), address.c_str(), kEvents) != 0) {
    return makeError("zmq", std::string("socket monitor: ") + zmq_strerror(zmq_errno()));
  }
  try {
    events_ = std::make_unique<zmq::socket_t>(context, zmq::socket_type::pair);
    events_->set(zmq::sockopt::linger, 0);
    events_->connect(address);
  } catch (const zmq::error_t& e) {
    events_.reset();
    zmq_socket_monitor(socket.handle(), nullptr, 0);
    return makeError("zmq", std::string("socket monitor: ") + e.what());
  }
  watched_ = &socket;
  return {};
}

void AggregatorLinks::close() {
  if (watched_ != nullptr) zmq_socket_monitor(watched_->handle(), nullptr, 0);
  watched_ = nullptr;
  events_.reset();
}

void AggregatorLinks::drain(int64_t now_ms) {
  if (!events_) return;
  for (;;) {
    zmq::message_t head;
    zmq::message_t address;
    try {
      if (!events_->recv(head, zmq::recv_flags::dontwait)) return;
      if (!head.more() || !events_->recv(address, zmq::recv_flags::dontwait)) return;
    } catch (const zmq::error_t&) {
      return;
    }
    if (head.size() < sizeof(uint16_t)) continue;
    uint16_t event = 0;
    std::memcpy(&event, head.data(), sizeof event);
    apply(event, address.to_string(), now_ms);
  }
}

void AggregatorLinks::apply(uint16_t event, const std::string& endpoint, int64_t now_ms) {
  std::lock_guard lock(mu_);
  for (LinkState& l : links_) {
    if (l.endpoint != endpoint) continue;
    const bool was = l.connected;
    switch (event) {
      case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        l.connected = true;
        l.problem = LinkProblem::none;
        break;
      case ZMQ_EVENT_DISCONNECTED:
        l.connected = false;
        if (l.problem == LinkProblem::none) l.problem = LinkProblem::lost;
        break;
      case ZMQ_EVENT_CONNECT_RETRIED:
        // A retry after a refused handshake keeps the handshake's reason: it says more.
        l.connected = false;
        if (l.problem != LinkProblem::key_refused && l.problem != LinkProblem::handshake_failed)
          l.problem = LinkProblem::cannot_connect;
        break;
      case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        l.connected = false;
        l.problem = LinkProblem::key_refused;
        break;
      default:
        l.connected = false;
        l.problem = LinkProblem::handshake_failed;
        break;
    }
    if (was != l.connected || l.since_ms == 0) l.since_ms = now_ms;
  }
  size_t n = 0;
  for (const LinkState& l : links_) n += l.connected ? 1 : 0;
  connected_.store(n, std::memory_order_relaxed);
}

std::vector<LinkState> AggregatorLinks::snapshot() const {
  std::lock_guard lock(mu_);
  return links_;
}

}  // namespace hale::agent
