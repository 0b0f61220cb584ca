#pragma once

// Publishes the node's heartbeat (common/heartbeat.h) on a ZeroMQ PUB socket connected to every
// configured aggregator: every interval, and at once when a check's status changes. A dead or slow
// aggregator costs nothing: messages go only to completed connections (ZMQ_IMMEDIATE), each connection
// queues at most a few (SNDHWM), and nothing lingers at shutdown. A heartbeat counts as sent only while
// at least one aggregator is connected (aggregator_links.h), else as dropped.

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "agent_counters.h"
#include "aggregator_links.h"
#include "health_board.h"
#include "heartbeat_transport.h"
#include "result.h"

namespace hale::agent {

struct PublisherIdentity {
  std::string boot_id;  // new per process start: lets the aggregator tell a restart from a replay
  std::shared_ptr<std::atomic<uint64_t>> seq;  // monotonic per boot id; survives publisher restarts on reload
};

class HeartbeatPublisher {
 public:
  HeartbeatPublisher(zmq::context_t& context, PublisherTransport transport, std::chrono::milliseconds interval,
                     PublisherIdentity identity, std::function<std::shared_ptr<const Snapshot>()> source,
                     AgentCounters& counters, const Clock& clock);
  ~HeartbeatPublisher();
  HeartbeatPublisher(const HeartbeatPublisher&) = delete;
  HeartbeatPublisher& operator=(const HeartbeatPublisher&) = delete;

  Result<void> start();
  void stop();
  // Sends a heartbeat now (a check changed status) instead of waiting for the next tick.
  void notifyChange();
  // Each aggregator's connection as the socket monitor last told (empty before start).
  std::vector<LinkState> links() const { return links_ ? links_->snapshot() : std::vector<LinkState>{}; }

 private:
  void loop();
  void sendOne(std::string& frame, heartbeat::Heartbeat& hb);

  zmq::context_t& context_;
  PublisherTransport transport_;
  std::chrono::milliseconds interval_;
  PublisherIdentity identity_;
  std::function<std::shared_ptr<const Snapshot>()> source_;
  AgentCounters& counters_;
  const Clock& clock_;
  std::unique_ptr<zmq::socket_t> socket_;
  std::unique_ptr<AggregatorLinks> links_;  // set in start(), kept until destruction (status reads it)

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool changed_ = false;
  std::thread thread_;
};

// A random 128-bit id in UUID text form, for boot ids.
std::string randomBootId();

}  // namespace hale::agent
