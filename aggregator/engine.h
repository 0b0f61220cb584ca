#pragma once

// hale-aggregator's runtime. Threads and what they may do:
//   ingest    ZeroMQ SUB -> decode -> de-duplicate -> observer; never waits on decisions, actions or disk
//   tick      advances the observer (silence, TILT, fail static, verdicts), journals events, asks the policy
//   executor  runs one plan at a time (plan_runner), then records the outcome
//   control   the control socket's commands (engine_commands.cpp)
// The pure core (observer, policy state) is guarded by one mutex held only for in-memory work.

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "aggregator_config.h"
#include "control_server.h"
#include "http_server.h"
#include "ingest_counters.h"
#include "journal.h"
#include "observer.h"
#include "plan_runner.h"
#include "policy.h"
#include "sequence_guard.h"

namespace hale::aggregator {

struct EngineCounters {
  std::atomic<uint64_t> decisions{0};
  StepCounters steps;
  std::atomic<uint64_t> plans_done{0};
  std::atomic<uint64_t> plans_failed{0};
  std::atomic<uint64_t> journal_errors{0};
};

class Engine {
 public:
  Engine(AggregatorConfig config, const Clock& clock = SystemClock::instance());
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Opens the journal, restores state, resumes an unfinished plan, binds the sockets, starts the threads.
  Result<void> start();
  void stop();

  // The control socket's commands (also callable directly, e.g. from tests).
  nlohmann::json status() const;
  nlohmann::json regions() const;
  nlohmann::json nodes(const std::string& region) const;
  Result<nlohmann::json> journalEvents(size_t limit) const;
  Result<nlohmann::json> plans(size_t limit) const;
  Result<nlohmann::json> requestFailover(const std::string& to, bool force);
  Result<nlohmann::json> requestFailback(bool force);
  Result<nlohmann::json> approve(int64_t plan_id);
  Result<nlohmann::json> setPaused(bool paused);

  const IngestCounters& ingestCounters() const { return ingest_; }
  uint16_t httpPort() const { return http_ ? http_->port() : 0; }
  std::string metrics() const;

 private:
  void ingestLoop();
  void tickLoop();
  void executorLoop();
  void handleFrame(std::string_view frame, heartbeat::Heartbeat& hb, heartbeat::Decoder& decoder);
  // Journals and logs events produced under the lock (called without it).
  void publish(const std::vector<Event>& events);
  // Turns an acting decision into a journaled plan and, unless dry-run or awaiting approval, runs it.
  // Called with mu_ held; journal writes happen under it so no two decisions interleave.
  Result<int64_t> enact(const Decision& d);
  void persistState();
  void registerCommands();
  int64_t nowMs() const { return toUnixMillis(clock_.wallNow()); }

  AggregatorConfig config_;
  const Clock& clock_;
  std::unique_ptr<Journal> journal_;
  IngestCounters ingest_;
  EngineCounters counters_;

  mutable std::mutex mu_;  // guards everything below up to the threads
  Observer observer_;
  PolicyState state_;
  SequenceGuard sequences_;
  std::vector<Event> pending_events_;
  std::deque<int64_t> plan_queue_;
  std::condition_variable plan_cv_;
  bool stopping_ = false;

  std::atomic<bool> cancel_{false};
  zmq::context_t zmq_{1};
  std::unique_ptr<zmq::socket_t> sub_;
  std::unique_ptr<control::ControlServer> control_;
  std::unique_ptr<HttpServer> http_;
  std::thread ingest_thread_;
  std::thread tick_thread_;
  std::thread executor_thread_;
};

}  // namespace hale::aggregator
