// The failover policy against random fault schedules: two or three regions, nodes and whole regions
// silent or unhealthy and back at different instants, the aggregator isolated (every node silent at once)
// (every heartbeat lost for a while, the nodes themselves fine) or stalled, random guards. Every schedule is checked
// against invariants computed from what the nodes really did (not from the aggregator's view):
//   1. never fail away from a region one of whose nodes kept sending healthy heartbeats, nor before every
//      node of it can have failed and down_after passed;
//   2. never fail over (or back) to a region with fewer than min_healthy nodes heard healthy lately;
//   3. at most one automatic decision per outage of its source region;
//   4. nothing decided on the tick an isolation ends;
//   5. (liveness) an active region that dies for good, with a healthy target, no holds and no own fault,
//      is failed away from within miss_after + down_after and a little slack.
// Seeded: a failure prints the seed, and HALE_POLICY_SEED=<seed> replays that one schedule.
// HALE_POLICY_SCHEDULES sets how many run (default 10 000).

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <random>
#include <sstream>

#include "policy_sim.h"

namespace hale::aggregator {
namespace {

using H = heartbeat::NodeStatus;
using std::chrono::milliseconds;

constexpr int64_t kHorizon = 90'000;
constexpr int64_t kTick = 100;

// A node's fault: from `from` until `to`, silent (status empty) or reporting `status`.
struct Fault {
  int64_t from;
  int64_t to;
  std::optional<H> status;
};

struct Stall {
  int64_t at;
  int64_t ms;
};

struct Schedule {
  uint64_t seed = 0;
  std::vector<std::string> regions;
  std::map<std::string, std::vector<Fault>> faults;  // by node id
  std::vector<Stall> stalls;                         // in time order, not overlapping
  std::vector<std::pair<int64_t, int64_t>> isolations;
  PolicyConfig policy;
  std::string described;

  std::optional<H> status(const std::string& node, int64_t t) const {
    const auto it = faults.find(node);
    if (it != faults.end()) {
      for (const Fault& f : it->second) {
        if (t >= f.from && t < f.to) return f.status;
      }
    }
    return H::healthy;
  }
};

int64_t pick(std::mt19937_64& rng, int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
}
bool chance(std::mt19937_64& rng, int percent) { return pick(rng, 1, 100) <= percent; }

std::string nodeId(const std::string& region, int i) { return region + "-" + std::to_string(i); }

Schedule generate(uint64_t seed) {
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL + 1);
  Schedule s;
  s.seed = seed;
  s.regions = {"eu", "us"};
  if (chance(rng, 50)) s.regions.push_back("ap");
  std::ostringstream d;
  // Plans: usually every pair; sometimes some missing.
  for (const std::string& a : s.regions) {
    for (const std::string& b : s.regions) {
      if (a != b && (chance(rng, 85))) s.policy.plans.emplace_back(a, b);
    }
  }
  s.policy.home_region = "eu";
  const int64_t intervals[] = {0, 20'000, 600'000};
  s.policy.min_failover_interval = milliseconds{intervals[pick(rng, 0, 2)]};
  s.policy.auto_failback = chance(rng, 40);
  s.policy.failback_after = milliseconds{pick(rng, 5, 30) * 1000};
  s.policy.dry_run = chance(rng, 10);
  s.policy.manual_approval = chance(rng, 10);

