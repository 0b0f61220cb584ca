#pragma once

// Publishes the node's heartbeat (common/heartbeat.h) to every configured aggregator, each over its own
// ZeroMQ PUB socket (aggregator_link.h): every interval, and at once when a check's status changes. A dead
// or slow aggregator costs nothing: messages go only to completed connections (ZMQ_IMMEDIATE), each
// connection queues at most a few (SNDHWM), and nothing lingers at shutdown. A heartbeat counts as sent
// when some connected aggregator's socket took it, else as dropped.

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "agent_counters.h"
#include "aggregator_link.h"
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

  Result<void> start();  // prepare() then run()
  // Opens every aggregator's socket (what can fail), without sending yet; run() starts sending. A reload
  // prepares the new publisher before touching the running one and runs it once the old one stopped, so
  // two publishers never send the same sequence at once.
  Result<void> prepare();
  void run();
  void stop();
  // Sends a heartbeat now (a check changed status) instead of waiting for the next tick.
  void notifyChange();
  // Each aggregator's connection as its socket's monitor last told.
  std::vector<LinkState> links() const;

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
  std::vector<std::unique_ptr<AggregatorLink>> links_;  // made in prepare(), kept until destruction

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool changed_ = false;
  std::thread thread_;
};

// A random 128-bit id in UUID text form, for boot ids.
std::string randomBootId();

}  // namespace hale::agent
