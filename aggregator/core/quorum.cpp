#include "quorum.h"

#include <algorithm>

namespace hale::aggregator {

uint32_t QuorumConfig::needed() const {
  if (quorum != 0) return quorum;
  return static_cast<uint32_t>(observers.size() / 2 + 1);
}

const RegionTally* Tally::region(const std::string& name) const {
  for (const RegionTally& r : regions) {
    if (r.region == name) return &r;
  }
  return nullptr;
}

Tally tally(const QuorumConfig& config, const std::vector<std::string>& regions,
            const std::vector<ObserverReport>& reports, SteadyTime now) {
  Tally t;
  t.needed = config.needed();
  for (const std::string& name : regions) t.regions.push_back(RegionTally{.region = name});
  for (const std::string& observer : config.observers) {
    // One vote per configured observer: the freshest of its reports (a store holds one; be strict anyway).
    const ObserverReport* newest = nullptr;
    for (const ObserverReport& r : reports) {
      if (r.observer == observer && (newest == nullptr || r.heard > newest->heard)) newest = &r;
    }
    if (newest == nullptr || newest->heard > now || now - newest->heard > config.fresh_within) {
      t.silent.push_back(observer);
      continue;
    }
    ++t.fresh;
    for (RegionTally& rt : t.regions) {
      const auto it = std::find_if(newest->verdicts.begin(), newest->verdicts.end(),
                                   [&](const auto& v) { return v.first == rt.region; });
      if (it == newest->verdicts.end()) continue;  // that observer does not know the region: no vote
      switch (it->second) {
        case Verdict::up: ++rt.up; break;
        case Verdict::degraded: ++rt.degraded; break;
        case Verdict::down:
          ++rt.down;
          rt.down_by.push_back(observer);
          break;
      }
    }
  }
  t.visible = t.needed > 0 && t.fresh >= t.needed;
  for (RegionTally& rt : t.regions) {
    // Without a quorum (none needed: no observers configured) or without agreement, degraded.
    rt.verdict = Verdict::degraded;
    if (t.needed > 0 && rt.down >= t.needed) {
      rt.verdict = Verdict::down;
    } else if (t.needed > 0 && rt.up >= t.needed) {
      rt.verdict = Verdict::up;
    }
  }
  return t;
}

void applyTally(Observations& seen, const Tally& t) {
  for (RegionSummary& r : seen.regions) {
    const RegionTally* rt = t.region(r.name);
    if (rt == nullptr) {
      r.verdict = Verdict::degraded;
      r.quorum = "no observer reports this region";
      continue;
    }
    r.verdict = rt->verdict;
    r.quorum = describe(*rt, t);
  }
  seen.quorum_lost = !t.visible;
  std::string silent;
  for (const std::string& o : t.silent) silent += (silent.empty() ? "" : ", ") + o;
  seen.quorum_detail = std::to_string(t.fresh) + " of " + std::to_string(t.needed) + " needed observers heard" +
                       (silent.empty() ? "" : " (silent: " + silent + ")");
}

std::string describe(const RegionTally& r, const Tally& t) {
  std::string by;
  for (const std::string& o : r.down_by) by += (by.empty() ? "" : ", ") + o;
  std::string out = std::string(toString(r.verdict)) + " by quorum: " + std::to_string(r.down) + " of " +
                    std::to_string(t.needed) + " needed observers say down";
  if (!by.empty()) out += " (" + by + ")";
  return out;
}

}  // namespace hale::aggregator
