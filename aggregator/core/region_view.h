#pragma once

// A region's verdict from its nodes: up / degraded / down, with hysteresis. Pure.
//
//   alive   = healthy + suspect + unknown nodes (not yet failed: the benefit of the doubt)
//   lost    = no node alive; or, when the operator set fail_over_below, fewer nodes alive than that; or,
//             with a database_check, a majority of the nodes heard from lately (within suspect_after,
//             whatever their health) reporting that check failed
//   short   = alive < min_healthy, or alive / known nodes < min_healthy_share
//   up      = not lost, healthy >= min_healthy and healthy / nodes >= min_healthy_share
// `down` (what fails over) only after `lost` held for down_after; back out of `down` only after `up` held
// for up_after; otherwise `up`, or `degraded` (alerts, never fails over) when short. Losing app nodes while
// the database is healthy is degraded, not down: a failover would move a healthy primary.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "clock.h"

namespace hale::aggregator {

enum class Verdict : uint8_t { up, degraded, down };
std::string_view toString(Verdict v);

struct RegionParams {
  uint32_t min_healthy = 1;
  double min_healthy_share = 0.5;
  uint32_t fail_over_below = 0;  // 0: only a region with no node alive (or its database lost) is down
  std::string database_check;    // the check whose failure on most nodes means the database is lost
  std::chrono::milliseconds down_after{3000};
  std::chrono::milliseconds up_after{10000};
};

struct NodeCounts {
  uint32_t total = 0;
  uint32_t healthy = 0;
  uint32_t suspect = 0;
  uint32_t failed = 0;
  uint32_t unknown = 0;
  uint32_t healthy_heard = 0;      // healthy nodes whose heartbeat really arrived within suspect_after (not forgiven)
  uint32_t database_reported = 0;  // nodes heard within suspect_after whose heartbeat carried the database check
  uint32_t database_failed = 0;    // ... and reported it failing
};

struct RegionState {
  Verdict verdict = Verdict::up;
  SteadyTime since{};  // when `verdict` last changed
  bool lost = false;
  SteadyTime lost_since{};
  bool above = false;  // "up" condition holds
  SteadyTime above_since{};
};

RegionState newRegion(SteadyTime now);

// Re-evaluates with the current counts. `frozen` (the aggregator suspects its own isolation, is in TILT
// or starting, or has not heard the region yet) keeps the verdict where it is and restarts the
// down_after/up_after clocks. Returns the verdict before.
Verdict evaluate(RegionState& r, const NodeCounts& c, SteadyTime now, const RegionParams& p, bool frozen);

std::string_view regionEvent(Verdict before, Verdict after);

}  // namespace hale::aggregator
