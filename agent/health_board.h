#pragma once

// The agent's current truth: each check's damped status and last result, published as immutable
// snapshots. Writers (the scheduler) call record(); readers (/healthz, /metrics, heartbeats, the status
// socket) take a snapshot, which costs one mutex-protected shared_ptr copy and never waits on a check.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent_config.h"
#include "check.h"
#include "clock.h"
#include "health_state.h"
#include "heartbeat.h"

namespace hale::agent {

struct CheckView {
  CheckSettings settings;
  HealthState state;
  Outcome last_outcome = Outcome::error;
  std::string message;
  uint32_t latency_us = 0;
  bool has_run = false;
  SteadyTime last_run{};
  uint64_t runs = 0;
  uint64_t timeouts = 0;
  uint64_t outcomes[4] = {0, 0, 0, 0};  // indexed by Outcome
};

struct Snapshot {
  std::string node_id;
  std::string region;
  std::vector<CheckView> checks;
};

// A check with no result for this long is reported failing ("stale"): its thread is stuck or gone.
std::chrono::milliseconds staleAfter(const CheckSettings& s);
// The status a reader reports for `c` at `now`: its damped status, or fail when stale.
heartbeat::CheckStatus effectiveStatus(const CheckView& c, SteadyTime now);
heartbeat::NodeStatus effectiveNodeStatus(const Snapshot& s, SteadyTime now);

class HealthBoard {
 public:
  HealthBoard(std::string node_id, std::string region, const std::vector<ConfiguredCheck>& checks);

  // Applies one probe's outcome to check `index` (rise/fall) and publishes a new snapshot.
  void record(size_t index, const CheckResult& result, std::chrono::microseconds latency, SteadyTime now,
              bool timed_out = false);

  std::shared_ptr<const Snapshot> snapshot() const;

  // Called (outside the lock) whenever a check's damped status changes: heartbeats go out at once.
  using ChangeFn = std::function<void(const CheckView& check, heartbeat::CheckStatus before)>;
  void setOnChange(ChangeFn fn);

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> current_;
  ChangeFn on_change_;
};

}  // namespace hale::agent
