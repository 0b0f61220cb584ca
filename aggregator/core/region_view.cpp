#include "region_view.h"

namespace hale::aggregator {

std::string_view toString(Verdict v) {
  switch (v) {
    case Verdict::up: return "up";
    case Verdict::degraded: return "degraded";
    case Verdict::down: return "down";
  }
  return "?";
}

RegionState newRegion(SteadyTime now) {
  RegionState r;
  r.since = now;
  return r;
}

std::string_view regionEvent(Verdict before, Verdict after) {
  if (before == after) return {};
  if (after == Verdict::down) return "+region-down";
  if (before == Verdict::down) return "-region-down";
  return after == Verdict::degraded ? "+region-degraded" : "-region-degraded";
}

Verdict evaluate(RegionState& r, const NodeCounts& c, SteadyTime now, const RegionParams& p, bool frozen) {
  const Verdict before = r.verdict;
  const uint32_t alive = c.healthy + c.suspect + c.unknown;
  const double n = c.total > 0 ? static_cast<double>(c.total) : 1.0;
  const bool lost = alive == 0 || (p.fail_over_below > 0 && alive < p.fail_over_below) ||
                    (!p.database_check.empty() && c.database_failed * 2 > c.database_reported);
  // Up needs the region not lost too: healthy nodes whose database check fails (a non-critical check)
  // must not bring a down region back up, only for it to go down again on the next tick.
  const bool above = !lost && c.healthy >= p.min_healthy && static_cast<double>(c.healthy) / n >= p.min_healthy_share;
  if (lost != r.lost) {
    r.lost = lost;
    r.lost_since = now;
  }
  if (above != r.above) {
    r.above = above;
    r.above_since = now;
  }
  if (frozen) {
    // The clocks restart when the freeze ends: time spent frozen is no evidence either way.
    r.lost_since = now;
    r.above_since = now;
    return before;
  }

  Verdict next = r.verdict;
  if (r.verdict == Verdict::down) {
    if (above && now - r.above_since >= p.up_after) next = Verdict::up;
  } else if (lost && now - r.lost_since >= p.down_after) {
    next = Verdict::down;
  } else {
    next = above ? Verdict::up : Verdict::degraded;
  }
  if (next != r.verdict) {
    r.verdict = next;
    r.since = now;
  }
  return before;
}

}  // namespace hale::aggregator
