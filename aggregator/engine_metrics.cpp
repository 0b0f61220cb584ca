// /metrics for the aggregator, Prometheus text: heartbeats accepted and refused by reason, nodes by
// health, region verdicts, decisions, plans and steps, self-suspicion, and with etcd the coordination.

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>

#include "engine.h"
#include "hale/version.h"
#include "prometheus_text.h"

namespace hale::aggregator {
namespace {

// A family of one unlabelled sample.
struct MetricRow {
  const char* name;
  const char* type;
  const char* help;
  uint64_t value;
};

template <size_t N>
void appendRows(std::string& out, const MetricRow (&rows)[N]) {
  for (const MetricRow& r : rows) {
    appendMetricHeader(out, r.name, r.type, r.help);
    appendSample(out, r.name, r.value);
  }
}

}  // namespace

namespace {

// `value` as a label value: backslash, quote and newline escaped (names come from configs and agents).
std::string esc(std::string_view value) {
  std::string out;
  appendLabelValue(out, value);
  return out;
}

}  // namespace

std::string Engine::metrics() const {
  std::string out;
  appendMetricHeader(out, "hale_aggregator_build_info", "gauge", "Always 1; the version is the label.");
  out += std::string("hale_aggregator_build_info{version=\"") + kVersion + "\"} 1\n";
  appendMetricHeader(out, "hale_aggregator_heartbeats_accepted_total", "counter", "Heartbeats decoded and accepted.");
  appendSample(out, "hale_aggregator_heartbeats_accepted_total", ingest_.accepted.load());
  appendMetricHeader(out, "hale_aggregator_heartbeats_skewed_total", "counter",
                     "Authenticated heartbeats accepted although sent further than max_clock_skew from our clock.");
  appendSample(out, "hale_aggregator_heartbeats_skewed_total", ingest_.skewed.load());
  appendMetricHeader(out, "hale_aggregator_heartbeats_rejected_total", "counter", "Heartbeats refused, by reason.");
  for (size_t i = 1; i < heartbeat::kDecodeErrorCount; ++i) {
    appendSample(out,
                 "hale_aggregator_heartbeats_rejected_total{reason=\"" +
                     std::string(heartbeat::decodeErrorName(static_cast<heartbeat::DecodeError>(i))) + "\"}",
                 ingest_.decode_rejected[i].load());
  }
  for (size_t i = 0; i < kIngestRejectCount; ++i) {
    appendSample(out,
                 "hale_aggregator_heartbeats_rejected_total{reason=\"" + std::string(kIngestRejectNames[i]) + "\"}",
                 ingest_.rejected[i].load());
  }

  appendMetricHeader(out, "hale_aggregator_connections_refused_total", "counter",
                     "Heartbeat connections refused by the transport (CurveZMQ), by reason.");
  for (size_t i = 0; i < kTransportRejectCount; ++i) {
    appendSample(out,
                 "hale_aggregator_connections_refused_total{reason=\"" + std::string(kTransportRejectNames[i]) + "\"}",
                 ingest_.transport_rejected[i].load());
  }
  appendMetricHeader(out, "hale_aggregator_connections_closed_total", "counter",
                     "Established heartbeat connections closed: agents leaving, or frames over the receive limit.");
  appendSample(out, "hale_aggregator_connections_closed_total", ingest_.disconnects.load());

  std::lock_guard lock(mu_);
  const SteadyTime now = clock_.steadyNow();
  std::map<std::string, std::array<uint64_t, 4>> by_health;  // region -> nodes by health
  for (const TrackedRegion& r : observer_.regions()) by_health[r.config.name] = {};
  for (const auto& [id, n] : observer_.nodes()) ++by_health[n.region][static_cast<size_t>(n.state.health)];
  appendMetricHeader(out, "hale_aggregator_nodes", "gauge", "Nodes by region and health.");
  for (const auto& [region, counts] : by_health) {
    for (size_t h = 0; h < counts.size(); ++h) {
      appendSample(out,
                   "hale_aggregator_nodes{region=\"" + esc(region) + "\",health=\"" +
                       std::string(toString(static_cast<NodeHealth>(h))) + "\"}",
                   counts[h]);
    }
  }
  std::map<std::string, std::array<uint64_t, 2>> fenced;  // region -> {fenced, split brain}
  for (const TrackedRegion& r : observer_.regions()) fenced[r.config.name] = {0, 0};
  for (const auto& [id, n] : observer_.nodes()) {
    if (n.fence >= 1) ++fenced[n.region][0];
    if (n.fence == 2) ++fenced[n.region][1];
  }
  if (alerter_) {
    appendMetricHeader(out, "hale_aggregator_alerts_total", "counter",
                       "Alert actions run, by outcome; dropped: more than " + std::to_string(Alerter::kMaxPending) +
                           " alerts waiting, or waiting at stop.");
    appendSample(out, "hale_aggregator_alerts_total{outcome=\"sent\"}", alerter_->sent());
    appendSample(out, "hale_aggregator_alerts_total{outcome=\"failed\"}", alerter_->failed());
    appendSample(out, "hale_aggregator_alerts_total{outcome=\"dropped\"}", alerter_->dropped());
  }
  appendMetricHeader(out, "hale_aggregator_nodes_fenced", "gauge",
                     "Nodes reporting a fenced database (primary lease lost), by region.");
  for (const auto& [region, f] : fenced) {
    appendSample(out, "hale_aggregator_nodes_fenced{region=\"" + esc(region) + "\"}", f[0]);
  }
  appendMetricHeader(out, "hale_aggregator_nodes_split_brain", "gauge",
                     "Nodes reporting a split brain (writable while etcd named another primary), by region.");
  for (const auto& [region, f] : fenced) {
    appendSample(out, "hale_aggregator_nodes_split_brain{region=\"" + esc(region) + "\"}", f[1]);
  }
  // Each family's samples together, as the exposition format requires.
  appendMetricHeader(out, "hale_aggregator_region_verdict", "gauge", "1 for the region's current verdict.");
  for (const TrackedRegion& r : observer_.regions()) {
    for (Verdict v : {Verdict::up, Verdict::degraded, Verdict::down}) {
      appendSample(out,
                   "hale_aggregator_region_verdict{region=\"" + esc(r.config.name) + "\",verdict=\"" +
                       std::string(toString(v)) + "\"}",
                   r.verdict() == v ? 1 : 0);
    }
  }
  appendMetricHeader(out, "hale_aggregator_region_active", "gauge", "1 for the active region.");
  for (const TrackedRegion& r : observer_.regions()) {
    appendSample(out, "hale_aggregator_region_active{region=\"" + esc(r.config.name) + "\"}",
                 r.config.name == state_.active_region ? 1 : 0);
  }
  appendMetricHeader(out, "hale_aggregator_node_last_heard_seconds", "gauge",
                     "Seconds since each node's last believed heartbeat (nodes never heard are left out).");
  for (const auto& [id, n] : observer_.nodes()) {
    if (!n.state.heard) continue;
    char age[32];
    std::snprintf(age, sizeof age, "%.3f", std::chrono::duration<double>(now - n.state.last_heard).count());
    out += "hale_aggregator_node_last_heard_seconds{region=\"" + esc(n.region) + "\",node=\"" + esc(id) + "\"} ";
    out += age;
    out += '\n';
  }
  appendMetricHeader(out, "hale_aggregator_last_failover_timestamp_seconds", "gauge",
                     "Unix time of the last completed failover or failback (0: none).");
  appendSample(out, "hale_aggregator_last_failover_timestamp_seconds",
               state_.last_failover ? static_cast<uint64_t>(toUnixMillis(*state_.last_failover) / 1000) : 0);
  if (coordinator_) appendCoordinationMetrics(out, now);
  const MetricRow rows[] = {
      {"hale_aggregator_decisions_total", "counter", "Acting decisions journaled.", counters_.decisions.load()},
      {"hale_aggregator_plans_done_total", "counter", "Plans completed.", counters_.plans_done.load()},
      {"hale_aggregator_plan_steps_done_total", "counter", "Plan steps completed.", counters_.steps.done.load()},
      {"hale_aggregator_plan_steps_failed_total", "counter", "Plan steps that failed for good.",
       counters_.steps.failed.load()},
      {"hale_aggregator_plan_step_retries_total", "counter", "Retries of retryable step outcomes.",
       counters_.steps.retried.load()},
      {"hale_aggregator_plan_step_exceptions_total", "counter", "Plan step attempts that ended in an exception.",
       counters_.steps.exceptions.load()},
      {"hale_aggregator_plans_failed_total", "counter", "Plans stopped by a failed step.",
       counters_.plans_failed.load()},
      {"hale_aggregator_journal_errors_total", "counter",
       "Failed journal writes (waiting events count once per try), and events beyond the waiting bound, only logged.",
       counters_.journal_errors.load()},
      {"hale_aggregator_journal_writable", "gauge",
       "0 while the journal's last write failed or events wait to be written: no automatic decision is made.",
       state_.journal_unwritable.empty() ? 1U : 0U},
      {"hale_aggregator_journal_events_waiting", "gauge",
       "Events the journal has not taken yet; they are written first once it can be.",
       counters_.journal_events_waiting.load()},
      {"hale_aggregator_journal_events_dropped_total", "counter",
       "Events beyond the waiting bound (100000), only logged; the journal later records how many.",
       counters_.journal_events_dropped.load()},
      {"hale_aggregator_paused", "gauge", "1 while automatic decisions are paused.", state_.paused ? 1U : 0U},
      {"hale_aggregator_tilt", "gauge", "1 while the aggregator distrusts its own timing.",
       observer_.tilted(now) ? 1U : 0U},
      {"hale_aggregator_fail_static", "gauge",
       "1 while every region is silent at once (with no node heard since start: once the start-up grace is over).",
       observer_.failStatic() ? 1U : 0U},
      {"hale_aggregator_plan_running", "gauge", "1 while a plan runs.", state_.plan_running ? 1U : 0U},
      {"hale_aggregator_awaiting_approval", "gauge", "1 while a decision waits for halectl approve or reject.",
       state_.awaiting_approval.empty() ? 0U : 1U},
      {"hale_aggregator_plan_failed_blocking", "gauge",
       "1 while a failed plan holds automation until an operator resumes.",
       state_.blocked_by_failed_plan.empty() ? 0U : 1U},
      {"hale_aggregator_failover_held", "gauge", "1 while a failover the active region's state calls for is held.",
       hold_.empty() ? 0U : 1U},
  };
  appendRows(out, rows);
  return out;
}

// With etcd: whether the store answers, who leads, the quorum, and each region's verdict by quorum.
void Engine::appendCoordinationMetrics(std::string& out, SteadyTime now) const {
  const CoordinationView v = coordinator_->view();
  std::vector<std::string> names;
  for (const TrackedRegion& r : observer_.regions()) names.push_back(r.config.name);
  const Tally t = tally(config_.coordination.quorum, names, v.reports, now);
  const MetricRow rows[] = {
      {"hale_aggregator_etcd_reachable", "gauge", "1 while the last round reached etcd.", v.reachable ? 1U : 0U},
      {"hale_aggregator_etcd_errors_total", "counter", "Coordination rounds that could not reach etcd.", v.etcd_errors},
      {"hale_aggregator_leader", "gauge", "1 while this aggregator leads.", v.leading ? 1U : 0U},
      {"hale_aggregator_leader_epoch", "gauge", "The current leader's epoch (0: nobody leads).",
       static_cast<uint64_t>(std::max<int64_t>(0, v.epoch))},
      {"hale_aggregator_leader_candidate", "gauge", "1 while this aggregator may lead (not isolated, TILTed, ...).",
       v.unfit.empty() ? 1U : 0U},
      {"hale_aggregator_leader_terms_total", "counter", "Leaderships this aggregator won.", v.terms_won},
      {"hale_aggregator_leader_resignations_total", "counter", "Leaderships this aggregator gave up.", v.resignations},
      {"hale_aggregator_leader_evictions_total", "counter", "Silent leaders' keys this aggregator deleted.",
       v.evictions},
      {"hale_aggregator_observers_configured", "gauge", "Observers in etcd.observers.",
       config_.coordination.quorum.observers.size()},
      {"hale_aggregator_observers_heard", "gauge", "Observers whose verdicts are fresh.", t.fresh},
      {"hale_aggregator_quorum", "gauge", "Observers needed for a verdict.", t.needed},
      {"hale_aggregator_quorum_visible", "gauge", "1 while a quorum of observers is heard and etcd answers.",
       t.visible && v.reachable ? 1U : 0U},
  };
  appendRows(out, rows);
  appendMetricHeader(out, "hale_aggregator_region_quorum_verdict", "gauge",
                     "1 for the region's verdict by quorum of observers (all 0: unknown, no quorum).");
  for (const std::string& name : names) {
    const RegionTally* rt = t.region(name);
    const bool known = rt != nullptr && t.visible && v.reachable;
    for (Verdict verdict : {Verdict::up, Verdict::degraded, Verdict::down}) {
      appendSample(out,
                   "hale_aggregator_region_quorum_verdict{region=\"" + esc(name) + "\",verdict=\"" +
                       std::string(toString(verdict)) + "\"}",
                   known && rt->verdict == verdict ? 1 : 0);
    }
  }
}

}  // namespace hale::aggregator
