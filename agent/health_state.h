#pragma once

// Rise/fall damping for one check: pure, no clock reads, no I/O.
//
// From `unknown` (no result yet) the first outcome decides at once, so a node is ready as soon as its
// checks have run once. After that: `rise` consecutive passes to go from failing to passing, `fall`
// consecutive errors to go from passing to failing; a definitive `fail` fails at once; `warn` shows at
// once from a passing state, counts toward `rise` from a failing one, and never counts toward `fall`.

#include <cstdint>

#include "check.h"
#include "heartbeat.h"

namespace hale::agent {

using heartbeat::CheckStatus;

struct Thresholds {
  uint32_t rise = 2;
  uint32_t fall = 3;
};

struct HealthState {
  CheckStatus status = CheckStatus::unknown;
  uint32_t consecutive_pass = 0;
  uint32_t consecutive_bad = 0;  // errors (and fails) in a row
};

HealthState applyOutcome(const HealthState& state, Outcome outcome, const Thresholds& t);

// The node as a whole: unhealthy if any critical check is not pass/warn (unknown included: not ready);
// degraded if any check warns or any non-critical check fails; healthy otherwise.
struct CheckSummary {
  CheckStatus status;
  bool critical;
};
heartbeat::NodeStatus nodeStatus(const CheckSummary* checks, size_t count);

}  // namespace hale::agent
