#pragma once

// The quorum rule: several aggregators ("observers") each publish their own verdict on every region; a
// region counts as down for a decision only when a quorum of the *configured* observers holds a fresh
// `down` verdict for it. Pure: no I/O, no clock reads; `now` and each report's arrival time are parameters.
//
//   needed    = the configured quorum, or a strict majority of all configured observers (not of the living
//               ones: observers that died or cannot reach the store simply do not vote)
//   fresh     = a report first seen (in the leader's own monotonic time) no longer than fresh_within ago;
//               stale reports and reports from observers not in the configuration do not vote
//   down      = at least `needed` fresh observers say down
//   up        = at least `needed` fresh observers say up (a failover target must be up by quorum too)
//   degraded  = anything else: no failover away from it, none to it
//   visible   = at least `needed` observers are fresh; when not, the caller decides nothing (fail static)

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "clock.h"
#include "policy.h"
#include "region_view.h"

namespace hale::aggregator {

struct QuorumConfig {
  std::vector<std::string> observers;  // every configured observer, by name
  uint32_t quorum = 0;                 // 0: a strict majority of `observers`
  std::chrono::milliseconds fresh_within{1500};

  uint32_t needed() const;
};

struct ObserverReport {
  std::string observer;
  SteadyTime heard{};  // when this report's newest version was first seen by the one tallying
  std::vector<std::pair<std::string, Verdict>> verdicts;  // region -> this observer's own verdict
  SteadyTime sighted{};              // when the one tallying first read any version of it (since it started)
  std::vector<std::string> paged{};  // alert keys this observer paged lately (so the others need not)
};

struct RegionTally {
  std::string region;
  uint32_t up = 0;
  uint32_t degraded = 0;
  uint32_t down = 0;
  Verdict verdict = Verdict::degraded;
  std::vector<std::string> down_by;  // fresh observers that say down, for reasons and halectl
};

struct Tally {
  uint32_t needed = 0;
  uint32_t fresh = 0;  // configured observers with a fresh report
  bool visible = false;
  std::vector<std::string> silent;   // configured observers with no fresh report
  std::vector<RegionTally> regions;  // in the order of `regions` asked for

  const RegionTally* region(const std::string& name) const;
};

Tally tally(const QuorumConfig& config, const std::vector<std::string>& regions,
            const std::vector<ObserverReport>& reports, SteadyTime now);

// Replaces each region's verdict in `seen` by the quorum's, and marks a quorum that could not be seen.
void applyTally(Observations& seen, const Tally& t);

// "down by quorum 2/3 (us, witness)" and the like, for reasons and the journal.
std::string describe(const RegionTally& r, const Tally& t);

}  // namespace hale::aggregator
