// The aggregator's pure core at fleet scale: an Observer tracking N nodes in 20 regions, a heartbeat
// applied to each node, then one evaluation as the tick loop makes it (tick, observations, decide).
// The baseline is the same work on 1 000 nodes in the same run: the per-node ratio shows whether the
// cost grows with the fleet linearly. One region is silent, so the evaluation finds a region down and
// decides a failover, the most work a tick does.
// Prints a human summary on stderr and one JSON object on stdout.
//
//   bench_policy_scale [NODES]     (default 100000)

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "observer.h"
#include "policy.h"

namespace {

using hale::SteadyTime;
using hale::aggregator::Decision;
using hale::aggregator::Event;
using hale::aggregator::Observer;
using hale::aggregator::ObserverConfig;
using hale::aggregator::PolicyConfig;
using hale::aggregator::PolicyState;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kRegions = 20;

struct Figures {
  size_t nodes = 0;
  double heartbeat_ns = 0;   // per heartbeat applied
  double evaluation_ms = 0;  // one tick + observations + decide, best of the rounds
  std::string decision;
};

std::string regionName(int r) { return "region-" + std::to_string(r); }

Figures measure(size_t nodes, int rounds) {
  ObserverConfig config;
  config.startup_grace = milliseconds{0};
  for (int r = 0; r < kRegions; ++r) {
    hale::aggregator::RegionConfig rc;
    rc.name = regionName(r);
    rc.priority = 100 + r;
    rc.params.down_after = milliseconds{1000};
    config.regions.push_back(rc);
  }
  PolicyConfig policy;
  policy.home_region = regionName(0);
  for (int r = 1; r < kRegions; ++r) policy.plans.emplace_back(regionName(0), regionName(r));
  PolicyState state;
  state.active_region = regionName(0);

  SteadyTime now{seconds{1000}};
  Observer observer(config, now);
  std::vector<std::string> ids;
  ids.reserve(nodes);
  for (size_t i = 0; i < nodes; ++i) {
    ids.push_back("node-" + std::to_string(i));
    observer.addNode(ids.back(), regionName(static_cast<int>(i % kRegions)), now);
  }
  std::vector<Event> events;
  Figures f;
  f.nodes = nodes;
  // Heartbeats for a while, every node once a second; region 0 then goes silent and is lost.
  double best_heartbeat = 1e300;
  for (int second = 0; second < 12; ++second) {
    now += seconds{1};
    const bool region0_dead = second >= 4;
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < nodes; ++i) {
      if (region0_dead && i % kRegions == 0) continue;
      observer.heartbeat(ids[i], hale::heartbeat::NodeStatus::healthy, now, events);
    }
    const auto t1 = std::chrono::steady_clock::now();
    const size_t sent = region0_dead ? nodes - (nodes + kRegions - 1) / kRegions : nodes;
    best_heartbeat =
        std::min(best_heartbeat, std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(sent));
    observer.tick(now, events);
    events.clear();
  }
  f.heartbeat_ns = best_heartbeat;

  double best = 1e300;
  // Rounds 10 ms apart, so no live node turns silent while they run.
  for (int round = 0; round < rounds; ++round) {
    now += milliseconds{10};
    const auto t0 = std::chrono::steady_clock::now();
    observer.tick(now, events);
    const hale::aggregator::Observations seen = observer.observations(now);
    const Decision d = decide(seen, state, policy, std::nullopt, now, hale::WallTime{seconds{1'800'000'000}});
    const auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double, std::milli>(t1 - t0).count());
    f.decision = std::string(hale::aggregator::toString(d.kind)) + " " + d.from + ">" + d.to + ": " + d.reason;
    events.clear();
  }
  f.evaluation_ms = best;
  return f;
}

}  // namespace

int main(int argc, char** argv) try {
  const size_t nodes = argc > 1 ? std::stoul(argv[1]) : 100'000;
  const Figures base = measure(1000, 50);
  const Figures big = measure(nodes, 10);
  const double per_node_ratio =
      (big.evaluation_ms / static_cast<double>(big.nodes)) / (base.evaluation_ms / static_cast<double>(base.nodes));
  std::fprintf(stderr, "policy at scale, %d regions, one region silent\n", kRegions);
  for (const Figures* f : {&base, &big}) {
    std::fprintf(stderr, "  %7zu nodes: one evaluation %8.3f ms, a heartbeat %6.0f ns, decided: %s\n", f->nodes,
                 f->evaluation_ms, f->heartbeat_ns, f->decision.c_str());
  }
  std::fprintf(stderr, "  per-node evaluation cost at %zu nodes: %.2fx the 1 000-node baseline's\n", nodes,
               per_node_ratio);
  nlohmann::json j;
  for (const Figures* f : {&base, &big}) {
    j[f == &base ? "baseline" : "fleet"] = {{"nodes", f->nodes},
                                            {"regions", kRegions},
                                            {"evaluation_ms", f->evaluation_ms},
                                            {"heartbeat_ns", f->heartbeat_ns},
                                            {"decision", f->decision}};
  }
  j["per_node_ratio"] = per_node_ratio;
  std::cout << j.dump(2) << "\n";
  return big.decision.rfind("failover", 0) == 0 ? 0 : 3;  // the silent region must be found and failed over
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_policy_scale: %s\n", e.what());
  return 1;
}
