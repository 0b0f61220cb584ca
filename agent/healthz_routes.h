#pragma once

// The agent's HTTP routes: /healthz answers from the health board's snapshot (200 when every critical
// check passes, else 503, JSON body), /metrics in Prometheus text, anything else 404; GET and HEAD only.

#include <functional>
#include <memory>

#include "agent_counters.h"
#include "health_board.h"
#include "http_server.h"

namespace hale::agent {

// Returns the snapshot to serve; swapped on reload, so the server outlives a board.
using SnapshotSource = std::function<std::shared_ptr<const Snapshot>()>;

// The handler for a hale::HttpServer; `details`: /healthz lists the checks (see renderHealthz). Read per
// request, so a reload can change it without a new listener.
HttpHandler healthzRoutes(SnapshotSource source, AgentCounters& counters, const Clock& clock,
                          std::shared_ptr<const std::atomic<bool>> details);
HttpHandler healthzRoutes(SnapshotSource source, AgentCounters& counters, const Clock& clock, bool details = true);

}  // namespace hale::agent
