#include "health_state.h"

namespace hale::agent {

HealthState applyOutcome(const HealthState& state, Outcome outcome, const Thresholds& t) {
  HealthState next = state;
  switch (outcome) {
    case Outcome::pass:
      next.consecutive_pass = state.consecutive_pass + 1;
      next.consecutive_bad = 0;
      if (state.status == CheckStatus::unknown || state.status == CheckStatus::warn ||
          (state.status == CheckStatus::fail && next.consecutive_pass >= t.rise)) {
        next.status = CheckStatus::pass;
      }
      break;
    case Outcome::warn:
      // An answer that works, degraded: it counts toward `rise` like a pass, and shows as warn.
      next.consecutive_pass = state.consecutive_pass + 1;
      next.consecutive_bad = 0;
      if (state.status != CheckStatus::fail || next.consecutive_pass >= t.rise) next.status = CheckStatus::warn;
      break;
    case Outcome::fail:
      next.consecutive_pass = 0;
      next.consecutive_bad = state.consecutive_bad + 1;
      next.status = CheckStatus::fail;
      break;
    case Outcome::error:
      next.consecutive_pass = 0;
      next.consecutive_bad = state.consecutive_bad + 1;
      if (state.status == CheckStatus::unknown || next.consecutive_bad >= t.fall) next.status = CheckStatus::fail;
      break;
  }
  return next;
}

heartbeat::NodeStatus nodeStatus(const CheckSummary* checks, size_t count) {
  bool degraded = false;
  for (size_t i = 0; i < count; ++i) {
    const CheckSummary& c = checks[i];
    if (c.status == CheckStatus::pass) continue;
    if (c.status == CheckStatus::warn) {
      degraded = true;
      continue;
    }
    if (c.critical) return heartbeat::NodeStatus::unhealthy;
    degraded = true;
  }
  return degraded ? heartbeat::NodeStatus::degraded : heartbeat::NodeStatus::healthy;
}

}  // namespace hale::agent
