#pragma once

// Runs each check on its own thread at its interval, so no check delays another, the HTTP server or the
// heartbeat. A watchdog, asleep until the earliest deadline (plus 100 ms of grace) of a run in progress,
// reports a run that outlives it as a timeout and discards the run's late result. Waits are in real
// time: the clock given is read, never waited on, so it must advance in real time (SystemClock). stop() waits briefly
// for workers, then leaves a hung probe to finish on its own.

#include <memory>
#include <thread>
#include <vector>

#include "agent_config.h"
#include "health_board.h"

namespace hale::agent {

class Scheduler {
 public:
  Scheduler(const std::vector<ConfiguredCheck>& checks, std::shared_ptr<HealthBoard> board, const Clock& clock);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  void start();
  // Signals every worker to stop and waits up to `grace` for them; returns false when some probe was
  // still hung and had to be left behind (detached; it holds its own references).
  bool stop(std::chrono::milliseconds grace = std::chrono::milliseconds{500});

 private:
  struct Worker;
  struct Watch;
  void watchdogLoop();

  std::vector<std::shared_ptr<Worker>> workers_;
  std::shared_ptr<HealthBoard> board_;
  const Clock& clock_;
  std::shared_ptr<std::atomic<bool>> stopping_;
  std::shared_ptr<Watch> watch_;
  std::thread watchdog_;
};

}  // namespace hale::agent
