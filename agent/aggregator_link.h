#pragma once

// One aggregator as the agent sees it: its own ZeroMQ PUB socket, connected to that aggregator alone, and
// the socket's monitor, which says whether the connection is up. A PUB socket takes every message whether
// or not anyone is connected, so without this an agent pointed at a port where nothing listens would
// count its heartbeats as sent. A link is connected once its ZMTP handshake succeeded (with CurveZMQ: the
// aggregator accepted this agent's key), and not from the first refusal, drop or failed handshake, with
// the reason. One socket per aggregator: the monitor's events need no matching by address (an endpoint
// given by host name is reported by its resolved address after a reconnect).

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <zmq.hpp>

#include "heartbeat_transport.h"
#include "result.h"

namespace hale::agent {

// Why a link is not connected.
enum class LinkProblem { none, not_yet, cannot_connect, lost, key_refused, handshake_failed };
std::string_view describe(LinkProblem p);

struct LinkState {
  std::string endpoint;
  bool connected = false;
  int64_t since_ms = 0;  // Unix ms of the last change (0: no event yet since start)
  LinkProblem problem = LinkProblem::not_yet;
};

class AggregatorLink {
 public:
  AggregatorLink(zmq::context_t& context, AggregatorTarget target, const curve::Keypair& keys);
  ~AggregatorLink();
  AggregatorLink(const AggregatorLink&) = delete;
  AggregatorLink& operator=(const AggregatorLink&) = delete;

  // Creates the socket and its monitor and connects. Then, from one thread (the publisher's):
  Result<void> open();
  // Applies the monitor's events that arrived (never waits).
  void drain(int64_t now_ms);
  // Hands `frame` to ZeroMQ (never waits); true when it took it and the link is connected.
  bool send(std::string_view frame);
  // Closes the monitor and the socket (after the publisher's thread stopped).
  void close();

  LinkState state() const;  // any thread

 private:
  void apply(uint16_t event, int64_t now_ms);

  zmq::context_t& context_;
  AggregatorTarget target_;
  const curve::Keypair& keys_;
  std::unique_ptr<zmq::socket_t> socket_;
  std::unique_ptr<zmq::socket_t> events_;
  mutable std::mutex mu_;
  LinkState state_;
};

}  // namespace hale::agent
