#pragma once

// When the agent's next heartbeat is due, as a pure rule over injected instants (no clock, no waiting), so
// it is tested exactly: one interval after the last one sent, or sooner when a check changed status, but
// never sooner than a minimum gap after the last one, so a flapping check cannot flood the aggregators.
// The interval counts from when the last heartbeat actually went out: a late send (a loaded machine) is
// never followed by a burst that catches up.

#include <chrono>

#include "clock.h"

namespace hale::agent {

class HeartbeatCadence {
 public:
  static constexpr Millis kMinChangeGap{50};

  // The first heartbeat is due at `start`.
  HeartbeatCadence(Millis interval, SteadyTime start);

  // When the next heartbeat is due, given whether a status change is waiting to go out.
  SteadyTime due(bool changed) const;
  // The heartbeat went out at `at`.
  void sent(SteadyTime at);

 private:
  Millis interval_;
  SteadyTime next_tick_;
  SteadyTime earliest_change_;
};

}  // namespace hale::agent
