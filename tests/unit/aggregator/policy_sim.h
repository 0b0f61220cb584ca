#pragma once

// Simulated time for the aggregator's pure core: regions and nodes, a heartbeat per node every second at
// the node's own phase, delivered with a seeded jitter, following a behaviour the test gives, ticks every
// 100 ms, the policy asked at every tick, and acting
// decisions applied the way the engine applies them. Hours of behaviour run in milliseconds.

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "observer.h"
#include "policy.h"

namespace hale::aggregator::sim {

using std::chrono::milliseconds;
using Behaviour = std::function<std::optional<heartbeat::NodeStatus>(int64_t t_ms)>;

inline std::optional<heartbeat::NodeStatus> healthy(int64_t) { return heartbeat::NodeStatus::healthy; }
// Healthy until `ms`, then silent forever.
inline Behaviour diesAt(int64_t ms) {
  return [ms](int64_t t) -> std::optional<heartbeat::NodeStatus> {
    if (t < ms) return heartbeat::NodeStatus::healthy;
    return std::nullopt;
  };
}
inline Behaviour silentBetween(int64_t from, int64_t to) {
  return [from, to](int64_t t) -> std::optional<heartbeat::NodeStatus> {
    if (t >= from && t < to) return std::nullopt;
    return heartbeat::NodeStatus::healthy;
  };
}
inline Behaviour reportsUnhealthyFrom(int64_t ms) {
  return [ms](int64_t t) -> std::optional<heartbeat::NodeStatus> {
    return t < ms ? heartbeat::NodeStatus::healthy : heartbeat::NodeStatus::unhealthy;
  };
}

class Sim {
 public:
  // `seed` picks each node's phase (when in the second it sends) and each heartbeat's delivery delay, so
  // nodes are never in lock-step; the same seed gives the same run.
  explicit Sim(uint64_t seed = 1) : rng_(seed) {
    observer_config.detection.suspect_after = milliseconds{2500};
    observer_config.detection.miss_after = milliseconds{4000};
    observer_config.tilt_threshold = milliseconds{2000};
    observer_config.tilt_period = milliseconds{10000};
    policy.home_region = "eu";
    policy.min_failover_interval = std::chrono::minutes{10};
    policy.plans = {{"eu", "us"}, {"us", "eu"}};
    state.active_region = "eu";
    addRegion("eu", 1);
    addRegion("us", 2);
  }

  void addRegion(const std::string& name, int priority, RegionParams params = defaultParams()) {
    observer_config.regions.push_back({name, priority, std::move(params)});
    for (int i = 1; i <= 3; ++i) behaviours[name + "-" + std::to_string(i)] = {name, healthy};
  }
  static RegionParams defaultParams() {
    RegionParams p;
    p.min_healthy = 2;
    p.min_healthy_share = 0.5;
    p.down_after = milliseconds{2000};
    p.up_after = milliseconds{5000};
    return p;
  }
  void setNode(const std::string& id, Behaviour b) { behaviours.at(id).second = std::move(b); }
  void setRegion(const std::string& region, const Behaviour& b) {
    for (auto& [id, rb] : behaviours) {
      if (rb.first == region) rb.second = b;
    }
  }

  // Runs until `until_ms` of simulated time. Every node sends once a second at its own phase; a
  // heartbeat arrives `jitter` later (0..max_jitter_ms) and is read at the first 100 ms tick after.
  // `stall_at`: the aggregator's loop does not run for `stall_ms` from that time (as if SIGSTOPped);
  // heartbeats that arrive meanwhile are read on resume.
  void runUntil(int64_t until_ms, int64_t stall_at = -1, int64_t stall_ms = 0) {
    if (!observer_) start();
    for (; t_ < until_ms; t_ += 100) {
      if (stall_at >= 0 && t_ >= stall_at && t_ < stall_at + stall_ms) continue;
      const SteadyTime now = t0_ + milliseconds{t_};
      for (Sender& s : senders_) {
        while (s.next_sent + s.next_jitter <= t_) {
          if (auto st = s.behaviour->second(s.next_sent); st && !cutOff(s.next_sent + s.next_jitter)) {
            if (database_failing) {
              // Every heartbeat carries the "db" check: failing while database_failing says so.
              const heartbeat::CheckReport db{"db", database_failing(s.id, s.next_sent) ? heartbeat::CheckStatus::fail
                                                                                        : heartbeat::CheckStatus::pass};
              observer_->heartbeat(s.id, *st, now, events, 0, std::span<const heartbeat::CheckReport>(&db, 1));
            } else {
              observer_->heartbeat(s.id, *st, now, events);
            }
          }
          s.next_sent += 1000;
          s.next_jitter = jitter();
        }
      }
      const size_t events_before = events.size();
      observer_->tick(now, events);
      isolation_ended_ = false;
      for (size_t i = events_before; i < events.size(); ++i) isolation_ended_ |= events[i].name == "-fail-static";
      refreshState(state, observer_->observations(now));
      step(now, std::nullopt);
    }
  }

