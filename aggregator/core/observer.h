#pragma once

// Everything the aggregator observes, as pure state: nodes (node_tracker), region verdicts (region_view),
// and two judgements about itself:
//   isolated  every known node of every region is silent at once: more likely our own network than the
//             whole world, so verdicts freeze and nothing acts ("fail static"). Before any node was heard
//             it is said (+fail-static) only once the start-up grace is over.
//   tilt      our own loop stalled (a gap between ticks over tilt_threshold, e.g. the process was stopped
//             or the clock jumped): silence is forgiven and nothing acts for tilt_period.
// While either holds, nodes are not aged, verdicts stay and the region clocks restart when it ends; then
// every node's silence counts afresh. Nothing is decided during the start-up grace, nor about a region
// never heard. What the policy and the etcd vote see is vote(), below, not the shown verdict.
// Deterministic: the same calls with the same `now` give the same state and events.

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "node_tracker.h"
#include "policy.h"
#include "region_view.h"

namespace hale::aggregator {

struct RegionConfig {
  std::string name;
  int priority = 100;  // lower is preferred as a failover target
  RegionParams params;
};

struct ObserverConfig {
  DetectionParams detection;
  std::vector<RegionConfig> regions;
  std::chrono::milliseconds tilt_threshold{2000};
  std::chrono::milliseconds tilt_period{10000};
  // Nothing is decided about any region this long after start (agents start, connect and send in turn).
  std::chrono::milliseconds startup_grace{5000};
  // A node not listed in the config (accepted by an accept_any_node region) silent this long is forgotten,
  // so a replaced fleet's old ids do not drag their region's healthy share down for ever.
  std::chrono::milliseconds node_retention{600000};
};

// A named state change, in the same words in logs, metrics, the journal and halectl.
struct Event {
  std::string name;     // "+node-failed", "-region-down", "+tilt", "+fail-static", ...
  std::string subject;  // node id or region name, empty for the aggregator itself
  std::string detail;
};

struct TrackedNode {
  std::string id;
  std::string region;
  NodeState state;
  bool listed = true;              // named in the config (never forgotten)
  uint8_t fence = 0;               // the agent's last word: 0 none, 1 a database fenced, 2 fenced on a split brain
  bool database_reported = false;  // its last heartbeat carried the region's database_check ...
  bool database_failed = false;    // ... failing
};

struct TrackedRegion {
  RegionConfig config;
  RegionState state;
  NodeCounts counts;
  bool heard = false;  // some node of it has sent a heartbeat since start

  // The verdict to show: a region never heard is neither up nor down (degraded).
  Verdict verdict() const { return heard ? state.verdict : Verdict::degraded; }
};

class Observer {
 public:
  Observer(ObserverConfig config, SteadyTime now);
  // Movable (the map's nodes move with it, so the index stays right), not copyable (it would not).
  Observer(const Observer&) = delete;
  Observer& operator=(const Observer&) = delete;
  Observer(Observer&&) = default;
  Observer& operator=(Observer&&) = default;

  // Adds a node to track: `listed` in the config, or first heard of in a region that accepts any node.
  void addNode(const std::string& id, const std::string& region, SteadyTime now, bool listed = true);
  bool knowsNode(const std::string& id) const { return index_.count(id) != 0; }
  const TrackedNode* node(const std::string& id) const;

  // `fence`: the heartbeat's fence level. A fenced node reports unhealthy, so its region is never up on
  // its strength; the changes are events (+node-fenced, +split-brain and their ends). `checks`: the
  // heartbeat's, read for the region's database_check.
  void heartbeat(const std::string& id, heartbeat::NodeStatus reported, SteadyTime now, std::vector<Event>& events,
                 uint8_t fence = 0, std::span<const heartbeat::CheckReport> checks = {});
  // Advances time: silence, TILT, isolation, region verdicts.
  void tick(SteadyTime now, std::vector<Event>& events);

  // The verdict to act and vote on, as of `now`: the shown verdict, except that
  //   down counts only while the region has been lost for down_after without a break, and not before
  //        miss_after + down_after after our own isolation or stall ended; one alive again (still shown
  //        down until up_after) or lost again only lately is degraded: a failover held meanwhile is not
  //        made away from a region that came back, nor on the first moments after we could hear again;
  //   up   counts only with min_healthy nodes (and min_healthy_share) whose heartbeat really arrived
  //        within suspect_after; the grace given after our own isolation or stall keeps nodes from
  //        failing, it is no evidence that their region can take over.
  Verdict vote(const TrackedRegion& r, SteadyTime now) const;

  // What the policy needs to know, as of `now`.
  Observations observations(SteadyTime now) const;

  bool isolated() const { return isolated_; }
  // Fail static as said (+fail-static journaled): isolated after some node was heard, or with none heard by
  // the end of the start-up grace. Status and metrics show this, so they agree with the journal.
  bool failStatic() const { return isolation_announced_; }
  bool heardAnyNode() const { return heard_any_; }
  bool tilted(SteadyTime now) const { return now < tilt_until_; }
  bool starting(SteadyTime now) const { return now - started_ < config_.startup_grace; }
  const std::map<std::string, TrackedNode>& nodes() const { return nodes_; }
  const std::vector<TrackedRegion>& regions() const { return regions_; }
  const TrackedRegion* region(const std::string& name) const;

 private:
  void countNodes(SteadyTime now);

  ObserverConfig config_;
  std::map<std::string, TrackedNode> nodes_;  // in id order, as listed and aged
  // The same nodes by hash, for the two lookups of every heartbeat: at 10 000 nodes a walk down the ordered
  // map cost more than the decoding (bench/ingest.cpp). Keys view the map's keys, which never move.
  std::unordered_map<std::string_view, TrackedNode*> index_;
  std::vector<TrackedRegion> regions_;
  SteadyTime started_;
  SteadyTime last_tick_;
  SteadyTime tilt_until_{};
  bool isolated_ = false;
  bool isolation_announced_ = false;  // +fail-static said and -fail-static not yet
  bool heard_any_ = false;            // some node's heartbeat arrived since start
  bool frozen_ = false;               // isolated or in TILT at the last tick
  SteadyTime thawed_at_{};            // when the last isolation or TILT ended
};

}  // namespace hale::aggregator
