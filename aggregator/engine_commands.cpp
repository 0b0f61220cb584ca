// The aggregator's control-socket commands: read-only views of the engine, and the operator's levers.

#include "engine.h"
#include "hale/version.h"

namespace hale::aggregator {
namespace {

int64_t agoMs(SteadyTime now, SteadyTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(now - t).count();
}

nlohmann::json planJson(const PlanRecord& p) {
  nlohmann::json steps = nlohmann::json::array();
  for (const StepRecord& s : p.steps) {
    steps.push_back({{"step", s.idx},
                     {"action", s.action},
                     {"state", s.state},
                     {"attempts", s.attempts},
                     {"started_ms", s.started_ms},
                     {"finished_ms", s.finished_ms},
                     {"detail", s.detail}});
  }
  return {{"id", p.id},
          {"created_ms", p.created_ms},
          {"kind", p.kind},
          {"from", p.from},
          {"to", p.to},
          {"reason", p.reason},
          {"state", p.state},
          {"forced", p.forced},
          {"operator", p.operator_requested},
          {"dry_run", p.dry_run},
          {"finished_ms", p.finished_ms},
          {"steps", steps}};
}

nlohmann::json coordinationJson(const CoordinationConfig& c, const CoordinationView& v, const Tally& t,
                                SteadyTime now) {
  nlohmann::json observers = nlohmann::json::array();
  for (const std::string& name : c.quorum.observers) {
    nlohmann::json o = {{"name", name}, {"fresh", false}, {"heard_ms_ago", -1}};
    for (const ObserverReport& r : v.reports) {
      if (r.observer != name) continue;
      o["heard_ms_ago"] = agoMs(now, r.heard);
      o["fresh"] = now - r.heard <= c.quorum.fresh_within;
    }
    observers.push_back(o);
  }
  return {{"mode", "etcd"},
          {"name", c.name},
          {"cluster", c.cluster},
          {"reachable", v.reachable},
          {"error", v.error},
          {"leader", v.leader},
          {"epoch", v.epoch},
          {"leading", v.leading},
          {"unfit", v.unfit},
          {"quorum", t.needed},
          {"observers_heard", t.fresh},
          {"quorum_visible", t.visible && v.reachable},
          {"observers", observers}};
}

}  // namespace

nlohmann::json Engine::status() const {
  std::lock_guard lock(mu_);
  const SteadyTime now = clock_.steadyNow();
  return {{"version", kVersion},
          {"active_region", state_.active_region},
          {"home_region", config_.policy.home_region},
          {"paused", state_.paused},
          {"dry_run", config_.policy.dry_run},
          {"approval", config_.policy.manual_approval ? "manual" : "auto"},
          {"starting", observer_.starting(now)},  // within the start-up grace: nothing is decided
          {"tilt", observer_.tilted(now)},
          {"fail_static", observer_.failStatic()},
          {"heard_any_node", observer_.heardAnyNode()},  // since start: false on a cold start before agents connect
          {"plan_running", state_.plan_running},
          {"awaiting_approval", state_.awaiting_approval},
          {"blocked_by_failed_plan", state_.blocked_by_failed_plan},
          {"rejected", state_.rejected},
          {"failover_held", hold_},  // what holds a failover the active region's state calls for ("" none)
          {"last_failover_ms", state_.last_failover ? toUnixMillis(*state_.last_failover) : 0},
          {"heartbeats_accepted", ingest_.accepted.load()},
          {"journal", config_.journal},
          {"journal_writable", state_.journal_unwritable.empty()},
          {"journal_error", state_.journal_unwritable},
          {"journal_events_waiting", counters_.journal_events_waiting.load()},
          {"journal_events_dropped", counters_.journal_events_dropped.load()},
          // Where each resource a plan moves was last put, step by step; "resources_elsewhere" names those
          // not in the active region (a plan stopped half-way, or one in progress).
          {"resources", resources_.json()},
          {"resources_elsewhere", resources_.elsewhere(state_.active_region)},
          {"coordination", coordinationStatus(now)}};
}

nlohmann::json Engine::coordinationStatus(SteadyTime now) const {
  if (!coordinator_) return {{"mode", "none"}};
  const CoordinationView v = coordinator_->view();
  std::vector<std::string> names;
  for (const TrackedRegion& r : observer_.regions()) names.push_back(r.config.name);
  return coordinationJson(config_.coordination, v, tally(config_.coordination.quorum, names, v.reports, now), now);
}

nlohmann::json Engine::regions() const {
  std::lock_guard lock(mu_);
  const SteadyTime now = clock_.steadyNow();
  nlohmann::json out = nlohmann::json::array();
  std::optional<CoordinationView> shared;
  std::vector<std::string> names;
  for (const TrackedRegion& r : observer_.regions()) names.push_back(r.config.name);
  if (coordinator_) shared = coordinator_->view();
  const Tally t = shared ? tally(config_.coordination.quorum, names, shared->reports, now) : Tally{};
  for (const TrackedRegion& r : observer_.regions()) {
    nlohmann::json quorum;
    if (shared) {
      // Each observer's own verdict on this region, and what the quorum makes of them.
      nlohmann::json verdicts = nlohmann::json::object();
      for (const ObserverReport& rep : shared->reports) {
        for (const auto& [region, verdict] : rep.verdicts) {
          if (region == r.config.name) verdicts[rep.observer] = toString(verdict);
        }
      }
      const RegionTally* rt = t.region(r.config.name);
      quorum = {{"verdict", rt != nullptr && t.visible && shared->reachable ? toString(rt->verdict) : "unknown"},
                {"detail", rt != nullptr ? describe(*rt, t) : ""},
                {"observers", verdicts}};
    }
    out.push_back({{"name", r.config.name},
                   {"quorum", quorum},
                   {"active", r.config.name == state_.active_region},
                   {"home", r.config.name == config_.policy.home_region},
                   {"priority", r.config.priority},
                   {"verdict", toString(r.verdict())},
                   {"heard", r.heard},
                   {"verdict_for_ms", agoMs(now, r.state.since)},
                   {"nodes", r.counts.total},
                   {"healthy", r.counts.healthy},
                   {"suspect", r.counts.suspect},
                   {"failed", r.counts.failed},
                   {"unknown", r.counts.unknown}});
  }
  return out;
}

std::string Engine::unknownRegion(const std::string& name) const {
  std::lock_guard lock(mu_);
  if (name.empty() || observer_.region(name) != nullptr) return "";
  std::string known;
  for (const TrackedRegion& r : observer_.regions()) known += (known.empty() ? "" : ", ") + r.config.name;
  return "no region \"" + name + "\" (regions: " + known + ")";
}

nlohmann::json Engine::nodes(const std::string& region) const {
  std::lock_guard lock(mu_);
  const SteadyTime now = clock_.steadyNow();
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [id, n] : observer_.nodes()) {
    if (!region.empty() && n.region != region) continue;
    out.push_back({{"node", id},
                   {"region", n.region},
                   {"health", toString(n.state.health)},
                   {"reported", n.state.heard ? std::string(heartbeat::toString(n.state.reported)) : "-"},
                   {"last_heard_ms", n.state.heard ? agoMs(now, n.state.last_heard) : -1},
                   {"health_for_ms", agoMs(now, n.state.since)}});
  }
  return out;
}