  // An operator request at the current time.
  Decision request(OperatorRequest r) {
    if (!observer_) start();
    return step(t0_ + milliseconds{t_}, r);
  }

  std::vector<Decision> acted() const {
    std::vector<Decision> out;
    for (const Decision& d : decisions) {
      if (d.acts()) out.push_back(d);
    }
    return out;
  }
  const Decision& last() const { return decisions.back(); }
  int64_t actedAt(size_t i) const { return acted_at.at(i); }
  int64_t now() const { return t_; }
  // When node `id` sends (its phase); the first heartbeat is sent at phase(id) ms.
  int64_t phase(const std::string& id) const {
    for (const Sender& s : senders_) {
      if (s.id == id) return s.phase;
    }
    return -1;
  }
  // The last heartbeat any node of `region` sent before `t_ms` (with its behaviour healthy then), or -1.
  int64_t lastSentBefore(const std::string& region, int64_t t_ms) const {
    int64_t last = -1;
    for (const Sender& s : senders_) {
      if (s.behaviour->first != region) continue;
      for (int64_t sent = s.phase; sent < t_ms; sent += 1000) {
        if (s.behaviour->second(sent)) last = std::max(last, sent);
      }
    }
    return last;
  }
  // Did the tick just run end fail static (the first tick with heartbeats arriving again)?
  bool isolationEnded() const { return isolation_ended_; }

  ObserverConfig observer_config;
  PolicyConfig policy;
  PolicyState state;
  std::map<std::string, std::pair<std::string, Behaviour>> behaviours;  // node -> (region, behaviour)
  std::vector<Event> events;
  std::vector<Decision> decisions;
  std::vector<int64_t> acted_at;
  bool complete_plans = true;   // a started plan finishes at once (false: it stays running)
  bool phased = true;           // false: every node sends at the same instant, each whole second
  int64_t max_jitter_ms = 250;  // a heartbeat's largest delivery delay
  bool keep_decisions = true;   // false: only acting decisions are kept (long property runs)
  // The aggregator's own network is cut during these [from, to) windows: heartbeats arriving then are lost
  // (the nodes themselves are fine: the difference matters to tests that judge by what nodes did).
  std::vector<std::pair<int64_t, int64_t>> cut_off;
  // When set, every heartbeat carries a check named "db", failing when this says so (node, time sent).
  std::function<bool(const std::string&, int64_t)> database_failing;
  // Called with every decision and the time it was made, before it is applied.
  std::function<void(const Decision&, int64_t)> on_decision;

 private:
  struct Sender {
    std::string id;
    const std::pair<std::string, Behaviour>* behaviour;
    int64_t phase;
    int64_t next_sent;
    int64_t next_jitter;
  };

  bool cutOff(int64_t arrives) const {
    for (const auto& [from, to] : cut_off) {
      if (arrives >= from && arrives < to) return true;
    }
    return false;
  }

  int64_t jitter() {
    return max_jitter_ms > 0 ? static_cast<int64_t>(rng_() % static_cast<uint64_t>(max_jitter_ms + 1)) : 0;
  }

  void start() {
    observer_.emplace(observer_config, t0_);
    for (const auto& [id, rb] : behaviours) {
      observer_->addNode(id, rb.first, t0_);
      const int64_t phase = phased ? static_cast<int64_t>(rng_() % 1000) : 0;
      senders_.push_back({id, &rb, phase, phase, jitter()});
    }
  }

  Decision step(SteadyTime now, const std::optional<OperatorRequest>& r) {
    const WallTime wall = WallTime{std::chrono::seconds{1'700'000'000}} + milliseconds{t_};
    Decision d = decide(observer_->observations(now), state, policy, r, now, wall);
    if (on_decision) on_decision(d, t_);
    if (keep_decisions || d.acts()) decisions.push_back(d);
    if (!d.acts()) return d;
    acted_at.push_back(t_);
    // Applied as the engine does.
    if (d.dry_run) {
      recordDryRun(state, d);
    } else if (d.needs_approval) {
      state.awaiting_approval = "plan-" + std::to_string(acted_at.size());
    } else if (complete_plans) {
      state.active_region = d.to;
      state.last_failover = wall;
      state.last_failover_steady = now;
    } else {
      state.plan_running = true;
    }
    return d;
  }

  std::mt19937_64 rng_;
  SteadyTime t0_ = SteadyTime{} + std::chrono::hours{100};
  int64_t t_ = 0;
  bool isolation_ended_ = false;
  std::vector<Sender> senders_;
  std::optional<Observer> observer_;
};

}  // namespace hale::aggregator::sim
