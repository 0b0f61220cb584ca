#pragma once

// The failover policy: one pure function of what is observed, what was decided before, the guards and
// `now`. It returns a decision and always a reason, so "why did (or didn't) it fail over?" has an answer
// in the journal and in halectl. No I/O, no clock reads, no threads.

#include <optional>
#include <string>
#include <vector>

#include "clock.h"
#include "region_view.h"

namespace hale::aggregator {

struct RegionSummary {
  std::string name;
  int priority = 100;
  Verdict verdict = Verdict::up;
  SteadyTime verdict_since{};
  SteadyTime lost_since{};  // since when it was lost (region_view; meaningful while down)
  uint32_t healthy = 0;
  uint32_t total = 0;
  // With several observers: how the quorum reached `verdict` (core/quorum), which then replaces this
  // aggregator's own view; empty when one aggregator decides alone.
  std::string quorum;
};

struct PolicyConfig {
  std::string home_region;  // the region that is active in normal times (failback returns here)
  bool dry_run = false;     // decide and journal, change nothing
  bool manual_approval = false;
  std::chrono::milliseconds min_failover_interval{std::chrono::minutes{10}};
  bool auto_failback = false;
  std::chrono::milliseconds failback_after{std::chrono::minutes{10}};
  // A decision awaiting approval longer than this expires (decided again if still called for).
  std::chrono::milliseconds approval_timeout{std::chrono::minutes{10}};
  // Pairs (from, to) that have a plan; a region without a plan from the active one is never a target.
  std::vector<std::pair<std::string, std::string>> plans;
};

// Decisions and operator actions that outlive a tick, kept in the journal.
struct PolicyState {
  std::string active_region;
  bool paused = false;
  bool plan_running = false;
  std::string awaiting_approval;       // plan id, when a decision waits for `halectl approve`
  std::string blocked_by_failed_plan;  // plan id of a failed plan: automation waits for an operator
  std::optional<WallTime> last_failover;
  // When this process saw the last failover complete, by the monotonic clock: the minimum interval is
  // measured on it when known, so a wall clock stepped forward cannot shorten it (after a restart only the
  // persisted wall time is known).
  std::optional<SteadyTime> last_failover_steady;
  std::string dry_run_decided;     // "from>to" failover journaled as a dry run; cleared when `from` is up
  std::string dry_run_failback;    // "from>home" failback journaled as a dry run; cleared when home is not up
  std::string rejected;            // "from>to" an operator rejected for this outage; cleared when `from` is up
  std::string journal_unwritable;  // the journal's last write failed (its error): nothing new is decided
};

struct OperatorRequest {
  enum class Kind { failover, failback } kind = Kind::failover;
  std::string to;      // failover target (failback: the home region)
  bool force = false;  // skip the target-health and minimum-interval guards
  std::string by;      // who asked ("alice (uid 1000)"), for the decision's reason; may be empty
};

struct Observations {
  std::vector<RegionSummary> regions;
  bool isolated = false;
  bool tilt = false;
  // With several observers: fewer than a quorum of them could be heard, so nothing is known well enough
  // to act on (fail static extended to the observers).
  bool quorum_lost = false;
  std::string quorum_detail;
};

struct Decision {
  enum class Kind { none, failover, failback } kind = Kind::none;
  std::string from;
  std::string to;
  std::string reason;
  bool operator_requested = false;
  bool forced = false;
  bool needs_approval = false;
  bool dry_run = false;
  // Not acting although the active region is down and a target is up: what holds the failover (a pause,
  // a pending approval, a failed plan, the minimum interval, with when it clears). Empty otherwise.
  std::string held;

  bool acts() const { return kind != Kind::none; }
};

std::string_view toString(Decision::Kind k);

Decision decide(const Observations& seen, const PolicyState& state, const PolicyConfig& config,
                const std::optional<OperatorRequest>& request, SteadyTime now, WallTime wall_now);

// Records a dry-run decision in `state`, as the engine does when it journals one.
void recordDryRun(PolicyState& state, const Decision& d);

// Per-tick upkeep of the state: a dry-run failover, and an operator's rejection, are forgotten once the
// region it failed away from is up again, a dry-run failback once home is no longer up, so a later outage
// (or return) is decided, and journaled, again.
void refreshState(PolicyState& state, const Observations& seen);

}  // namespace hale::aggregator
