#include "policy.h"

#include <algorithm>

namespace hale::aggregator {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

std::string human(std::chrono::nanoseconds d) {
  const auto ms = duration_cast<milliseconds>(d).count();
  if (ms < 10'000) return std::to_string(ms) + "ms";
  if (ms < 600'000) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms / 60'000) + "m";
}

const RegionSummary* find(const Observations& seen, const std::string& name) {
  for (const RegionSummary& r : seen.regions) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

bool hasPlan(const PolicyConfig& c, const std::string& from, const std::string& to) {
  return std::find(c.plans.begin(), c.plans.end(), std::make_pair(from, to)) != c.plans.end();
}

Decision none(std::string reason) {
  Decision d;
  d.reason = std::move(reason);
  return d;
}

// Not acting, though the failover would be decided but for `reason`.
Decision held(std::string reason) {
  Decision d = none(reason);
  d.held = std::move(reason);
  return d;
}

// How long since the last failover: on the monotonic clock when this process saw it, else the wall clock.
std::optional<std::chrono::nanoseconds> sinceLastFailover(const PolicyState& state, SteadyTime now, WallTime wall_now) {
  if (state.last_failover_steady) return now - *state.last_failover_steady;
  if (state.last_failover) return wall_now - *state.last_failover;
  return std::nullopt;
}

Decision act(Decision::Kind kind, const std::string& from, const std::string& to, std::string reason,
             const PolicyConfig& config) {
  Decision d;
  d.kind = kind;
  d.from = from;
  d.to = to;
  d.reason = std::move(reason);
  d.needs_approval = config.manual_approval;
  d.dry_run = config.dry_run;
  return d;
}

// The preferred region to take over from `from`: up, with a plan, lowest priority number first.
const RegionSummary* bestTarget(const Observations& seen, const PolicyConfig& config, const std::string& from) {
  const RegionSummary* best = nullptr;
  for (const RegionSummary& r : seen.regions) {
    if (r.name == from || r.verdict != Verdict::up || !hasPlan(config, from, r.name)) continue;
    if (best == nullptr || r.priority < best->priority) best = &r;
  }
  return best;
}

Decision operatorDecision(const Observations& seen, const PolicyState& state, const PolicyConfig& config,
                          const OperatorRequest& req, SteadyTime now, WallTime wall_now) {
  const std::string to = req.kind == OperatorRequest::Kind::failback ? config.home_region : req.to;
  const auto kind = req.kind == OperatorRequest::Kind::failback ? Decision::Kind::failback : Decision::Kind::failover;
  if (state.plan_running) return none("refused: a plan is running");
  if (to == state.active_region) return none("refused: " + to + " is already the active region");
  if (!hasPlan(config, state.active_region, to))
    return none("refused: no plan from " + state.active_region + " to " + to);
  const RegionSummary* target = find(seen, to);
  if (target == nullptr) return none("refused: unknown region " + to);
  if (!req.force) {
    if (target->verdict != Verdict::up) {
      return none("refused: target " + to + " is " + std::string(toString(target->verdict)) + " (use --force)");
    }
    if (const auto since = sinceLastFailover(state, now, wall_now); since && *since < config.min_failover_interval) {
      return none("refused: last failover " + human(*since) + " ago, minimum interval " +
                  human(config.min_failover_interval) + " (use --force)");
    }
  }
  Decision d = act(
      kind, state.active_region, to,
      "operator requested " + std::string(toString(kind)) + " to " + to + (req.by.empty() ? "" : " (" + req.by + ")"),
      config);
  d.operator_requested = true;
  d.forced = req.force;
  d.needs_approval = false;  // the operator is the approval
  return d;
}

}  // namespace

std::string_view toString(Decision::Kind k) {
  switch (k) {
    case Decision::Kind::none: return "none";
    case Decision::Kind::failover: return "failover";
    case Decision::Kind::failback: return "failback";
  }
  return "?";
}

Decision decide(const Observations& seen, const PolicyState& state, const PolicyConfig& config,
                const std::optional<OperatorRequest>& request, SteadyTime now, WallTime wall_now) {
  // An operator may act while automation is paused or blocked, never while the aggregator distrusts itself
  // about the facts it would need (isolation; its own loop stalled, TILT, when the verdicts stand still),
  // unless forced.
  if (request) {
    if (seen.isolated && !request->force) return none("refused: fail static (every region silent; use --force)");
    if (seen.tilt && !request->force)
      return none("refused: tilt (own loop stalled recently, verdicts not current; use --force)");
    if (seen.quorum_lost && !request->force)
      return none("refused: no quorum of observers (" + seen.quorum_detail + "; use --force)");
    return operatorDecision(seen, state, config, *request, now, wall_now);
  }
  if (seen.tilt) return none("tilt: own loop stalled recently, not acting");
  if (seen.isolated) return none("fail static: every region silent at once, suspecting own isolation");
  if (seen.quorum_lost) return none("no quorum: " + seen.quorum_detail + ", not acting");
  // A hold is named only when it holds something: the active region down and a target up.
  const RegionSummary* active = find(seen, state.active_region);
  const bool would_fail_over =
      active != nullptr && active->verdict == Verdict::down && bestTarget(seen, config, active->name) != nullptr;
  const auto hold = [&](std::string reason) { return would_fail_over ? held(std::move(reason)) : none(reason); };
  if (state.paused) return hold("paused");
  if (state.plan_running) return none("a plan is running");
  if (!state.journal_unwritable.empty()) {
    return hold("the journal cannot be written (" + state.journal_unwritable + "); nothing is decided until it can");
  }
  if (!state.awaiting_approval.empty()) return hold("awaiting approval of plan " + state.awaiting_approval);
  if (!state.blocked_by_failed_plan.empty()) {
    return hold("plan " + state.blocked_by_failed_plan + " failed; waiting for an operator (resume)");
  }

  if (active == nullptr) return none("active region " + state.active_region + " is not configured");

  if (active->verdict == Verdict::down) {
    const RegionSummary* target = bestTarget(seen, config, active->name);
    if (target == nullptr) return none("active region " + active->name + " is down, but no region with a plan is up");
    if (const auto since = sinceLastFailover(state, now, wall_now); since && *since < config.min_failover_interval) {
      return held("active region " + active->name + " is down, but the last failover was " + human(*since) +
                  " ago (minimum interval " + human(config.min_failover_interval) + "; clears in " +
                  human(config.min_failover_interval - *since) + ")");
    }
    // Once per outage of the active region, as a real failover would be (the target may change meanwhile).
    if (config.dry_run && state.dry_run_decided.rfind(active->name + ">", 0) == 0) {
      return none("dry run: failover " + state.dry_run_decided.substr(0, state.dry_run_decided.find('>')) + " to " +
                  state.dry_run_decided.substr(state.dry_run_decided.find('>') + 1) + " already journaled");
    }
    if (state.rejected == active->name + ">" + target->name) {
      return held("failover " + active->name + " -> " + target->name +
                  " rejected by an operator for this outage (until " + active->name + " is up again)");
    }
    const std::string why = active->quorum.empty() ? "lost for " + human(now - active->lost_since) + " (" +
                                                         std::to_string(active->healthy) + "/" +
                                                         std::to_string(active->total) + " nodes healthy)"
                                                   : active->quorum;
    return act(Decision::Kind::failover, active->name, target->name, "region " + active->name + " down: " + why,
               config);
  }

  // Failback: only to the home region, only when configured, only after it was up for failback_after.
  if (state.active_region != config.home_region && !config.home_region.empty()) {
    const RegionSummary* home = find(seen, config.home_region);
    if (!config.auto_failback)
      return none("active region " + active->name + " is " + std::string(toString(active->verdict)) +
                  "; failback is manual");
    if (home == nullptr || home->verdict != Verdict::up) {
      return none("home region " + config.home_region + " is not up; staying on " + active->name);
    }
    if (now - home->verdict_since < config.failback_after) {
      return none("home region " + config.home_region + " up for " + human(now - home->verdict_since) +
                  ", failback after " + human(config.failback_after));
    }
    if (!hasPlan(config, active->name, config.home_region))
      return none("no plan from " + active->name + " back to " + config.home_region);
    if (const auto since = sinceLastFailover(state, now, wall_now); since && *since < config.min_failover_interval) {
      return none("failback waits for the minimum interval since the last failover");
    }
    if (config.dry_run && state.dry_run_failback == active->name + ">" + config.home_region) {
      return none("dry run: failback to " + config.home_region + " already journaled");
    }
    return act(Decision::Kind::failback, active->name, config.home_region,
               "home region " + config.home_region + " up for " + human(now - home->verdict_since), config);
  }
  return none("active region " + active->name + " is " + std::string(toString(active->verdict)));
}

void recordDryRun(PolicyState& state, const Decision& d) {
  (d.kind == Decision::Kind::failback ? state.dry_run_failback : state.dry_run_decided) = d.from + ">" + d.to;
}

void refreshState(PolicyState& state, const Observations& seen) {
  // A dry run's journaled decision and an operator's rejection last for one outage of their source region.
  for (std::string* outage : {&state.dry_run_decided, &state.rejected}) {
    if (outage->empty()) continue;
    const RegionSummary* r = find(seen, outage->substr(0, outage->find('>')));
    if (r != nullptr && r->verdict == Verdict::up) outage->clear();
  }
  if (!state.dry_run_failback.empty()) {
    const RegionSummary* home = find(seen, state.dry_run_failback.substr(state.dry_run_failback.find('>') + 1));
    if (home == nullptr || home->verdict != Verdict::up) state.dry_run_failback.clear();
  }
}

}  // namespace hale::aggregator
