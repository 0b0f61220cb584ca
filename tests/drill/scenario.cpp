#include "scenario.h"

#include <map>
#include <thread>

#include "clock.h"

namespace hale::drill {

using std::chrono::milliseconds;

namespace {

int64_t nowMs() { return toUnixMillis(SystemClock::instance().wallNow()); }

std::string addressOf(const std::string& region) { return region == kRegionA ? kAddressA : kAddressB; }

}  // namespace

std::pair<int64_t, std::string> newestPlan(Deployment& d) {
  const nlohmann::json plans = d.aggregator().json({"plans", "--limit", "1"});
  if (!plans.is_array() || plans.empty()) return {0, ""};
  return {plans[0].value("id", int64_t{0}), plans[0].value("state", "")};
}

FailoverRun killAndFollow(Deployment& d, const Printer& print, milliseconds limit, const std::atomic<bool>& stop) {
  FailoverRun run;
  const int64_t before = newestPlan(d).first;
  const int64_t kill_ms = d.killRegionA();
  run.timeline = Timeline(kill_ms);
  print("      0 ms  KILL region eu: its agents and its database server (SIGKILL)");

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
  if (last > 0) {
    TimelineEntry mark{last, "last-heartbeat", kRegionA, "", -1};
    run.timeline.addMark(mark);
    char line[96];
    std::snprintf(line, sizeof line, "%+7lld ms  last heartbeat heard from eu", static_cast<long long>(last - kill_ms));
    print(line);
  }

  const auto deadline = std::chrono::steady_clock::now() + limit;
  auto next_dns = std::chrono::steady_clock::now();
  int64_t decided_ms = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (stop) {
      run.interrupted = true;
      return run;
    }
    for (const TimelineEntry& e : run.timeline.addJournal(readJournal(d.aggregator().socket()))) {
      print(run.timeline.render(e));
      if (e.event == "+decision") decided_ms = e.at_ms;
    }
    const auto [plan, state] = newestPlan(d);
    if (plan > before) {
      run.plan_id = plan;
      run.plan_done = state == "done";
      run.plan_failed = state == "failed";
    }
    if (!run.dns_switched && std::chrono::steady_clock::now() >= next_dns) {
      next_dns = std::chrono::steady_clock::now() + milliseconds{100};
      if (d.dnsAnswer() == std::vector<std::string>{kAddressB}) {
        run.dns_switched = true;
        TimelineEntry mark{nowMs(), "dns-answer", kRegionB, "", -1};
        run.timeline.addMark(mark);
        char line[128];
        std::snprintf(line, sizeof line, "%+7lld ms  DNS: app.hale.test answers %s (us), seen by a real query",
                      static_cast<long long>(mark.at_ms - kill_ms), kAddressB);
        print(line);
      }
    }
    if (run.plan_failed) break;
    if (run.plan_done && run.dns_switched) {
      // The last journal entries (plan-done lands with the state), then stop.
      for (const TimelineEntry& e : run.timeline.addJournal(readJournal(d.aggregator().socket())))
        print(run.timeline.render(e));
      break;
    }
    // Dry run: the decision is journaled and nothing else will happen; give it a moment to prove that.
    if (d.options().dry_run && decided_ms != 0 && nowMs() - decided_ms > 3000) break;
    std::this_thread::sleep_for(milliseconds{20});
  }
  return run;
}

bool followPlan(Deployment& d, Timeline& timeline, int64_t plan_id, const Printer& print, milliseconds limit,
                const std::atomic<bool>& stop) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline && !stop) {
    for (const TimelineEntry& e : timeline.addJournal(readJournal(d.aggregator().socket()))) print(timeline.render(e));
    const auto [plan, state] = newestPlan(d);
    if (plan == plan_id && (state == "done" || state == "failed")) {
      for (const TimelineEntry& e : timeline.addJournal(readJournal(d.aggregator().socket())))
        print(timeline.render(e));
      return state == "done";
    }
    std::this_thread::sleep_for(milliseconds{50});
  }
  return false;
}

std::vector<Check> verifyFailover(Deployment& d, const std::string& region, int64_t plan_id) {
  std::vector<Check> checks;
  const bool writable = d.databaseIsWritablePrimary(region);
  checks.push_back({region + "'s database is the primary and takes writes", writable, ""});
  const std::vector<std::string> answer = d.dnsAnswer();
  std::string got;
  for (const std::string& a : answer) got += (got.empty() ? "" : ",") + a;
  checks.push_back({"DNS app.hale.test answers " + addressOf(region) + " (" + region + ")",
                    answer == std::vector<std::string>{addressOf(region)},
                    "answers " + (got.empty() ? "nothing" : got)});

  std::map<int, int> starts;
  std::map<int, int> done;
  const nlohmann::json events = readJournal(d.aggregator().socket(), 2000);
  for (const auto& e : events) {
    if (e.value("plan_id", int64_t{0}) != plan_id) continue;
    if (e.value("event", "") == "+plan-step-start") ++starts[e.value("step", -1)];
    if (e.value("event", "") == "+plan-step-done") ++done[e.value("step", -1)];
  }
  const nlohmann::json plans = d.aggregator().json({"plans", "--limit", "10"});
  size_t steps = 0;
  if (plans.is_array()) {
    for (const auto& p : plans) {
      if (p.value("id", int64_t{0}) == plan_id && p.contains("steps")) steps = p["steps"].size();
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
  return checks;
}

}  // namespace hale::drill
