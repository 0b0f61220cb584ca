#include "curve_gate.h"

#include <cstring>

#include "log.h"
#include "thread_name.h"

namespace hale::aggregator {
namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";  // fixed by RFC 27
constexpr const char* kMonitorEndpoint = "inproc://hale-ingest-monitor";
constexpr const char* kZapDomain = "hale";
// libzmq's ZMQ_ZAP_ENFORCE_DOMAIN (a draft option in 4.3): without it, a CURVE server whose ZAP handler
// is gone admits every client.
constexpr int kZapEnforceDomain = 93;

std::string frameText(const zmq::message_t& m) { return {static_cast<const char*>(m.data()), m.size()}; }

}  // namespace

CurveGate::CurveGate(zmq::context_t& context, const IngestSecurity& security, IngestCounters& counters)
    : context_(context), security_(security), counters_(counters) {
  for (const auto& [node, key] : security_.agent_keys) node_of_key_.emplace(curve::keyBytes(key), node);
}

CurveGate::~CurveGate() { stop(); }

Result<void> CurveGate::start(zmq::socket_t& ingest) {
  try {
    if (!security_.insecure) {
      zap_ = zmq::socket_t(context_, zmq::socket_type::rep);
      zap_.set(zmq::sockopt::linger, 0);
      zap_.bind(kZapEndpoint);
      ingest.set(zmq::sockopt::zap_domain, kZapDomain);
      const int enforce = 1;
      if (zmq_setsockopt(ingest.handle(), kZapEnforceDomain, &enforce, sizeof enforce) != 0) {
        logWarn("-curve-zap-not-enforced",
                "this libzmq cannot enforce the ZAP domain; the handler runs as long as "
                "the aggregator does, so nothing is admitted without it meanwhile");
      }
      ingest.set(zmq::sockopt::curve_server, true);
      ingest.set(zmq::sockopt::curve_secretkey, security_.server.secret_key);
    }
    const int events = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                       ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_DISCONNECTED;
    if (zmq_socket_monitor(ingest.handle(), kMonitorEndpoint, events) != 0) throw zmq::error_t();
    monitor_ = zmq::socket_t(context_, zmq::socket_type::pair);
    monitor_.set(zmq::sockopt::linger, 0);
    monitor_.connect(kMonitorEndpoint);
  } catch (const zmq::error_t& e) {
    return makeError("zmq", std::string("heartbeat socket security: ") + e.what());
  }
  thread_ = std::thread([this] { loop(); });
  return {};
}

void CurveGate::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  zap_.close();
  monitor_.close();
}

std::string_view CurveGate::speaker(zmq::message_t& frame) {
  const char* user = zmq_msg_gets(frame.handle(), "User-Id");
  return user != nullptr ? std::string_view(user) : std::string_view();
}

bool CurveGate::mayLog(const std::string& what) {
  uint64_t held_back = 0;
  const bool allowed = log_limiter_.allow(what, std::chrono::steady_clock::now(), held_back);
  if (held_back > 0) {
    logWarn("-heartbeat-refusals-suppressed", std::to_string(held_back) +
                                                  " more refused connections were not logged since the last such line "
                                                  "(see hale_aggregator_connections_refused_total)");
  }
  return allowed;
}

void CurveGate::loop() {
  nameThisThread("curve-auth");
  std::vector<zmq::pollitem_t> items{{monitor_.handle(), 0, ZMQ_POLLIN, 0}};
  if (zap_.handle() != nullptr) items.push_back({zap_.handle(), 0, ZMQ_POLLIN, 0});
  while (!stop_.load()) {
    try {
      if (zmq::poll(items, std::chrono::milliseconds{100}) <= 0) continue;
      if ((items[0].revents & ZMQ_POLLIN) != 0) onMonitorEvent();
      if (items.size() > 1 && (items[1].revents & ZMQ_POLLIN) != 0) answerZap();
    } catch (const zmq::error_t& e) {
      logError("-curve-gate-failed", e.what());
    }
  }
}

void CurveGate::answerZap() {
  // A request: version, request id, domain, address, routing id, mechanism, then the credentials.
  std::vector<zmq::message_t> request;
  do {
    request.emplace_back();
    if (!zap_.recv(request.back(), zmq::recv_flags::dontwait)) return;
  } while (request.back().more());
  std::string status = "400";
  std::string status_text = "no such key";
  std::string user;
  if (request.size() >= 7 && frameText(request[0]) == "1.0" && frameText(request[5]) == "CURVE") {
    const std::string key = frameText(request[6]);
    if (auto it = node_of_key_.find(key); it != node_of_key_.end()) {
      status = "200";
      status_text = "OK";
      user = it->second;
    } else {
      counters_.count(TransportReject::unlisted_key);
      const std::string text = curve::keyText(key);
      if (mayLog("key " + text)) {
        logWarn("-heartbeat-key-unlisted", "a connection from " + frameText(request[3]) + " with CURVE key " + text +
                                               " was refused: the key is not in [agent_keys]");
      }
    }
  }
  const std::string version = "1.0";
  const std::string request_id = request.size() >= 2 ? frameText(request[1]) : std::string();
  zap_.send(zmq::buffer(version), zmq::send_flags::sndmore);
  zap_.send(zmq::buffer(request_id), zmq::send_flags::sndmore);
  zap_.send(zmq::buffer(status), zmq::send_flags::sndmore);
  zap_.send(zmq::buffer(status_text), zmq::send_flags::sndmore);
  zap_.send(zmq::buffer(user), zmq::send_flags::sndmore);
  zap_.send(zmq::message_t(), zmq::send_flags::none);  // metadata: none
}

void CurveGate::onMonitorEvent() {
  zmq::message_t head;
  if (!monitor_.recv(head, zmq::recv_flags::dontwait)) return;
  zmq::message_t address;
  if (head.more()) (void)monitor_.recv(address, zmq::recv_flags::dontwait);
  if (head.size() < 6) return;
  uint16_t event = 0;
  uint32_t value = 0;
  std::memcpy(&event, head.data(), sizeof event);
  std::memcpy(&value, static_cast<const char*>(head.data()) + 2, sizeof value);
  switch (event) {
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:  // the ZAP handler refused: counted and logged there
      ++handshakes_failing_;
      break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
      ++handshakes_failing_;
      counters_.count(TransportReject::handshake_failed);
      if (mayLog("handshake")) {
        logWarn("-heartbeat-handshake-failed",
                "a connection to " + frameText(address) + " failed its handshake (ZMTP error " + std::to_string(value) +
                    "): an agent with the wrong aggregator public key, one sending plaintext to CURVE, or a client "
                    "that did not finish the handshake within 5 s (a port probe)");
      }
      break;
    case ZMQ_EVENT_DISCONNECTED:
      if (handshakes_failing_ > 0) {
        --handshakes_failing_;  // the end of a refused handshake, counted above
      } else {
        counters_.disconnects.fetch_add(1, std::memory_order_relaxed);
      }
      break;
    default: break;
  }
}

}  // namespace hale::aggregator
