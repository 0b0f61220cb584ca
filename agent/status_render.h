#pragma once

// Renders a snapshot for /healthz (JSON) and /metrics (Prometheus text). Pure: the snapshot, `now` and the
// counters in, text out; the output string is reused by the caller to avoid allocating per request.

#include <string>

#include "agent_counters.h"
#include "health_board.h"

namespace hale::agent {

// {"node":..,"region":..,"status":"healthy|degraded|unhealthy","checks":[{"name","type","status",
//  "critical","age_ms","latency_us","message"}]}; age_ms is -1 before the first run. Without `details`
// only node, region and status: check messages can name hosts and errors a stranger should not read.
void renderHealthz(const Snapshot& s, SteadyTime now, std::string& out, bool details = true);

void renderMetrics(const Snapshot& s, SteadyTime now, const AgentCounters& counters, std::string& out);

// Appends `text` as a JSON string literal (quotes included), escaping as RFC 8259 requires.
void appendJsonString(std::string& out, std::string_view text);

}  // namespace hale::agent
