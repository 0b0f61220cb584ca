#pragma once

// One node as the aggregator sees it: unknown -> healthy <-> suspect -> failed. Pure: no clock reads,
// no I/O; `now` is a parameter.
//
//   heartbeat healthy/degraded : unknown|suspect -> healthy at once; failed -> healthy after `rise` in a row
//   heartbeat unhealthy        : healthy -> suspect; suspect|unknown -> failed after `fall` in a row
//   silence > suspect_after    : healthy -> suspect
//   silence > miss_after       : any -> failed
// A node never heard from counts its silence from when tracking began, so a region that is already dead
// when the aggregator starts is still detected.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "clock.h"
#include "heartbeat.h"

namespace hale::aggregator {

enum class NodeHealth : uint8_t { unknown, healthy, suspect, failed };
std::string_view toString(NodeHealth h);

struct DetectionParams {
  std::chrono::milliseconds suspect_after{2000};
  std::chrono::milliseconds miss_after{5000};
  uint32_t rise = 2;  // good heartbeats in a row to leave `failed`
  uint32_t fall = 2;  // unhealthy heartbeats in a row to reach `failed`
};

struct NodeState {
  NodeHealth health = NodeHealth::unknown;
  SteadyTime last_heard{};     // tracking start until the first heartbeat; moved on by forgiveSilence
  SteadyTime last_received{};  // when a heartbeat really arrived last (never forgiven); meaningful once heard
  SteadyTime since{};          // when `health` last changed
  bool heard = false;
  heartbeat::NodeStatus reported = heartbeat::NodeStatus::unhealthy;
  uint32_t good = 0;
  uint32_t bad = 0;
};

NodeState newNode(SteadyTime now);

// The event name of a change ("+node-failed", "-node-failed", ...), empty when health did not change.
std::string_view nodeEvent(NodeHealth before, NodeHealth after);

// Applies a heartbeat received at `now`. Returns the health before it.
NodeHealth onHeartbeat(NodeState& n, heartbeat::NodeStatus reported, SteadyTime now, const DetectionParams& p);
// Applies the passage of time (silence). Returns the health before it.
NodeHealth onTick(NodeState& n, SteadyTime now, const DetectionParams& p);
// After the aggregator itself stalled or was isolated: pretend every node was just heard, so its own pause
// is not read as the nodes' silence. Only `last_heard` moves: this is the benefit of the doubt against
// failing a region, never evidence that it is up (that needs `last_received`).
void forgiveSilence(NodeState& n, SteadyTime now);

}  // namespace hale::aggregator
