#include "aggregator_link.h"

#include <zmq.h>

#include <cstring>

namespace hale::agent {
namespace {

// Per-connection queue bound: a few seconds of heartbeats at most; older news is worthless anyway.
constexpr int kSendHighWaterMark = 8;

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

AggregatorLink::AggregatorLink(zmq::context_t& context, AggregatorTarget target, const curve::Keypair& keys)
    : context_(context), target_(std::move(target)), keys_(keys) {
  state_.endpoint = target_.endpoint;
}

AggregatorLink::~AggregatorLink() { close(); }

Result<void> AggregatorLink::open() {
  const std::string monitor = "inproc://hale-heartbeat-link-" + std::to_string(monitor_count.fetch_add(1));
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
    if (!keys_.secret_key.empty()) {
      socket_->set(zmq::sockopt::curve_publickey, keys_.public_key);
      socket_->set(zmq::sockopt::curve_secretkey, keys_.secret_key);
      socket_->set(zmq::sockopt::curve_serverkey, target_.public_key);
    }
    if (zmq_socket_monitor(socket_->handle(), monitor.c_str(), kEvents) != 0) {
      throw zmq::error_t();
    }
    events_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::pair);
    events_->set(zmq::sockopt::linger, 0);
    events_->connect(monitor);
    socket_->connect(target_.endpoint);
  } catch (const zmq::error_t& e) {
    close();
    return makeError("zmq", "heartbeat socket for " + target_.endpoint + ": " + e.what());
  }
  return {};
}

void AggregatorLink::close() {
  if (socket_) zmq_socket_monitor(socket_->handle(), nullptr, 0);
  events_.reset();
  socket_.reset();
}

void AggregatorLink::drain(int64_t now_ms) {
  if (!events_) return;
  for (;;) {
    zmq::message_t head;
    zmq::message_t address;
    try {
      if (!events_->recv(head, zmq::recv_flags::dontwait)) return;
      if (head.more()) (void)events_->recv(address, zmq::recv_flags::dontwait);
    } catch (const zmq::error_t&) {
      return;
    }
    if (head.size() < sizeof(uint16_t)) continue;
    uint16_t event = 0;
    std::memcpy(&event, head.data(), sizeof event);
    apply(event, now_ms);
  }
}

bool AggregatorLink::send(std::string_view frame) {
  if (!socket_) return false;
  try {
    const auto sent = socket_->send(zmq::const_buffer(frame.data(), frame.size()), zmq::send_flags::dontwait);
    std::lock_guard lock(mu_);
    return sent.has_value() && state_.connected;
  } catch (const zmq::error_t&) {
    return false;
  }
}

void AggregatorLink::apply(uint16_t event, int64_t now_ms) {
  std::lock_guard lock(mu_);
  LinkState& l = state_;
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

LinkState AggregatorLink::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

}  // namespace hale::agent
