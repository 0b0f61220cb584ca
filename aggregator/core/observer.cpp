#include "observer.h"

namespace hale::aggregator {
namespace {

std::string ms(std::chrono::nanoseconds d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + "ms";
}

}  // namespace

Observer::Observer(ObserverConfig config, SteadyTime now) : config_(std::move(config)), started_(now), last_tick_(now) {
  for (const RegionConfig& r : config_.regions) regions_.push_back(TrackedRegion{r, newRegion(now), {}});
}

void Observer::addNode(const std::string& id, const std::string& region, SteadyTime now, bool listed) {
  const auto [it, added] = nodes_.emplace(id, TrackedNode{id, region, newNode(now), listed});
  if (!added) return;
  index_.emplace(it->first, &it->second);
  // A new node is unknown, unheard and no witness on the database: it adds to its region's total and
  // unknown counts and to nothing else, so no recount (which made adding 100 000 listed nodes quadratic,
  // minutes at start; bench/policy_scale.cpp).
  for (TrackedRegion& r : regions_) {
    if (r.config.name != region) continue;
    ++r.counts.total;
    ++r.counts.unknown;
  }
}

const TrackedNode* Observer::node(const std::string& id) const {
  const auto it = index_.find(id);
  return it == index_.end() ? nullptr : it->second;
}

const TrackedRegion* Observer::region(const std::string& name) const {
  for (const TrackedRegion& r : regions_) {
    if (r.config.name == name) return &r;
  }
  return nullptr;
}

void Observer::heartbeat(const std::string& id, heartbeat::NodeStatus reported, SteadyTime now,
                         std::vector<Event>& events, uint8_t fence, std::span<const heartbeat::CheckReport> checks) {
  const auto it = index_.find(id);
  if (it == index_.end()) return;
  TrackedNode& n = *it->second;
  heard_any_ = true;
  n.database_reported = false;
  n.database_failed = false;
  if (const TrackedRegion* r = region(n.region); r != nullptr && !r->config.params.database_check.empty()) {
    for (const heartbeat::CheckReport& c : checks) {
      if (c.name != r->config.params.database_check) continue;
      n.database_reported = true;
      n.database_failed = c.status == heartbeat::CheckStatus::fail;
    }
  }
  if (fence != n.fence) {
    if (n.fence == 2) events.push_back({"-split-brain", id, "the node no longer reports a split brain"});
    if (n.fence >= 1 && fence == 0) events.push_back({"-node-fenced", id, "the node's databases are unfenced"});
    if (n.fence == 0 && fence >= 1)
      events.push_back({"+node-fenced", id, "the node fenced its database: it lost or never held the primary lease"});
    if (fence == 2) {
      events.push_back({"+split-brain", id,
                        "the node's database was writable while etcd named another primary; its agent fenced it"});
    }
    n.fence = fence;
  }
  const NodeHealth before = onHeartbeat(n.state, reported, now, config_.detection);
  if (const auto e = nodeEvent(before, n.state.health); !e.empty()) {
    events.push_back({std::string(e), id, "reported " + std::string(heartbeat::toString(reported))});
  }
}

void Observer::countNodes(SteadyTime now) {
  for (TrackedRegion& r : regions_) r.counts = {};
  for (const auto& [id, n] : nodes_) {
    for (TrackedRegion& r : regions_) {
      if (r.config.name != n.region) continue;
      ++r.counts.total;
      // A node's word on the database counts while it is fresh: a node silent past suspect_after (dead, or
      // cut off) is no witness either way, so a verdict held for down_after needs witnesses that keep
      // speaking. Its report must really have arrived lately: the grace given after our own isolation or
      // stall is no new word on the database.
      if (n.database_reported && now - n.state.last_received <= config_.detection.suspect_after) {
        ++r.counts.database_reported;
        r.counts.database_failed += n.database_failed ? 1 : 0;
      }
      r.heard |= n.state.heard;
      switch (n.state.health) {
        case NodeHealth::healthy:
          ++r.counts.healthy;
          if (n.state.heard && now - n.state.last_received <= config_.detection.suspect_after) ++r.counts.healthy_heard;
          break;
        case NodeHealth::suspect: ++r.counts.suspect; break;
        case NodeHealth::failed: ++r.counts.failed; break;
        case NodeHealth::unknown: ++r.counts.unknown; break;
      }
    }
  }
}

void Observer::tick(SteadyTime now, std::vector<Event>& events) {
  // Our own stall first: a long gap since the last tick means heartbeats were not being read.
  const auto gap = now - last_tick_;
  last_tick_ = now;
  if (gap > config_.tilt_threshold) {
    const bool was_tilted = tilted(now - gap);
    tilt_until_ = now + config_.tilt_period;
    for (auto& [id, n] : nodes_) forgiveSilence(n.state, now);
    if (!was_tilted)
      events.push_back(
          {"+tilt", "", "own loop stalled for " + ms(gap) + "; not acting for " + ms(config_.tilt_period)});
  } else if (tilt_until_ != SteadyTime{} && now >= tilt_until_) {
    tilt_until_ = SteadyTime{};
    events.push_back({"-tilt", "", "acting again"});
  }

  // Fail static: with nodes in two or more regions, all of them silent at once (by when each was last
  // heard, not by their health, which is not aged while we are isolated).
  countNodes(now);
  size_t regions_with_nodes = 0;
  bool all_silent = !nodes_.empty();
  for (const TrackedRegion& r : regions_) regions_with_nodes += r.counts.total > 0 ? 1 : 0;
  for (const auto& [id, n] : nodes_) {
    if (now - n.state.last_heard <= config_.detection.suspect_after) {
      all_silent = false;
      break;
    }
  }
  isolated_ = all_silent && regions_with_nodes >= 2;
  // Before any node was heard nothing went silent: the agents may not have connected yet (a cold start of
  // the whole cluster, a restart before they reconnect). Isolated all the same (frozen, unfit to lead), but
  // said (+fail-static, paged) only once the start-up grace is over with still nothing heard.
  const bool announced = isolated_ && (heard_any_ || !starting(now));
  if (announced != isolation_announced_) {
    isolation_announced_ = announced;
    if (!announced) {
      events.push_back({"-fail-static", "", "heartbeats are arriving again"});
    } else if (heard_any_) {
      events.push_back({"+fail-static", "", "every region went silent at once: suspecting our own isolation"});
    } else {
      events.push_back(
          {"+fail-static", "", "no node heard since start (" + ms(now - started_) + "): suspecting our own isolation"});
    }
  }

  // While isolated or in TILT our view of time is not the nodes' fault: nodes are not aged, and when it
  // ends every node gets a fresh grace period, so regions that come back at different instants are not
  // read as the later ones dying.
  const bool frozen = isolated_ || tilted(now);
  if (frozen_ && !frozen) {
    for (auto& [id, n] : nodes_) forgiveSilence(n.state, now);
    thawed_at_ = now;
  }
  frozen_ = frozen;
  if (!frozen) {
    for (auto it = nodes_.begin(); it != nodes_.end();) {
      auto& [id, n] = *it;
      const auto silent = now - n.state.last_heard;
      if (!n.listed && silent > config_.node_retention) {
        events.push_back({"-node-forgotten", id, "not listed, silent for " + ms(silent) + " (node_retention)"});
        index_.erase(it->first);
        it = nodes_.erase(it);
        continue;
      }
      const NodeHealth before = onTick(n.state, now, config_.detection);
      if (const auto e = nodeEvent(before, n.state.health); !e.empty()) {
        events.push_back({std::string(e), id, "silent for " + ms(silent)});
      }
      ++it;
    }
  }
  countNodes(now);

  // Nothing is decided about a region during the start-up grace, nor before it was heard at all.
  for (TrackedRegion& r : regions_) {
    const Verdict before = evaluate(r.state, r.counts, now, r.config.params, frozen || starting(now) || !r.heard);
    if (const auto e = regionEvent(before, r.state.verdict); !e.empty()) {
      events.push_back({std::string(e), r.config.name,
                        std::to_string(r.counts.healthy) + "/" + std::to_string(r.counts.total) + " nodes healthy, " +
                            std::to_string(r.counts.suspect) + " suspect"});
    }
  }
}

Verdict Observer::vote(const TrackedRegion& r, SteadyTime now) const {
  const Verdict shown = r.verdict();
  const RegionParams& p = r.config.params;
  if (shown == Verdict::down) {
    // Lost for down_after without a break, and, after our own isolation or stall, not before the grace
    // every node got then (miss_after) is over: nodes that had failed before it may be back.
    const SteadyTime lost_from = std::max(r.state.lost_since, thawed_at_ + config_.detection.miss_after);
    return r.state.lost && now - lost_from >= p.down_after ? Verdict::down : Verdict::degraded;
  }
  if (shown == Verdict::up) {
    // Up on the strength of nodes really heard lately, never of nodes only forgiven their silence.
    const double n = r.counts.total > 0 ? static_cast<double>(r.counts.total) : 1.0;
    const bool heard = r.counts.healthy_heard >= p.min_healthy &&
                       static_cast<double>(r.counts.healthy_heard) / n >= p.min_healthy_share;
    return heard ? Verdict::up : Verdict::degraded;
  }
  return shown;
}

Observations Observer::observations(SteadyTime now) const {
  Observations o;
  o.isolated = isolated_;
  o.tilt = tilted(now);
  for (const TrackedRegion& r : regions_) {
    o.regions.push_back({r.config.name, r.config.priority, vote(r, now), r.state.since, r.state.lost_since,
                         r.counts.healthy, r.counts.total});
  }
  return o;
}

}  // namespace hale::aggregator
