#include "scenario_drills.h"

#include <thread>

#include "clock.h"

namespace hale::drill {

using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

namespace {

int64_t nowMs() { return toUnixMillis(SystemClock::instance().wallNow()); }

// After the fault: how long a scenario may take, and how long one without a decision is watched.
constexpr milliseconds kLimit{45000};
constexpr milliseconds kQuietFor{15000};
// A hung database's open sessions still answer: its check fails once the kept session reaches its lifetime
// (10 s) and new ones fail `fall` times, then the region goes down: by the drill's settings (1 s interval)
// about 16 s at worst, 13-15 s in the runs measured, so a hung-database scenario is watched twice that long
// before it counts as no decision.
constexpr milliseconds kHungQuietFor{30000};

}  // namespace

const char* toString(Outcome o) {
  switch (o) {
    case Outcome::failover: return "failover";
    case Outcome::no_failover: return "no failover";
    case Outcome::refused: return "refused";
  }
  return "?";
}

const std::vector<ScenarioDrill>& scenarioDrills() {
  static const std::vector<ScenarioDrill> all = {
      {"region-death",
       "region eu dies: its agents and database killed (with 3 aggregators, its aggregator and etcd"
       " member too)",
       Outcome::failover},
      {"hung-db",
       "eu's database hangs (SIGSTOP; PostgreSQL: its postmaster, so open sessions keep writing until the fence)",
       Outcome::failover, true},
      {"lagging-standby",
       "us stops applying replication 3 s before region eu dies; the RPO gate is 1 s: promoting would lose writes",
       Outcome::refused, false, true, milliseconds{0}, false, 0, "RPO gate"},
      {"dns-outage", "region eu dies and the DNS server stalls 15 s mid-plan (as the promotion starts)",
       Outcome::failover, false, false, milliseconds{15000}},
      {"partition",
       "eu stays alive but is cut off from us, the witness and etcd's majority; nothing but the lease fences its "
       "database",
       Outcome::failover, false, false, milliseconds{0}, true},
      {"partial", "2 of eu's 3 app nodes die; its database and the third node stay healthy", Outcome::no_failover,
       false, false, milliseconds{0}, false, 2},
  };
  return all;
}

const ScenarioDrill* findScenarioDrill(const std::string& name) {
  for (const ScenarioDrill& s : scenarioDrills()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

void prepareOptions(const ScenarioDrill& s, DrillOptions& options) {
  if (s.pause_replay) options.max_lag = milliseconds{1000};
  if (s.partition) {
    options.partitionable = true;
    options.aggregators = 3;
  }
}

bool ScenarioResult::passed() const {
  for (const Check& c : checks) {
    if (!c.ok) return false;
  }
  return !checks.empty();
}

ScenarioResult runScenarioDrill(Deployment& d, const ScenarioDrill& s, const Printer& print,
                                const std::atomic<bool>& stop) {
  ScenarioResult result;
  InvariantWatch watch({{kRegionA, kAddressA, [&d] { return d.openSession(kRegionA); }},
                        {kRegionB, kAddressB, [&d] { return d.openSession(kRegionB); }}},
                       [&d] { return d.dnsAnswer(); });
  watch.start();
  std::this_thread::sleep_for(seconds{1});  // the writer and the prober see the healthy state first
  if (s.pause_replay) {
    d.pauseReplay(kRegionB);
    print("  . us stops applying replication; eu keeps taking writes for 3 s");
    std::this_thread::sleep_for(seconds{3});
  }

  FailoverRun& run = result.run;
  int64_t fault_ms = 0;
  if (s.freeze_db) {
    fault_ms = nowMs();
    d.freezeDatabase(kRegionA);
  } else if (s.partition) {
    fault_ms = nowMs();
    d.partitionRegionA();
  } else if (s.kill_agents > 0) {
    fault_ms = d.killAgents(kRegionA, s.kill_agents);
  } else {
    fault_ms = d.killRegionA();
  }
  run.timeline = Timeline(fault_ms);
  mark(run.timeline, {fault_ms, "fault", s.name, s.what}, print);

  const auto deadline = SteadyClock::now() + kLimit;
  auto next_dns = SteadyClock::now();
  // Plain time points with flags (GCC's maybe-uninitialized misreads std::optional of one).
  SteadyClock::time_point stalled_since{};
  bool stalled = false;
  bool stalled_once = false;
  SteadyClock::time_point ended{};  // the plan's end, or the DNS answer after it
  bool has_ended = false;
  const milliseconds quiet_for = s.freeze_db ? kHungQuietFor : kQuietFor;
  result.watch_ended = "the limit, " + std::to_string(kLimit.count() / 1000) + " s after the fault";
  bool stopped = false;  // the watch ended by a stop, not by one of the reasons below
  while (SteadyClock::now() < deadline) {
    if (stop) {
      stopped = true;
      break;
    }
    for (const TimelineEntry& e : followJournal(d, run, print)) {
      // The DNS server stalls once, mid-plan: as the promotion starts, so the DNS step, right after it,
      // meets the stall (the journal is read every 20 ms, and a DNS step takes a few).
      if (s.dns_stall.count() > 0 && !stalled_once && e.plan_id != 0 && e.plan_id == run.plan_id &&
          e.event == "+plan-step-start" && e.subject.rfind("promote-", 0) == 0) {
        d.freezeDns();
        stalled_once = true;
        stalled = true;
        stalled_since = SteadyClock::now();
        mark(run.timeline, {nowMs(), "dns-stall", "", std::to_string(s.dns_stall.count()) + " ms"}, print);
      }
    }
    if (stalled && SteadyClock::now() - stalled_since >= s.dns_stall) {
      d.thawDns();
      stalled = false;
      mark(run.timeline, {nowMs(), "dns-resume", "", ""}, print);
    }
    if (!stalled) followDns(d, run, print, next_dns);
    if (!has_ended && (run.plan_failed || (run.plan_done && run.dns_switched))) {
      has_ended = true;
      ended = SteadyClock::now();
    }
    // Past the end, a second more shows that nothing else happens; without a decision, kQuietFor
    // (kHungQuietFor for a hung database).
    if (has_ended && SteadyClock::now() - ended > seconds{1}) {
      result.watch_ended =
          run.plan_failed ? "the plan failed, and 1 s more" : "the plan done, DNS switched, and 1 s more";
      break;
    }
    if (run.decided_ms == 0 && nowMs() - fault_ms > quiet_for.count()) {
      result.watch_ended = "no decision within " + std::to_string(quiet_for.count() / 1000) + " s of the fault";
      break;
    }
    std::this_thread::sleep_for(milliseconds{20});
  }
  if (stopped) result.watch_ended = "interrupted";
  print("  . the watch ended: " + result.watch_ended);
  if (stalled) d.thawDns();
  watch.stop();
  // The fence saw every process of eu's database end: from that instant it is refused, though a killed
  // server first shows as dropped sessions and the prober's first refusal comes a round later.
  try {
    for (const int64_t at : d.fencedAtMs()) watch.gone(kRegionA, at);
  } catch (const std::exception& e) {
    result.checks.push_back({"the fence's log could be read", false, e.what()});
  }
  run.interrupted = stopped;

  result.observed = run.plan_done && run.dns_switched ? Outcome::failover
                    : run.decided_ms != 0             ? Outcome::refused
                                                      : Outcome::no_failover;
  const std::string survivor = result.observed == Outcome::no_failover ? kRegionA : kRegionB;
  std::vector<Check>& checks = result.checks;
  try {
    result.invariants = watch.report(fault_ms, survivor, d.writtenIds(survivor), kRegionA);
  } catch (const std::exception& e) {
    checks.push_back({"the surviving primary's rows could be read", false, e.what()});
  }
  const InvariantReport& inv = result.invariants;
  checks.push_back({std::string("the outcome is the expected one: ") + toString(s.expected),
                    result.observed == s.expected, std::string("observed ") + toString(result.observed)});
  checks.push_back({"no instant with two writable primaries", inv.longest_two_writable_ms == 0,
                    "longest " + std::to_string(inv.longest_two_writable_ms) + " ms"});
  // The watch watched: eu seen taking writes before the fault, every database answering often enough.
  checks.push_back({"the prober saw eu take writes before the fault", inv.old_writable_before_fault, ""});
  checks.push_back({"the prober had an answer from each database at least every 3 s",
                    inv.probe_rounds > 0 && inv.longest_probe_gap_ms <= 3000,
                    "longest gap " + std::to_string(inv.longest_probe_gap_ms) + " ms"});
  checks.push_back({"the writer's writes were acknowledged before the fault", inv.acknowledged > 0,
                    std::to_string(inv.acknowledged) + " acknowledged"});
  const int64_t rpo_ms = d.options().max_lag.count();
  if (result.observed != Outcome::refused) {
    // The old primary may go on acknowledging writes after the fault (a hung postmaster's open sessions, a
    // cut-off primary until its lease lapses). What it acknowledged but had not yet replicated when it was
    // stopped is asynchronous replication's loss, held to the same RPO bound as before the fault, counted
    // back from its last acknowledged write. A split brain's loss, a write acknowledged by the old primary
    // while the new one also took writes, is "no instant with two writable primaries".
    checks.push_back({"no write acknowledged after the fault lost beyond the RPO bound (" + std::to_string(rpo_ms) +
                          " ms before the old primary's last write)",
                      inv.missing_after_fault_elsewhere == 0 && inv.oldest_missing_after_fault_before_end_ms <= rpo_ms,
                      std::to_string(inv.missing_after_fault) + " missing from " + survivor + " (" +
                          std::to_string(inv.missing_after_fault_elsewhere) + " not the old primary's), the oldest " +
                          std::to_string(inv.oldest_missing_after_fault_before_end_ms) +
                          " ms before the old primary's last write"});
  }
  if (result.observed == Outcome::failover) {
    checks.push_back({"the prober saw us take writes at the end", inv.survivor_writable_at_end, ""});
    // Asynchronous replication may lose what was acknowledged within the RPO bound before the fault,
    // never anything older; every loss is reported exactly.
    checks.push_back(
        {"no write acknowledged before the fault lost beyond the RPO bound (" + std::to_string(rpo_ms) + " ms)",
         inv.missing.size() == inv.missing_after_fault || inv.oldest_missing_before_fault_ms <= rpo_ms,
         std::to_string(inv.missing.size() - inv.missing_after_fault) + " missing from us"});
    for (Check& c : verifyFailover(d, kRegionB, run.plan_id)) checks.push_back(std::move(c));
  } else if (result.observed == Outcome::no_failover) {
    checks.push_back({"the fault was noticed: region eu degraded",
                      run.timeline.offset("+region-degraded", kRegionA).has_value(), ""});
    const WriteProbe eu = d.probeWrite(kRegionA);
    checks.push_back({"eu's database still takes writes", eu.outcome == WriteProbe::Outcome::writable,
                      std::string(toString(eu.outcome)) + (eu.detail.empty() ? "" : ": " + eu.detail)});
    const WriteProbe us = d.probeWrite(kRegionB);
    checks.push_back({"us's database still refuses writes", us.outcome == WriteProbe::Outcome::read_only,
                      std::string(toString(us.outcome)) + (us.detail.empty() ? "" : ": " + us.detail)});
    checks.push_back({"DNS still answers eu", d.dnsAnswer() == std::vector<std::string>{kAddressA}, ""});
    checks.push_back({"no acknowledged write missing from eu", inv.missing.empty(),
                      std::to_string(inv.missing.size()) + " missing"});
  } else if (result.observed == Outcome::refused) {
    const WriteProbe us = d.probeWrite(kRegionB);
    std::string why;
    for (const TimelineEntry& e : run.timeline.entries()) {
      if (e.event == "-plan-failed" && e.plan_id == run.plan_id) why = e.detail;
    }
    checks.push_back({"the plan was refused by " + (s.refusal.empty() ? std::string("anything") : s.refusal),
                      !why.empty() && why.find(s.refusal) != std::string::npos, why});
    checks.push_back({"us's database was not promoted", us.outcome == WriteProbe::Outcome::read_only,
                      std::string(toString(us.outcome)) + (us.detail.empty() ? "" : ": " + us.detail)});
    checks.push_back({"DNS still answers eu", d.dnsAnswer() == std::vector<std::string>{kAddressA}, ""});
    checks.push_back({"the refusal kept the writes us had not applied", !inv.missing.empty(),
                      std::to_string(inv.missing.size()) + " acknowledged writes not on us"});
  }
  if (s.partition) {
    // From both sides' own journals: eu's agent fenced its database before us's was promoted.
    const int64_t fenced = d.leaseAgentEvent(kRegionA, "+fenced");
    // The promotion's step start: nothing of it acts before; its end comes after the promotion itself.
    const auto promoted = run.timeline.offset("+plan-step-start", "promote-us");
    checks.push_back({"eu's agent fenced its database after the fault and before us's promotion started",
                      fenced >= fault_ms && promoted && fenced < fault_ms + *promoted,
                      fenced == 0 ? "eu never fenced"
                                  : "fenced " + std::to_string(fenced - fault_ms) + " ms after the fault" +
                                        (promoted ? ", promoted " + std::to_string(*promoted) + " ms after" : "")});
    // Healed, eu reads the record naming us and stays fenced.
    d.healRegionA();
    mark(run.timeline, {nowMs(), "heal", kRegionA, ""}, print);
    std::this_thread::sleep_for(seconds{3});
    const WriteProbe eu = d.probeWrite(kRegionA);
    checks.push_back({"3 s after the partition heals, eu still refuses writes",
                      eu.outcome == WriteProbe::Outcome::read_only,
                      std::string(toString(eu.outcome)) + (eu.detail.empty() ? "" : ": " + eu.detail)});
    const int64_t unfenced = d.leaseAgentEvent(kRegionA, "-fenced");
    const int64_t split = d.leaseAgentEvent(kRegionA, "+split-brain");
    checks.push_back({"eu's agent never lifted its fence nor saw a split brain", unfenced == 0 && split == 0,
                      unfenced != 0 ? "-fenced journaled"
                      : split != 0  ? "+split-brain journaled"
                                    : ""});
    std::string holder;
    try {
      holder = d.leaseHolder();
    } catch (const std::exception& e) {
      holder = e.what();
    }
    // What the operator sees: eu's agent says FENCED, and the aggregators count eu's fenced node.
    const test::CommandResult status = test::halectl(d.agents(kRegionA).front()->socket(), {"status"});
    checks.push_back({"halectl status on eu's database host says FENCED",
                      status.output.find("FENCED  database main: lease_lost") != std::string::npos,
                      status.output.substr(0, status.output.find('\n'))});
    d.followLeader();
    const std::string metrics = d.aggregator().metrics();
    checks.push_back({"the acting aggregator's /metrics counts eu's fenced node",
                      metrics.find("hale_aggregator_nodes_fenced{region=\"eu\"} 1") != std::string::npos,
                      metrics.empty() ? "no /metrics answer" : ""});
    checks.push_back({"us's database host agent holds the lease, taken without fencing first",
                      holder == "us-1" && d.leaseAgentEvent(kRegionB, "+fencing") == 0, "holder " + holder});
  }
  if (s.freeze_db) d.thawDatabase(kRegionA);
  return result;
}

}  // namespace hale::drill
