#pragma once

// The check interface. A check reports the raw outcome of one probe; rise/fall damping, staleness and
// criticality are applied once, outside the checks (health_state.h), so no check re-implements them.

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "clock.h"

namespace hale::agent {

// What one probe found.
//   pass  the thing is fine.
//   warn  it works but is degraded (Nagios WARNING); never makes a node unhealthy by itself.
//   fail  a definitive answer that it is not fine (wrong role, lag over the limit, HTTP 500, plugin
//         CRITICAL): applied at once, waiting would only delay the truth.
//   error the probe could not get an answer (timeout, refused connection, plugin UNKNOWN): transient
//         until `fall` consecutive errors, so one lost packet does not flip the node.
enum class Outcome { pass, warn, fail, error };

// What a database check found its server to be, for the primary lease (lease_keeper.h). `none`: not a
// database check, or no answer.
enum class DbRole { none, standby, read_only_primary, writable_primary };
std::string_view toString(DbRole r);

struct CheckResult {
  Outcome outcome = Outcome::error;
  std::string message;  // short, for /healthz and heartbeats (truncated to the wire limit); no secrets
  DbRole role = DbRole::none;
  std::string position;  // a writable primary's flushed WAL position (PostgreSQL), for the RPO gate
};

class Fencer;

struct CheckContext {
  SteadyTime deadline;                // the probe must give up by then
  const std::atomic<bool>* stopping;  // set when the agent shuts down or reloads: give up early
  const Clock* clock;

  std::chrono::milliseconds remaining() const {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock->steadyNow());
    return left.count() > 0 ? left : std::chrono::milliseconds{0};
  }
  bool expired() const { return clock->steadyNow() >= deadline || stopping->load(std::memory_order_relaxed); }
};

class Check {
 public:
  virtual ~Check() = default;
  // Runs one probe. Must honour ctx.deadline (the scheduler reports a run past its deadline as a timeout
  // and ignores its late result) and must not throw. Called from one thread at a time.
  virtual CheckResult run(const CheckContext& ctx) noexcept = 0;
  // The built-in fence of the database this check probes (fencer.h); nullptr for checks of other things.
  // (Defined in check_registry.cpp, where Fencer is complete.)
  virtual std::unique_ptr<Fencer> makeFencer() const;
};

}  // namespace hale::agent