Result<nlohmann::json> Engine::journalEvents(size_t limit) const {
  auto events = journal_->events(limit);
  if (!events) return events.error();
  nlohmann::json out = nlohmann::json::array();
  for (const JournalEvent& e : events.value()) {
    nlohmann::json j{{"id", e.id}, {"ts_ms", e.ts_ms}, {"event", e.name}, {"subject", e.subject}, {"detail", e.detail}};
    if (e.plan_id != 0) j["plan_id"] = e.plan_id;
    if (e.step >= 0) j["step"] = e.step;
    j["epoch"] = e.epoch;
    out.push_back(std::move(j));
  }
  return out;
}

Result<nlohmann::json> Engine::plans(size_t limit) const {
  auto plans = journal_->recentPlans(limit);
  if (!plans) return plans.error();
  nlohmann::json out = nlohmann::json::array();
  for (const PlanRecord& p : plans.value()) out.push_back(planJson(p));
  return out;
}

void Engine::registerCommands() {
  using control::ControlServer;
  using Args = const nlohmann::json&;
  auto str = [](Args a, const char* k) {
    return a.contains(k) && a[k].is_string() ? a[k].get<std::string>() : std::string();
  };
  auto flag = [](Args a, const char* k) { return a.contains(k) && a[k].is_boolean() && a[k].get<bool>(); };
  auto limit = [](Args a) -> Result<size_t> {
    if (!a.contains("limit")) return size_t{50};
    if (!a["limit"].is_number_unsigned() || a["limit"].get<uint64_t>() == 0 || a["limit"].get<uint64_t>() > 10000) {
      return makeError("bad_args", "limit must be 1..10000");
    }
    return static_cast<size_t>(a["limit"].get<uint64_t>());
  };
  ControlServer& s = *control_;
  s.addCommand("status", "active region, guards, self-suspicion",
               [this](Args) -> Result<nlohmann::json> { return status(); });
  s.addCommand("regions", "every region's verdict and node counts",
               [this](Args) -> Result<nlohmann::json> { return regions(); });
  s.addCommand("nodes", "every node's health; args: {region, unknown}",
               [this, str, flag](Args a) -> Result<nlohmann::json> {
                 // unknown: the senders refused for who they say they are, instead of the nodes.
                 if (flag(a, "unknown")) return unknownSenders();
                 const std::string region = str(a, "region");
                 if (const std::string unknown = unknownRegion(region); !unknown.empty())
                   return makeError("bad_args", unknown);
                 return nodes(region);
               });
  s.addCommand("journal", "the newest journal events; args: {limit}", [this, limit](Args a) -> Result<nlohmann::json> {
    auto n = limit(a);
    if (!n) return n.error();
    return journalEvents(n.value());
  });
  s.addCommand("plans", "the newest plans with their steps; args: {limit}",
               [this, limit](Args a) -> Result<nlohmann::json> {
                 auto n = limit(a);
                 if (!n) return n.error();
                 return plans(n.value());
               });
  // The levers: root, the aggregator's user and admin_group only; each journals who pulled it.
  using control::Caller;
  s.addAdminCommand("failover", "fail over to a region; args: {to, force}",
                    [this, str, flag](Args a, const Caller& c) -> Result<nlohmann::json> {
                      const std::string to = str(a, "to");
                      if (to.empty()) return makeError("bad_args", "\"to\" names the region to fail over to");
                      if (const std::string unknown = unknownRegion(to); !unknown.empty())
                        return makeError("bad_args", unknown);
                      return requestFailover(to, flag(a, "force"), c.describe());
                    });
  s.addAdminCommand("failback", "return to the home region; args: {force}",
                    [this, flag](Args a, const Caller& c) -> Result<nlohmann::json> {
                      return requestFailback(flag(a, "force"), c.describe());
                    });
  s.addAdminCommand("approve", "run a plan awaiting approval; args: {id}",
                    [this](Args a, const Caller& c) -> Result<nlohmann::json> {
                      if (!a.contains("id") || !a["id"].is_number_unsigned())
                        return makeError("bad_args", "\"id\" is the plan id");
                      return approve(a["id"].get<int64_t>(), c.describe());
                    });
  s.addAdminCommand("reject", "refuse a plan awaiting approval (no failover for this outage); args: {id}",
                    [this](Args a, const Caller& c) -> Result<nlohmann::json> {
                      if (!a.contains("id") || !a["id"].is_number_unsigned())
                        return makeError("bad_args", "\"id\" is the plan id");
                      return reject(a["id"].get<int64_t>(), c.describe());
                    });
  s.addAdminCommand("pause", "stop automatic decisions (observing goes on)",
                    [this](Args, const Caller& c) { return setPaused(true, c.describe()); });
  s.addAdminCommand("resume", "resume automatic decisions; acknowledges a failed plan",
                    [this](Args, const Caller& c) { return setPaused(false, c.describe()); });
}

}  // namespace hale::aggregator
