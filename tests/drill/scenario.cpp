#include "scenario.h"

#include <map>
#include <thread>

#include "clock.h"

namespace hale::drill {

using std::chrono::milliseconds;

namespace {

int64_t nowMs() { return toUnixMillis(SystemClock::instance().wallNow()); }

}  // namespace

std::pair<int64_t, std::string> newestPlan(Deployment& d) {
  const nlohmann::json plans = d.aggregator().json({"plans", "--limit", "1"});
  if (!plans.is_array() || plans.empty()) return {0, ""};
  return {plans[0].value("id", int64_t{0}), plans[0].value("state", "")};
}

// Prints the journal's new timeline entries and returns them.
std::vector<TimelineEntry> printNew(Deployment& d, Timeline& timeline, const Printer& print) {
  d.followLeader();
  std::vector<TimelineEntry> added = timeline.addJournal(readJournal(d.aggregator().socket()), d.aggregator().name());
  for (const TimelineEntry& e : added) print(timeline.render(e));
  return added;
}

void mark(Timeline& timeline, const TimelineEntry& e, const Printer& print) {
  timeline.addMark(e);
  print(timeline.render(e));
}

std::vector<TimelineEntry> followJournal(Deployment& d, FailoverRun& run, const Printer& print) {
  std::vector<TimelineEntry> added = printNew(d, run.timeline, print);
  for (const TimelineEntry& e : added) {
    if (e.event == "+decision") {
      run.decided_ms = e.at_ms;
      run.plan_id = e.plan_id;
    }
    if (e.plan_id != 0 && e.plan_id == run.plan_id) {
      run.plan_done |= e.event == "+plan-done";
      run.plan_failed |= e.event == "-plan-failed";
    }
  }
  return added;
}

void followDns(Deployment& d, FailoverRun& run, const Printer& print, std::chrono::steady_clock::time_point& next) {
  if (run.dns_switched || std::chrono::steady_clock::now() < next) return;
  next = std::chrono::steady_clock::now() + milliseconds{100};
  if (d.dnsAnswer() == std::vector<std::string>{kAddressB}) {
    run.dns_switched = true;
    mark(run.timeline, {nowMs(), "dns-answer", kRegionB, kAddressB}, print);
  }
}

FailoverRun killAndFollow(Deployment& d, const Printer& print, milliseconds limit, const std::atomic<bool>& stop) {
  FailoverRun run;
  const int64_t kill_ms = d.killRegionA();
  run.timeline = Timeline(kill_ms);
  print(run.timeline.render({kill_ms, "kill", kRegionA}));

  // The last heartbeat the aggregator heard from eu, from its own clock ("heard N ms ago").
  const int64_t asked = nowMs();
  int64_t last = 0;
  const nlohmann::json nodes = d.aggregator().json({"nodes", "--region", kRegionA});
  if (nodes.is_array()) {
    for (const auto& n : nodes) {
      const int64_t ago = n.value("last_heard_ms", int64_t{-1});
      if (ago >= 0) last = std::max(last, asked - ago);
    }
  }
  if (last > 0) mark(run.timeline, {last, "last-heartbeat", kRegionA}, print);

  // The plan's progress comes from the journal's own events, the DNS answer from a real query.
  const auto deadline = std::chrono::steady_clock::now() + limit;
  auto next_dns = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < deadline) {
    if (stop) {
      run.interrupted = true;
      return run;
    }
    followJournal(d, run, print);
    followDns(d, run, print, next_dns);
    if (run.plan_failed || (run.plan_done && run.dns_switched)) break;
    // Dry run: the decision is journaled and nothing else will happen; give it a moment to prove that.
    if (d.options().dry_run && run.decided_ms != 0 && nowMs() - run.decided_ms > 3000) break;
    std::this_thread::sleep_for(milliseconds{20});
  }
  return run;
}

bool followPlan(Deployment& d, Timeline& timeline, int64_t plan_id, const Printer& print, milliseconds limit,
                const std::atomic<bool>& stop) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline && !stop) {
    for (const TimelineEntry& e : printNew(d, timeline, print)) {
      if (e.plan_id == plan_id && e.event == "+plan-done") return true;
      if (e.plan_id == plan_id && e.event == "-plan-failed") return false;
    }
    std::this_thread::sleep_for(milliseconds{50});
  }
  return false;
}

namespace {

// Executions of plan `plan_id`'s step `step` logged by the step's own script (request ids "<plan>.<step>").
int executions(const std::vector<std::string>& log, int64_t plan_id, int step) {
  const std::string id = std::to_string(plan_id) + "." + std::to_string(step) + " ";
  int n = 0;
  for (const std::string& line : log) n += line.rfind(id, 0) == 0 ? 1 : 0;
  return n;
}

Check writeCheck(const std::string& what, const WriteProbe& p, bool ok) {
  return {what, ok, std::string(toString(p.outcome)) + (p.detail.empty() ? "" : ": " + p.detail)};
}

}  // namespace