  auto fault = [&](const std::string& node, int64_t from, int64_t to, std::optional<H> st) {
    s.faults[node].push_back({from, to, st});
  };
  const int n_faults = static_cast<int>(pick(rng, 0, 6));
  for (int k = 0; k < n_faults; ++k) {
    const std::string& r = s.regions[pick(rng, 0, static_cast<int64_t>(s.regions.size()) - 1)];
    const int64_t from = pick(rng, 0, 80'000);
    const int64_t len = chance(rng, 25) ? kHorizon : pick(rng, 500, 40'000);
    const std::optional<H> st = chance(rng, 25) ? std::optional<H>{H::unhealthy} : std::nullopt;
    switch (pick(rng, 0, 3)) {
      case 0:  // the whole region at once
        for (int i = 1; i <= 3; ++i) fault(nodeId(r, i), from, from + len, st);
        d << r << " down " << from << "+" << len << "; ";
        break;
      case 1:  // the whole region, node by node, back node by node
        for (int i = 1; i <= 3; ++i) {
          fault(nodeId(r, i), from + pick(rng, 0, 8'000), from + len + pick(rng, 0, 8'000), st);
        }
        d << r << " staggered " << from << "+" << len << "; ";
        break;
      case 2: {  // one node
        const int i = static_cast<int>(pick(rng, 1, 3));
        fault(nodeId(r, i), from, from + len, st);
        d << nodeId(r, i) << " down " << from << "+" << len << "; ";
        break;
      }
      default: {  // two nodes of three, at different instants
        const int spared = static_cast<int>(pick(rng, 1, 3));
        for (int i = 1; i <= 3; ++i) {
          if (i != spared) fault(nodeId(r, i), from + pick(rng, 0, 5'000), from + len, st);
        }
        d << r << " two of three " << from << "+" << len << "; ";
        break;
      }
    }
  }
  // Our own isolation: the aggregator hears nobody (the nodes are fine), then regions are heard again at
  // different instants (a region heard later had its own path cut for that long: a fault of that region).
  if (chance(rng, 30)) {
    const int64_t from = pick(rng, 5'000, 70'000);
    const int64_t len = pick(rng, 3'000, 30'000);
    for (const std::string& r : s.regions) {
      if (!chance(rng, 50)) continue;
      const int64_t later = pick(rng, 1, 8'000);
      for (int i = 1; i <= 3; ++i) fault(nodeId(r, i), from + len, from + len + later, std::nullopt);
      d << r << " heard " << later << " later; ";
    }
    s.isolations.emplace_back(from, from + len);
    d << "isolated " << from << "+" << len << "; ";
  }
  // Our own stalls (SIGSTOP, a clock jump).
  int64_t after = 3'000;
  while (chance(rng, 25) && after < 80'000) {
    const int64_t at = pick(rng, after, after + 30'000);
    const int64_t ms = pick(rng, 2'500, 12'000);
    s.stalls.push_back({at, ms});
    d << "stall " << at << "+" << ms << "; ";
    after = at + ms + 1'000;
  }
  d << "plans " << s.policy.plans.size() << ", interval " << s.policy.min_failover_interval.count()
    << (s.policy.auto_failback ? ", auto failback" : "") << (s.policy.dry_run ? ", dry run" : "")
    << (s.policy.manual_approval ? ", approval" : "");
  s.described = d.str();
  return s;
}

struct Acted {
  Decision decision;
  int64_t at;
};

struct Outcome {
  std::vector<Acted> acted;
  std::vector<int64_t> isolation_end_ticks;  // ticks on which fail static ended
  std::map<std::string, int64_t> phase;
  std::string active_at_end;
};

Outcome run(const Schedule& sc) {
  sim::Sim s(sc.seed);
  s.observer_config.regions.clear();
  s.behaviours.clear();
  int priority = 1;
  for (const std::string& r : sc.regions) s.addRegion(r, priority++);
  s.policy = sc.policy;
  s.keep_decisions = false;
  s.cut_off = sc.isolations;
  for (auto& [id, rb] : s.behaviours) {
    rb.second = [&sc, id = id](int64_t t) { return sc.status(id, t); };
  }
  Outcome out;
  const bool trace = std::getenv("HALE_POLICY_TRACE") != nullptr;
  size_t events_printed = 0;
  s.on_decision = [&](const Decision& d, int64_t t) {
    if (trace) {
      for (; events_printed < s.events.size(); ++events_printed) {
        const Event& e = s.events[events_printed];
        std::printf("%6lld %s %s %s\n", static_cast<long long>(t), e.name.c_str(), e.subject.c_str(), e.detail.c_str());
      }
      if (d.acts() || !d.held.empty()) std::printf("%6lld decision: %s\n", static_cast<long long>(t), d.reason.c_str());
    }
    if (s.isolationEnded()) out.isolation_end_ticks.push_back(t);
    if (d.acts()) out.acted.push_back({d, t});
  };
  for (const Stall& st : sc.stalls) s.runUntil(st.at + st.ms, st.at, st.ms);
  s.runUntil(kHorizon);
  for (const auto& [id, rb] : s.behaviours) {
    out.phase[id] = s.phase(id);
    if (trace) {
      std::printf("%s sends at %lld ms:", id.c_str(), static_cast<long long>(s.phase(id)));
      for (int64_t t = s.phase(id); t < kHorizon; t += 1000) {
        const std::optional<H> st = sc.status(id, t);
        std::printf("%c", !st ? '.' : *st == H::healthy ? '+' : '-');
      }
      std::printf("\n");
    }
  }
  out.active_at_end = s.state.active_region;
  return out;
}

// What the nodes really did, at the instants they sent.
class Truth {
 public:
  // `unknowable_ms`: how long after our own network is cut we cannot yet tell it from the nodes dying
  // (fail static needs every node silent for suspect_after); heartbeats sent then count as silent for the
  // invariants about failing away. Later in a cut they count as what the nodes did: nothing may be decided
  // against them once we know we are cut off.
  Truth(const Schedule& sc, const Outcome& o, int64_t unknowable_ms, int64_t read_ms)
      : sc_(sc), o_(o), unknowable_ms_(unknowable_ms), read_ms_(read_ms) {}

  // Some node of `region` sent healthy heartbeats at every instant it sent within [from, to].
  bool someNodeHealthyThroughout(const std::string& region, int64_t from, int64_t to) const {
    for (int i = 1; i <= 3; ++i) {
      const std::string id = nodeId(region, i);
      bool all = true;
      for (int64_t t = firstSend(id, from); t <= to; t += 1000) all &= knowable(id, t) == H::healthy;
      if (all) return true;
    }
    return false;
  }
  // Nodes of `region` with a healthy heartbeat sent within [from, to].
  int healthyNodesWithin(const std::string& region, int64_t from, int64_t to) const {
    int n = 0;
    for (int i = 1; i <= 3; ++i) {
      const std::string id = nodeId(region, i);
      for (int64_t t = firstSend(id, from); t <= to; t += 1000) {
        if (heard(id, t) == H::healthy) {
          ++n;
          break;
        }
      }
    }
    return n;
  }
  // The last instant any node of `region` sent a healthy heartbeat (-1: never).
  int64_t lastHealthySend(const std::string& region) const {
    int64_t last = -1;
    for (int i = 1; i <= 3; ++i) {
      const std::string id = nodeId(region, i);
      for (int64_t t = o_.phase.at(id); t < kHorizon; t += 1000) {
        if (sc_.status(id, t) == H::healthy) last = std::max(last, t);
      }
    }
    return last;
  }
  // When every node of `region` is failed for good by the tracker's rule (fall = 2 unhealthy heartbeats
  // in a row, or `silent_ms` after the last one read), heartbeats read `read_ms` after they are sent.
  int64_t failedBy(const std::string& region, int64_t read_ms, int64_t silent_ms) const {
    int64_t all = -1;
    for (int i = 1; i <= 3; ++i) {
      const std::string id = nodeId(region, i);
      int64_t last_healthy = -1;
      for (int64_t t = o_.phase.at(id); t < kHorizon; t += 1000) {
        if (sc_.status(id, t) == H::healthy) last_healthy = t;
      }
      // An upper bound: every heartbeat is taken as read as late as it can be.
      int64_t last_read = last_healthy + read_ms;
      int64_t failed = -1;
      int unhealthy = 0;
      for (int64_t t = last_healthy + 1000; failed < 0; t += 1000) {
        if (t > last_read + silent_ms) {
          failed = last_read + silent_ms;  // silent too long before this heartbeat could arrive
          break;
        }
        if (t >= kHorizon || !sc_.status(id, t)) continue;
        last_read = t + read_ms;  // unhealthy: heard, and one more in a row
        if (++unhealthy == 2) failed = last_read;
      }
      all = std::max(all, failed);
    }
    return all;
  }
  // The earliest instant every node of `region` can have been failed, as of `before`: each node is alive
  // at its last pair of healthy heartbeats in a row surely read by `before` (sent `read_ms` earlier at the
  // latest, outside any cut; either it was not failed, or it rose with them). From then on each heartbeat
  // is taken as read at once, but the next may arrive up to `read_ms` late: the node fails at its second
  // unhealthy heartbeat in a row, or `silent_ms` after the last one read if the next could come later.
  // A heartbeat that may or may not have been lost in a cut is tried both ways. Nodes never heard count
  // their silence from the start.
  int64_t failedAtEarliest(const std::string& region, int64_t before, int64_t silent_ms, int64_t read_ms) const {
    int64_t all = 0;
    for (int i = 1; i <= 3; ++i) {
      const std::string id = nodeId(region, i);
      int64_t alive = -1;
      for (int64_t t = o_.phase.at(id) + 1000; t + read_ms <= before; t += 1000) {
        if (delivered(id, t, read_ms) == Delivery::yes && delivered(id, t - 1000, read_ms) == Delivery::yes &&
            sc_.status(id, t) == H::healthy && sc_.status(id, t - 1000) == H::healthy) {
          alive = t;
        }
      }
      const int64_t start = alive < 0 ? o_.phase.at(id) : alive + 1000;
      all = std::max(all, failWalk(id, start, std::max<int64_t>(alive, 0), 0, before, silent_ms, read_ms));
    }
    return all;
  }
  // Outages of `region` begun by `t`: how often it went from some node sending healthy to none.
  int outagesBegunBy(const std::string& region, int64_t t) const {
    int outages = 0;
    bool alive = true;
    for (int64_t ms = 0; ms <= t; ms += kTick) {
      // Alive at `ms`: some node's latest heartbeat sent by then was healthy.
      bool now_alive = false;
      for (int i = 1; i <= 3 && !now_alive; ++i) {
        const std::string id = nodeId(region, i);
        const int64_t phase = o_.phase.at(id);
        if (ms < phase) {
          now_alive = true;  // not yet due to send
          continue;
        }
        const int64_t latest = phase + (ms - phase) / 1000 * 1000;
        now_alive = sc_.status(id, latest) == H::healthy;
      }
      if (alive && !now_alive) ++outages;
      alive = now_alive;
    }
    return outages;
  }

 private:
  enum class Delivery { yes, no, maybe };
  // Whether the heartbeat node `id` sent at `t` reached us: not when it arrived in a cut (its arrival is
  // somewhere in [t, t + read_ms]), nor when the node was silent.
  Delivery delivered(const std::string& id, int64_t t, int64_t read_ms) const {
    if (!sc_.status(id, t)) return Delivery::no;
    for (const auto& [from, to] : sc_.isolations) {
      if (t >= from && t + read_ms < to) return Delivery::no;
      if (t + read_ms >= from && t < to) return Delivery::maybe;
    }
    return Delivery::yes;
  }
  // The earliest failure of node `id` walking its heartbeats from `t`, the last read at `last_read`.
  int64_t failWalk(const std::string& id, int64_t t, int64_t last_read, int unhealthy, int64_t before,
                   int64_t silent_ms, int64_t read_ms) const {
    for (;; t += 1000) {
      if (t + read_ms > last_read + silent_ms) return last_read + silent_ms;
      if (t > before) return t;  // not failed by `before`: any later instant will do
      const Delivery got = delivered(id, t, read_ms);
      if (got == Delivery::no) continue;
      const bool bad = sc_.status(id, t) != H::healthy;
      const int64_t if_read = bad && unhealthy + 1 == 2
                                  ? t
                                  : failWalk(id, t + 1000, t, bad ? unhealthy + 1 : 0, before, silent_ms, read_ms);
      if (got == Delivery::yes) return if_read;
      return std::min(if_read, failWalk(id, t + 1000, last_read, unhealthy, before, silent_ms, read_ms));
    }
  }

  // What node `id` sent at `t`, as we could know it: silent when it may have arrived early in a cut.
  std::optional<H> knowable(const std::string& id, int64_t t) const {
    for (const auto& [from, to] : sc_.isolations) {
      if (t + read_ms_ >= from && t < std::min(to, from + unknowable_ms_)) return std::nullopt;
    }
    return sc_.status(id, t);
  }
  // What node `id` sent at `t`, as we heard it: silent when it surely arrived in a cut.
  std::optional<H> heard(const std::string& id, int64_t t) const {
    for (const auto& [from, to] : sc_.isolations) {
      if (t >= from && t + read_ms_ < to) return std::nullopt;
    }
    return sc_.status(id, t);
  }

  int64_t firstSend(const std::string& id, int64_t from) const {
    const int64_t phase = o_.phase.at(id);
    if (from <= phase) return phase;
    return phase + (from - phase + 999) / 1000 * 1000;
  }

  const Schedule& sc_;
  const Outcome& o_;
  int64_t unknowable_ms_;
  int64_t read_ms_;
};

struct Stats {
  int schedules = 0;
  int failovers = 0;
  int failbacks = 0;
  int liveness_checked = 0;
  int isolation_ends = 0;
};

std::string check(const Schedule& sc, const Outcome& o, const sim::Sim& defaults, Stats& stats) {
  const auto& det = defaults.observer_config.detection;
  const RegionParams params = sim::Sim::defaultParams();
  const int64_t jitter = defaults.max_jitter_ms;
  const Truth truth(sc, o, det.suspect_after.count() + jitter + 2 * kTick, jitter + kTick);
  std::ostringstream bad;
  std::map<std::string, std::vector<int>> outages_decided;  // region -> outage numbers failed away from

  for (const Acted& a : o.acted) {
    const Decision& d = a.decision;
    const int64_t t = a.at;
    const bool failover = d.kind == Decision::Kind::failover;
    (failover ? stats.failovers : stats.failbacks)++;
    // 1. A node that kept sending healthy heartbeats for the time a failed node needs to rise (two
    //    heartbeats), plus their delivery, keeps its region alive: no failover away from it.
    const int64_t kept_alive = int64_t{2} * 1000 + jitter + kTick + 1000;
    if (failover && truth.someNodeHealthyThroughout(d.from, t - kept_alive, t)) {
      bad << "failed over away from " << d.from << " at " << t << " though one of its nodes was healthy since "
          << t - kept_alive << "; ";
    }
    // 1b. Not too early: every node of the source failed (two unhealthy heartbeats in a row after its last
    //     two healthy ones, or miss_after of silence after them, taking each heartbeat as read at once),
    //     then down_after passed.
    if (failover) {
      const int64_t earliest =
          truth.failedAtEarliest(d.from, t, det.miss_after.count(), jitter + kTick) + params.down_after.count();
      if (t < earliest) {
        bad << "failed over away from " << d.from << " at " << t << ", before it could have been lost for down_after ("
            << earliest << "); ";
      }
    }
    // 2. The target had min_healthy nodes heard healthy within suspect_after (plus delivery).
    const int64_t heard_within = det.suspect_after.count() + jitter + kTick;
    if (truth.healthyNodesWithin(d.to, t - heard_within, t) < static_cast<int>(params.min_healthy)) {
      bad << toString(d.kind) << " to " << d.to << " at " << t << " though fewer than " << params.min_healthy
          << " of its nodes sent a healthy heartbeat since " << t - heard_within << "; ";
    }
    // 3. One automatic decision per outage of the region failed away from.
    if (failover && !d.operator_requested) {
      const int outage = truth.outagesBegunBy(d.from, t);
      auto& seen = outages_decided[d.from];
      if (std::find(seen.begin(), seen.end(), outage) != seen.end()) {
        bad << "second decision for outage " << outage << " of " << d.from << " at " << t << "; ";
      }
      seen.push_back(outage);
    }
    // 4. Not on the tick an isolation ends.
    if (std::find(o.isolation_end_ticks.begin(), o.isolation_end_ticks.end(), t) != o.isolation_end_ticks.end()) {
      bad << "decided at " << t << ", the tick fail static ended; ";
    }
  }
  stats.isolation_ends += static_cast<int>(o.isolation_end_ticks.size());

  // 5. Liveness, where nothing excuses a missing failover: eu (active, home) dies for good at `dead`, a
  //    region with a plan keeps min_healthy nodes healthy, nothing else was decided, no holds, no stall or
  //    isolation near it.
  const PolicyConfig& p = sc.policy;
  if (!p.dry_run && !p.manual_approval && o.acted.size() <= 1) {
    const int64_t dead = truth.lastHealthySend("eu") + 1;  // no eu node sends healthy from then on
    // Each node fails at its second unhealthy heartbeat in a row, or miss_after after its last heartbeat
    // read; the region is lost when the last one fails, down after down_after (not before the start-up
    // grace ends); each step waits for a tick.
    const int64_t read = jitter + kTick;
    const int64_t lost = truth.failedBy("eu", read, det.miss_after.count() + kTick);
    const int64_t grace = defaults.observer_config.startup_grace.count();
    const int64_t deadline = std::max(lost, grace) + params.down_after.count() + kTick;
    bool quiet = dead > 0 && deadline < kHorizon;
    for (const Stall& st : sc.stalls) quiet &= st.at + st.ms + 12'000 < dead || st.at > deadline;
    for (const auto& [from, to] : sc.isolations) quiet &= to + 15'000 < dead || from > deadline;
    bool target = false;
    for (const std::string& r : sc.regions) {
      if (r == "eu" || std::find(p.plans.begin(), p.plans.end(), std::make_pair(std::string("eu"), r)) == p.plans.end())
        continue;
      // Healthy nodes all along: two that never fault after start-up.
      int steady = 0;
      for (int i = 1; i <= 3; ++i) steady += sc.faults.count(nodeId(r, i)) == 0 ? 1 : 0;
      target |= steady >= static_cast<int>(params.min_healthy);
    }
    // Only while eu is still active when it dies for good (no earlier decision moved it away).
    const bool eu_active = o.acted.empty() || o.acted.front().at >= dead;
    if (quiet && target && eu_active && !o.acted.empty()) {
      const Acted& a = o.acted.front();
      if (a.decision.from != "eu" || a.at > deadline) {
        bad << "first decision after eu died for good at " << dead << ": " << toString(a.decision.kind) << " "
            << a.decision.from << " -> " << a.decision.to << " at " << a.at << ", deadline " << deadline << "; ";
      }
      ++stats.liveness_checked;
    } else if (quiet && target && eu_active && dead > 5'000 + 1'500) {
      bad << "eu dead since " << dead << " with a healthy target and no holds, but no failover by " << kHorizon << "; ";
      ++stats.liveness_checked;
    }
  }
  return bad.str();
}

uint64_t envNumber(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

TEST(PolicyProperty, RandomFaultSchedulesKeepTheInvariants) {
  const sim::Sim defaults;
  Stats stats;
  int failed = 0;
  std::vector<uint64_t> seeds;
  if (const uint64_t one = envNumber("HALE_POLICY_SEED", 0); one != 0) {
    seeds.push_back(one);
  } else {
    for (uint64_t i = 1; i <= envNumber("HALE_POLICY_SCHEDULES", 10'000); ++i) seeds.push_back(i);
  }
  for (const uint64_t seed : seeds) {
    const Schedule sc = generate(seed);
    const Outcome o = run(sc);
    ++stats.schedules;
    const std::string bad = check(sc, o, defaults, stats);
    if (!bad.empty() && ++failed <= 400) {
      ADD_FAILURE() << "seed " << seed << " (" << sc.described << "): " << bad;
    }
  }
  std::printf("%d schedules: %d failovers, %d failbacks, liveness checked in %d, %d isolations ended; %d failed\n",
              stats.schedules, stats.failovers, stats.failbacks, stats.liveness_checked, stats.isolation_ends, failed);
  EXPECT_EQ(failed, 0);
  // The invariants must have had something to hold on: a run that decides nothing passes 1-4 vacuously.
  if (seeds.size() >= 1'000) {
    EXPECT_GT(stats.failovers, stats.schedules / 10);
    EXPECT_GT(stats.failbacks, stats.schedules / 100);
    EXPECT_GT(stats.liveness_checked, stats.schedules / 50);
    EXPECT_GT(stats.isolation_ends, stats.schedules / 10);
  }
}

}  // namespace
}  // namespace hale::aggregator
