#include "status_render.h"

#include "hale/version.h"
#include "prometheus_text.h"

#include <cinttypes>
#include <cstdio>

namespace hale::agent {
namespace {

constexpr const char* kOutcomeNames[] = {"pass", "warn", "fail", "error"};

void appendInt(std::string& out, int64_t v) {
  char buf[24];
  const int n = std::snprintf(buf, sizeof buf, "%" PRId64, v);
  out.append(buf, static_cast<size_t>(n));
}

int64_t ageMs(const CheckView& c, SteadyTime now) {
  if (!c.has_run) return -1;
  return std::chrono::duration_cast<std::chrono::milliseconds>(now - c.last_run).count();
}

void checkSample(std::string& out, const char* metric, const CheckView& c, const char* extra_label,
                 const char* extra_value) {
  out += metric;
  out += "{check=\"";
  appendLabelValue(out, c.settings.name);
  out += '"';
  if (extra_label != nullptr) {
    out += ',';
    out += extra_label;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += "} ";
}

}  // namespace

void appendJsonString(std::string& out, std::string_view text) {
  out += '"';
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;  // bytes >= 0x80 pass through; check messages are produced as UTF-8
        }
    }
  }
  out += '"';
}

void renderHealthz(const Snapshot& s, SteadyTime now, std::string& out, bool details) {
  out.clear();
  out += "{\"node\":";
  appendJsonString(out, s.node_id);
  out += ",\"region\":";
  appendJsonString(out, s.region);
  out += ",\"status\":\"";
  out += heartbeat::toString(effectiveNodeStatus(s, now));
  if (!details) {
    out += "\"}\n";
    return;
  }
  out += "\",\"checks\":[";
  bool first = true;
  for (const CheckView& c : s.checks) {
    if (!first) out += ',';
    first = false;
    out += "{\"name\":";
    appendJsonString(out, c.settings.name);
    out += ",\"type\":\"";
    out += c.settings.type;
    out += "\",\"status\":\"";
    out += heartbeat::toString(effectiveStatus(c, now));
    out += "\",\"critical\":";
    out += c.settings.critical ? "true" : "false";
    out += ",\"age_ms\":";
    appendInt(out, ageMs(c, now));
    out += ",\"latency_us\":";
    appendInt(out, c.latency_us);
    out += ",\"message\":";
    appendJsonString(out, c.message);
    out += '}';
  }
  out += ']';
  if (!s.fences.empty()) {
    out += ",\"fenced\":[";
    for (size_t i = 0; i < s.fences.size(); ++i) {
      if (i > 0) out += ',';
      out += "{\"database\":";
      appendJsonString(out, s.fences[i].database);
      out += ",\"reason\":";
      appendJsonString(out, s.fences[i].reason);
      out += '}';
    }
    out += ']';
  }
  out += "}\n";
}

void renderMetrics(const Snapshot& s, SteadyTime now, const AgentCounters& counters, std::string& out) {
  out.clear();
  appendMetricHeader(out, "hale_agent_build_info", "gauge", "Always 1; the version is the label.");
  out += "hale_agent_build_info{version=\"";
  out += kVersion;
  out += "\"} 1\n";
  const heartbeat::NodeStatus node = effectiveNodeStatus(s, now);
  appendMetricHeader(out, "hale_agent_fenced", "gauge",
                     "1 while a database of this node is fenced (2: because of a split brain).");
  out += "hale_agent_fenced ";
  appendInt(out, fenceLevel(s));
  out += '\n';
  appendMetricHeader(out, "hale_agent_healthy", "gauge",
                     "1 when every critical check passes (what /healthz answers 200 for).");
  out += "hale_agent_healthy ";
  out += node == heartbeat::NodeStatus::unhealthy ? "0\n" : "1\n";
  appendMetricHeader(out, "hale_agent_node_status", "gauge", "0 healthy, 1 degraded, 2 unhealthy.");
  out += "hale_agent_node_status ";
  appendInt(out, static_cast<int64_t>(node));
  out += '\n';

  appendMetricHeader(out, "hale_agent_check_status", "gauge",
                     "Damped check status: 0 pass, 1 warn, 2 fail, 3 unknown.");
  for (const CheckView& c : s.checks) {
    checkSample(out, "hale_agent_check_status", c, nullptr, nullptr);
    appendInt(out, static_cast<int64_t>(effectiveStatus(c, now)));
    out += '\n';
  }
  appendMetricHeader(out, "hale_agent_check_latency_seconds", "gauge", "Duration of the check's last run.");
  for (const CheckView& c : s.checks) {
    checkSample(out, "hale_agent_check_latency_seconds", c, nullptr, nullptr);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6f\n", c.latency_us / 1e6);
    out += buf;
  }
  appendMetricHeader(out, "hale_agent_check_runs_total", "counter", "Check runs by raw outcome.");
  for (const CheckView& c : s.checks) {
    for (size_t o = 0; o < 4; ++o) {
      checkSample(out, "hale_agent_check_runs_total", c, "outcome", kOutcomeNames[o]);
      appendInt(out, static_cast<int64_t>(c.outcomes[o]));
      out += '\n';
    }
  }
  appendMetricHeader(out, "hale_agent_check_timeouts_total", "counter", "Runs that outlived their timeout.");
  for (const CheckView& c : s.checks) {
    checkSample(out, "hale_agent_check_timeouts_total", c, nullptr, nullptr);
    appendInt(out, static_cast<int64_t>(c.timeouts));
    out += '\n';
  }
  const struct {
    const char* name;
    const char* help;
    const std::atomic<uint64_t>& value;
  } totals[] = {
      {"hale_agent_heartbeats_sent_total", "Heartbeats a connected aggregator's socket took.",
       counters.heartbeats_sent},
      {"hale_agent_heartbeats_dropped_total",
       "Heartbeats with no aggregator connected, or that ZeroMQ could not queue.", counters.heartbeats_dropped},
      {"hale_agent_http_requests_total", "Requests served on the HTTP port.", counters.http_requests},
      {"hale_agent_config_reloads_total", "Successful configuration reloads.", counters.reloads},
      {"hale_agent_config_reload_failures_total", "Refused configuration reloads.", counters.reload_failures},
      {"hale_agent_fences_total", "Databases this agent fenced (primary lease).", counters.fences},
      {"hale_agent_fence_failures_total", "Fence attempts that failed (retried).", counters.fence_failures},
      {"hale_agent_unfences_total", "Fences lifted: the lease came back, or halectl unfence.", counters.unfences},
      {"hale_agent_split_brains_total", "Writable database while etcd named another primary.", counters.split_brains},
      {"hale_agent_lease_etcd_errors_total", "Lease rounds that could not reach etcd.", counters.lease_etcd_errors},
  };
  for (const auto& t : totals) {
    appendMetricHeader(out, t.name, "counter", t.help);
    out += t.name;
    out += ' ';
    appendInt(out, static_cast<int64_t>(t.value.load(std::memory_order_relaxed)));
    out += '\n';
  }
  appendMetricHeader(out, "hale_agent_aggregators_connected", "gauge",
                     "Aggregators whose connection completed its handshake, at the last heartbeat.");
  out += "hale_agent_aggregators_connected ";
  appendInt(out, static_cast<int64_t>(counters.aggregators_connected.load(std::memory_order_relaxed)));
  out += '\n';
}

}  // namespace hale::agent