std::vector<Check> verifyFailover(Deployment& d, const std::string& region, int64_t plan_id) {
  std::vector<Check> checks;
  const std::string other = region == kRegionA ? kRegionB : kRegionA;
  const WriteProbe here = d.probeWrite(region);
  checks.push_back(writeCheck(region + "'s database is the primary and takes writes", here,
                              here.outcome == WriteProbe::Outcome::writable));
  const WriteProbe there = d.probeWrite(other);
  checks.push_back(writeCheck(other + "'s database refuses writes (or is down)", there, there.refusesWrites()));
  std::string missing;
  try {
    for (int64_t id : d.missingRows(region)) missing += (missing.empty() ? "" : ",") + std::to_string(id);
    checks.push_back({"the " + std::to_string(d.committedRows().size()) +
                          " rows committed and replicated before are in " + region + "'s database",
                      missing.empty(), missing.empty() ? "" : "missing ids " + missing});
  } catch (const std::exception& e) {
    checks.push_back({"the rows committed before are in " + region + "'s database", false, e.what()});
  }
  const std::vector<std::string> answer = d.dnsAnswer();
  std::string got;
  for (const std::string& a : answer) got += (got.empty() ? "" : ",") + a;
  checks.push_back({std::string("DNS app.hale.test answers ") + addressOf(region) + " (" + region + ")",
                    answer == std::vector<std::string>{addressOf(region)},
                    "answers " + (got.empty() ? "nothing" : got)});

  // Each step done once across every aggregator's journal (the ones still running: the drill's eu
  // aggregator dies with eu, before anything is decided), and by one aggregator.
  std::map<int, int> starts;
  std::map<int, int> done;
  std::string ran_by;
  int runners = 0;
  for (test::AggregatorProcess* a : d.runningAggregators()) {
    bool ran = false;
    for (const auto& e : readJournal(a->socket(), 2000)) {
      if (e.value("plan_id", int64_t{0}) != plan_id) continue;
      if (e.value("event", "") == "+plan-step-start") ++starts[e.value("step", -1)];
      if (e.value("event", "") == "+plan-step-done") ++done[e.value("step", -1)];
      ran |= e.value("event", "") == "+plan-step-start";
    }
    if (ran) {
      ++runners;
      ran_by += (ran_by.empty() ? "" : ", ") + a->name();
    }
  }
  d.followLeader();
  const nlohmann::json plans = d.aggregator().json({"plans", "--limit", "10"});
  size_t steps = 0;
  if (plans.is_array()) {
    for (const auto& p : plans) {
      if (p.value("id", int64_t{0}) == plan_id && p.contains("steps")) steps = p["steps"].size();
    }
  }
  // The side effects themselves, counted by the scripts that perform them: the fence that powered eu
  // off and the notification, each once per step of theirs in the plan.
  if (plans.is_array()) {
    for (const auto& p : plans) {
      if (p.value("id", int64_t{0}) != plan_id) continue;
      for (const auto& s : p.value("steps", nlohmann::json::array())) {
        const std::string action = s.value("action", "");
        const int step = s.value("step", -1);
        const std::vector<std::string> log = action == "fence-eu" ? d.fencings()
                                             : action == "notify" ? d.notifications()
                                                                  : std::vector<std::string>{};
        if (action != "fence-eu" && action != "notify") continue;
        const int n = executions(log, plan_id, step);
        checks.push_back({"step " + std::to_string(step) + " " + action + " took effect exactly once", n == 1,
                          "its script logged " + std::to_string(n) + " execution" + (n == 1 ? "" : "s")});
      }
    }
  }
  bool once = steps > 0;
  std::string counts;
  for (size_t s = 0; s < steps; ++s) {
    const int i = static_cast<int>(s);
    once &= done[i] == 1;
    counts += (counts.empty() ? "" : ", ") + std::to_string(done[i]) + "/" + std::to_string(starts[i]);
  }
  checks.push_back({"the journal holds each of plan " + std::to_string(plan_id) + "'s " + std::to_string(steps) +
                        " steps done exactly once",
                    once, "done/started per step: " + counts});
  if (d.runningAggregators().size() > 1) {
    checks.push_back(
        {"exactly one aggregator ran the plan", runners == 1, ran_by.empty() ? "none did" : "ran by " + ran_by});
  }
  return checks;
}

}  // namespace hale::drill
