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
  DbRole role = DbRole::none;           // database checks: the role the last answer gave (kept through errors)
  SteadyTime role_at{};                 // when that answer came
  SteadyTime role_since{};              // when the check first answered that role
  std::string position;                 // a writable primary's flushed WAL position, as of role_at
};

// A database this node fenced (primary_lease.h): the node is unhealthy while any is, so load balancers
// drain it.
struct FenceMark {
  std::string database;
  std::string reason;
  bool split_brain = false;
};

struct Snapshot {
  std::string node_id;
  std::string region;
  std::vector<CheckView> checks;
  std::vector<FenceMark> fences;
};

// 0 none, 1 fenced, 2 fenced because of a split brain: the heartbeat's "fence".
uint8_t fenceLevel(const Snapshot& s);

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
  // After a reload: each database check keeps the role its predecessor of the same name last answered, so
  // the primary lease does not go blind until the first probe.
  void carryRoles(const Snapshot& previous);
  // Replaces the fence marks and publishes a new snapshot (the caller tells the heartbeat publisher).
  void setFences(std::vector<FenceMark> fences);

  // Called (outside the lock) whenever a check's damped status changes: heartbeats go out at once.
  using ChangeFn = std::function<void(const CheckView& check, heartbeat::CheckStatus before)>;
  void setOnChange(ChangeFn fn);

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> current_;
  ChangeFn on_change_;
};

}  // namespace hale::agent
