// halectl status against a hale-aggregator: the active region, each region's verdict, and everything that
// holds or changes automation (pause, TILT, fail static, a plan running or awaiting approval or failed, a
// held failover, a journal that cannot be written, resources a half-done plan left elsewhere). Exit 0 when
// all is well, 1 when anything is degraded or held, 2 unreachable (callDaemon).

#include <iostream>
#include <string>
#include <vector>

#include "commands.h"
#include "control_protocol.h"
#include "table.h"

namespace hale::cli {
namespace {

// The newest plan when it is running, or null.
nlohmann::json runningPlan(const Context& ctx) {
  nlohmann::json plans;
  int code = kExitOk;
  if (!callDaemon(ctx, "plans", {{"limit", 1}}, plans, code) || !plans.is_array() || plans.empty()) return nullptr;
  return plans[0].value("state", "") == "running" ? plans[0] : nlohmann::json(nullptr);
}

std::string planLine(const nlohmann::json& p) {
  std::string line = p.value("kind", "?") + " " + p.value("from", "?") + " -> " + p.value("to", "?");
  if (!p.contains("steps")) return line;
  const auto& steps = p["steps"];
  for (const auto& s : steps) {
    const std::string state = s.value("state", "?");
    if (state == "done") continue;
    line += ", step " + std::to_string(s.value("step", 0) + 1) + " of " + std::to_string(steps.size()) + " " +
            s.value("action", "?") + " " + state;
    if (s.value("attempts", 0) > 1) line += " (attempt " + std::to_string(s.value("attempts", 0)) + ")";
    if (!s.value("detail", "").empty() && state != "pending") line += ": " + s.value("detail", "");
    break;
  }
  return line;
}

}  // namespace

// Everything that holds automation or is not as it should be, one line each ("" items skipped); empty when
// all is well. Shared with `halectl regions`, which prints it as a banner.
std::vector<std::string> aggregatorAttention(const nlohmann::json& s) {
  std::vector<std::string> out;
  const auto add = [&](bool when, std::string what) {
    if (when) out.push_back(std::move(what));
  };
  add(s.value("paused", false), "PAUSED: no automatic decisions (halectl resume)");
  const uint64_t waiting = s.value("journal_events_waiting", uint64_t{0});
  add(!s.value("journal_writable", true),
      "JOURNAL NOT WRITABLE (" + s.value("journal_error", "") + "): " +
          (waiting > 0 ? std::to_string(waiting) + " events wait; no automatic decision is made until they are written"
                       : "no automatic decision is made until it can be written"));
  // A cold start before the agents connect is no outage: said as such, not as fail static, until the
  // start-up grace is over (as the journal says it).
  const bool heard_any = s.value("heard_any_node", true);
  add(s.value("starting", false), heard_any
                                      ? "starting: within the start-up grace, nothing is decided yet"
                                      : "starting: no node heard yet, nothing is decided within the start-up grace");
  add(s.value("tilt", false), "TILT: the aggregator distrusts its own timing, nothing is decided");
  add(s.value("fail_static", false),
      heard_any
          ? "FAIL STATIC: every region is silent at once, nothing is decided"
          : "FAIL STATIC: no node heard since start (agents not connected, or our own network), nothing is decided");
  const std::string awaiting = s.value("awaiting_approval", "");
  add(!awaiting.empty(),
      "plan " + awaiting + " awaits approval (halectl approve " + awaiting + " | halectl reject " + awaiting + ")");
  const std::string failed = s.value("blocked_by_failed_plan", "");
  add(!failed.empty(), "plan " + failed + " FAILED: automation waits for an operator (halectl plans; halectl resume)");
  // A hold for a reason listed above is not said twice (the minimum interval and a rejection are new here).
  const bool said =
      s.value("paused", false) || !s.value("journal_writable", true) || !awaiting.empty() || !failed.empty();
  add(!said && !s.value("failover_held", "").empty(), "failover held: " + s.value("failover_held", ""));
  if (s.contains("resources_elsewhere") && s["resources_elsewhere"].is_array() && !s["resources_elsewhere"].empty()) {
    std::string where;
    for (const auto& r : s["resources_elsewhere"]) {
      const std::string name = r.is_string() ? r.get<std::string>() : "?";
      const nlohmann::json res =
          s.contains("resources") ? s["resources"].value(name, nlohmann::json::object()) : nlohmann::json::object();
      where += (where.empty() ? "" : ", ") + name + " in " + res.value("region", "?") + " (plan " +
               std::to_string(res.value("plan", int64_t{0})) + ")";
    }
    add(true, where + " while the active region is " + s.value("active_region", "?"));
  }
  if (s.contains("coordination") && s["coordination"].value("mode", "none") == "etcd") {
    const auto& c = s["coordination"];
    add(!c.value("reachable", false), "etcd unreachable: nothing is decided");
    add(c.value("reachable", false) && !c.value("quorum_visible", false), "no quorum of observers: nothing is decided");
  }
  return out;
}

int printAggregatorStatus(const Context& ctx, const nlohmann::json& s) {
  nlohmann::json regions;
  int code = kExitOk;
  if (!callDaemon(ctx, "regions", nlohmann::json::object(), regions, code)) return code;
  std::vector<std::string> attention = aggregatorAttention(s);
  if (s.value("plan_running", false)) {
    const nlohmann::json p = runningPlan(ctx);
    attention.insert(attention.begin(),
                     p.is_object() ? "plan " + std::to_string(p.value("id", int64_t{0})) + " running: " + planLine(p)
                                   : "a plan is running (halectl plans)");
  }
  bool all_up = regions.is_array();
  for (const auto& r : regions) all_up = all_up && r.value("verdict", "") == "up";
  const int exit_code = attention.empty() && all_up ? kExitOk : kExitFailure;
  if (ctx.json) {
    nlohmann::json out = s;
    out["regions"] = regions;
    out["attention"] = attention;
    std::cout << control::dumpJson(out) << "\n";
    return exit_code;
  }
  std::cout << "aggregator " << s.value("version", "?") << "  active region " << s.value("active_region", "?")
            << " (home " << s.value("home_region", "?") << ")  automation "
            << (s.value("paused", false) ? "PAUSED" : "on") << ", approval " << s.value("approval", "?")
            << (s.value("dry_run", false) ? ", DRY RUN (decisions are journaled, nothing changes)" : "") << "\n";
  if (s.contains("coordination")) printCoordination(s["coordination"]);
  std::cout << "\n";
  Table t({"REGION", "ROLE", "VERDICT", "FOR", "HEALTHY", "SUSPECT", "FAILED"});
  for (const auto& r : regions) {
    std::string role = r.value("active", false) ? "active" : "standby";
    if (r.value("home", false)) role += " (home)";
    t.add({r.value("name", "?"), role, r.value("verdict", "?"), duration(r.value("verdict_for_ms", int64_t{-1})),
           std::to_string(r.value("healthy", 0)) + "/" + std::to_string(r.value("nodes", 0)),
           std::to_string(r.value("suspect", 0)), std::to_string(r.value("failed", 0))});
  }
  t.print(std::cout);
  if (!attention.empty()) std::cout << "\n";
  for (const std::string& line : attention) std::cout << "! " << line << "\n";
  if (attention.empty() && all_up) std::cout << "\nall regions up, nothing holds automation\n";
  return exit_code;
}

}  // namespace hale::cli
