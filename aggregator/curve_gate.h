#pragma once

// The door of the heartbeat socket. With CurveZMQ, a ZAP handler (ZeroMQ RFC 27) admits only the agent
// public keys of [agent_keys] and names each connection after the node its key speaks for; ZeroMQ then
// stamps every frame of that connection with the node id ("User-Id"), which ingest compares with the node
// the heartbeat names. A monitor of the socket counts handshakes that fail (wrong server key, plaintext
// against CURVE) and established connections that close (an agent leaving, or ZeroMQ dropping a peer whose
// frame is over the receive limit). One thread serves both; refusals are counted and logged by key,
// rate-limited.

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>

#include <zmq.hpp>

#include "aggregator_config.h"
#include "ingest_counters.h"
#include "log_limiter.h"
#include "result.h"

namespace hale::aggregator {

class CurveGate {
 public:
  CurveGate(zmq::context_t& context, const IngestSecurity& security, IngestCounters& counters);
  ~CurveGate();
  CurveGate(const CurveGate&) = delete;
  CurveGate& operator=(const CurveGate&) = delete;

  // Makes `ingest` a CURVE server (unless insecure), serves ZAP on the context and watches the socket.
  // Call before `ingest` binds, so no connection is ever admitted without the handler.
  Result<void> start(zmq::socket_t& ingest);
  // Call after `ingest` is closed: the handler outlives every connection it admitted.
  void stop();

  // The node a frame's connection speaks for ("" in insecure mode, or when ZeroMQ has none).
  static std::string_view speaker(zmq::message_t& frame);

 private:
  void loop();
  void answerZap();
  void onMonitorEvent();
  // Whether a refusal about `what` may be logged now: once a minute per `what` (a bounded set), and at most
  // a few lines a minute in all; what is held back is summed up in one line a minute later.
  bool mayLog(const std::string& what);

  zmq::context_t& context_;
  const IngestSecurity& security_;
  IngestCounters& counters_;
  std::map<std::string, std::string> node_of_key_;  // 32 raw key bytes -> node id
  zmq::socket_t zap_;
  zmq::socket_t monitor_;
  int handshakes_failing_ = 0;  // failed handshakes whose disconnect event is still to come
  // Refusals: once a minute per key, at most 10 lines a minute in all, however many keys an attacker makes up.
  LogLimiter log_limiter_{std::chrono::minutes{1}, 10};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace hale::aggregator
