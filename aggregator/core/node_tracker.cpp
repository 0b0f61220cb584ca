#include "node_tracker.h"

namespace hale::aggregator {
namespace {

void setHealth(NodeState& n, NodeHealth h, SteadyTime now) {
  if (n.health != h) {
    n.health = h;
    n.since = now;
  }
}

}  // namespace

std::string_view toString(NodeHealth h) {
  switch (h) {
    case NodeHealth::unknown: return "unknown";
    case NodeHealth::healthy: return "healthy";
    case NodeHealth::suspect: return "suspect";
    case NodeHealth::failed: return "failed";
  }
  return "?";
}

NodeState newNode(SteadyTime now) {
  NodeState n;
  n.last_heard = now;
  n.since = now;
  return n;
}

std::string_view nodeEvent(NodeHealth before, NodeHealth after) {
  if (before == after) return {};
  switch (after) {
    case NodeHealth::healthy: return before == NodeHealth::failed ? "-node-failed" : "+node-healthy";
    case NodeHealth::suspect: return "+node-suspect";
    case NodeHealth::failed: return "+node-failed";
    case NodeHealth::unknown: return "+node-unknown";
  }
  return {};
}

NodeHealth onHeartbeat(NodeState& n, heartbeat::NodeStatus reported, SteadyTime now, const DetectionParams& p) {
  const NodeHealth before = n.health;
  n.heard = true;
  n.last_heard = now;
  n.last_received = now;
  n.reported = reported;
  if (reported == heartbeat::NodeStatus::unhealthy) {
    n.good = 0;
    ++n.bad;
    if (n.health == NodeHealth::healthy) {
      setHealth(n, NodeHealth::suspect, now);
    }
    if (n.bad >= p.fall && n.health != NodeHealth::failed) setHealth(n, NodeHealth::failed, now);
    if (n.health == NodeHealth::unknown) setHealth(n, NodeHealth::suspect, now);
    return before;
  }
  n.bad = 0;
  ++n.good;
  if (n.health != NodeHealth::failed || n.good >= p.rise) setHealth(n, NodeHealth::healthy, now);
  return before;
}

NodeHealth onTick(NodeState& n, SteadyTime now, const DetectionParams& p) {
  const NodeHealth before = n.health;
  const auto silent = now - n.last_heard;
  if (silent > p.miss_after) {
    n.good = 0;
    setHealth(n, NodeHealth::failed, now);
  } else if (silent > p.suspect_after && n.health == NodeHealth::healthy) {
    setHealth(n, NodeHealth::suspect, now);
  }
  return before;
}

void forgiveSilence(NodeState& n, SteadyTime now) { n.last_heard = std::max(n.last_heard, now); }

}  // namespace hale::aggregator
