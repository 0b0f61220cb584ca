#pragma once

// What the agent knows of its connection to each aggregator, from the ZeroMQ socket monitor of its
// heartbeat socket: a PUB socket takes every message whether or not anyone is connected, so without this
// an agent pointed at a port where nothing listens would count its heartbeats as sent. A link is
// connected once its ZMTP handshake succeeded (with CurveZMQ: the aggregator accepted this agent's key),
// and disconnected from the first refusal, drop or failed handshake, with the reason.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

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

class AggregatorLinks {
 public:
  explicit AggregatorLinks(const std::vector<std::string>& endpoints);
  ~AggregatorLinks();
  AggregatorLinks(const AggregatorLinks&) = delete;
  AggregatorLinks& operator=(const AggregatorLinks&) = delete;

  // Watches `socket` (before it connects anywhere): events go to an inproc PAIR socket of `context`.
  Result<void> watch(zmq::context_t& context, zmq::socket_t& socket);
  // Applies the events that arrived (never waits). One thread: the publisher's.
  void drain(int64_t now_ms);
  // Closes the monitor; call before the watched socket closes.
  void close();

  std::vector<LinkState> snapshot() const;
  size_t connected() const { return connected_.load(std::memory_order_relaxed); }

 private:
  void apply(uint16_t event, const std::string& endpoint, int64_t now_ms);

  mutable std::mutex mu_;
  std::vector<LinkState> links_;
  std::atomic<size_t> connected_{0};
  std::unique_ptr<zmq::socket_t> events_;
  zmq::socket_t* watched_ = nullptr;
};

}  // namespace hale::agent
