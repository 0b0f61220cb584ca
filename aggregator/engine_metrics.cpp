// /metrics for the aggregator, Prometheus text: heartbeats accepted and refused by reason, nodes by
// health, region verdicts, decisions, plans and steps, self-suspicion.

#include <array>

#include "engine.h"
#include "prometheus_text.h"

namespace hale::aggregator {

std::string Engine::metrics() const {
  std::string out;
  appendMetricHeader(out, "hale_aggregator_heartbeats_accepted_total", "counter", "Heartbeats decoded and accepted.");
  appendSample(out, "hale_aggregator_heartbeats_accepted_total", ingest_.accepted.load());
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

  std::lock_guard lock(mu_);
  const SteadyTime now = clock_.steadyNow();
  std::array<uint64_t, 4> by_health{};
  for (const auto& [id, n] : observer_.nodes()) ++by_health[static_cast<size_t>(n.state.health)];
  appendMetricHeader(out, "hale_aggregator_nodes", "gauge", "Nodes by health.");
  for (size_t h = 0; h < by_health.size(); ++h) {
    appendSample(out, "hale_aggregator_nodes{health=\"" + std::string(toString(static_cast<NodeHealth>(h))) + "\"}",
                 by_health[h]);
  }
  appendMetricHeader(out, "hale_aggregator_region_verdict", "gauge", "1 for the region's current verdict.");
  appendMetricHeader(out, "hale_aggregator_region_active", "gauge", "1 for the active region.");
  for (const TrackedRegion& r : observer_.regions()) {
    for (Verdict v : {Verdict::up, Verdict::degraded, Verdict::down}) {
      appendSample(out,
                   "hale_aggregator_region_verdict{region=\"" + r.config.name + "\",verdict=\"" +
                       std::string(toString(v)) + "\"}",
                   r.state.verdict == v ? 1 : 0);
    }
    appendSample(out, "hale_aggregator_region_active{region=\"" + r.config.name + "\"}",
                 r.config.name == state_.active_region ? 1 : 0);
  }
  const struct {
    const char* name;
    const char* type;
    const char* help;
    uint64_t value;
  } rows[] = {
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
      {"hale_aggregator_journal_errors_total", "counter", "Journal writes that failed.",
       counters_.journal_errors.load()},
      {"hale_aggregator_paused", "gauge", "1 while automatic decisions are paused.", state_.paused ? 1U : 0U},
      {"hale_aggregator_tilt", "gauge", "1 while the aggregator distrusts its own timing.",
       observer_.tilted(now) ? 1U : 0U},
      {"hale_aggregator_fail_static", "gauge", "1 while every region is silent at once.",
       observer_.isolated() ? 1U : 0U},
      {"hale_aggregator_plan_running", "gauge", "1 while a plan runs.", state_.plan_running ? 1U : 0U},
  };
  for (const auto& r : rows) {
    appendMetricHeader(out, r.name, r.type, r.help);
    appendSample(out, r.name, r.value);
  }
  return out;
}

}  // namespace hale::aggregator
