#include "heartbeat_cadence.h"

#include <algorithm>

namespace hale::agent {

HeartbeatCadence::HeartbeatCadence(Millis interval, SteadyTime start)
    : interval_(interval), next_tick_(start), earliest_change_(start) {}

SteadyTime HeartbeatCadence::due(bool changed) const {
  return changed ? std::min(next_tick_, earliest_change_) : next_tick_;
}

void HeartbeatCadence::sent(SteadyTime at) {
  next_tick_ = at + interval_;
  earliest_change_ = at + kMinChangeGap;
}

}  // namespace hale::agent
