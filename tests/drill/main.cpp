// hale-drill: the two-region failover drill on one machine (see deployment.h for what it starts).
// Kills region eu and prints the failover as it happens, then verifies the end state; exit 0 only when
// verified. Options: --db postgres|mysql, --aggregators 1|3, --failback, --keep, --dry-run, --heartbeat DURATION,
// --scenario NAME (a named fault watched by the invariant checker; see scenario_drills.h).

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <thread>

#include "cli_args.h"
#include "clock.h"
#include "duration.h"
#include "run_guarded.h"
#include "scenario.h"
#include "scenario_drills.h"

namespace {

std::atomic<bool> g_stop{false};

void onSignal(int) { g_stop = true; }

void usage(std::ostream& out) {
  out << "usage: hale-drill [--db postgres|mysql] [--aggregators 1|3] [--failback] [--keep] [--dry-run]\n"
         "                  [--heartbeat 1s] [--scenario NAME]\n"
         "  Runs a two-region hale deployment on loopback, kills region eu and shows the failover to us.\n"
         "  --db        the database flavour (default postgres; mysql runs MariaDB)\n"
         "  --aggregators 3: three aggregators (eu, us, a witness) deciding by quorum through a 3-member etcd;\n"
         "              eu's aggregator and etcd member die with eu (default 1: one aggregator decides alone)\n"
         "  --failback  then restore eu and return to it with `halectl failback`\n"
         "  --keep      leave everything running for exploration with halectl; Ctrl-C ends it\n"
         "  --dry-run   the aggregator decides and journals, changes nothing\n"
         "  --heartbeat the agents' heartbeat interval (default 1s; detection scales with it)\n"
         "  --scenario  a named fault instead, with 3 aggregators unless --aggregators says otherwise; a writer\n"
         "              inserts a row every 20 ms where DNS points and a prober asks both databases every\n"
         "              50 ms whether they take writes; it passes when the outcome is the expected one, no\n"
         "              instant had two writable primaries and no acknowledged write was lost beyond the RPO\n"
         "              bound. Scenarios:\n";
  for (const auto& s : hale::drill::scenarioDrills()) {
    out << "                " << s.name << " (" << hale::drill::toString(s.expected) << "): " << s.what << "\n";
  }
}

void say(const std::string& line) { std::cout << line << std::endl; }

std::string seconds(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%6.3f s", static_cast<double>(ms) / 1000.0);
  return buf;
}

bool report(const std::vector<hale::drill::Check>& checks) {
  bool ok = true;
  for (const auto& c : checks) {
    say(std::string(c.ok ? "  ok    " : "  FAIL  ") + c.what + (c.detail.empty() ? "" : "  [" + c.detail + "]"));
    ok &= c.ok;
  }
  return ok;
}

int run(const hale::drill::DrillOptions& options, bool failback, bool keep) {
  using namespace hale::drill;
  const auto limit = std::chrono::seconds{30};
  say("hale drill: two regions on this machine, then region eu dies.");
  say("  eu (active):  " + std::to_string(options.nodes_per_region) + " agents, the " +
      (options.db == "postgres" ? "PostgreSQL primary" : "MariaDB primary") + ", DNS app.hale.test -> " + kAddressA);
  say("  us (standby): " + std::to_string(options.nodes_per_region) + " agents, the " +
      (options.db == "postgres" ? "streaming standby" : "GTID replica"));
  if (options.aggregators > 1) {
    say("  3 aggregators (observers eu, us and the witness w; quorum 2) and 3 etcd members; eu's die with eu");
  }
  say("  plan eu -> us: fence eu (power its database off), promote us's database, point DNS at us (" +
      std::string(kAddressB) + "), notify" + (options.dry_run ? "   [dry run: decide and journal only]" : ""));
  say("");
  Deployment d(options);
  d.start([](const std::string& line) { say("  . " + line); });
  if (g_stop) return 130;
  say("");
  say("timeline (milliseconds from the kill; journal of the aggregator that acts):");
  FailoverRun r = killAndFollow(d, say, limit, g_stop);
  if (r.interrupted) return 130;
  say("");

  bool ok = false;
  const Timeline& t = r.timeline;
  if (options.dry_run) {
    const bool decided = t.offset("+decision").has_value();
    std::vector<Check> checks = {
        {"the decision was journaled", decided, ""},
        {"nothing changed: eu's address still in DNS", d.dnsAnswer() == std::vector<std::string>{kAddressA}, ""},
        {"nothing changed: us's database still refuses writes",
         d.probeWrite(kRegionB).outcome == WriteProbe::Outcome::read_only, ""},
    };
    say("verification (dry run):");
    ok = report(checks);
  } else {
    say("verification:");
    ok = r.plan_done && report(verifyFailover(d, kRegionB, r.plan_id));
    if (!r.plan_done)
      say(r.plan_failed ? "  FAIL  the plan failed: see halectl plans" : "  FAIL  no completed plan within 30 s");
    const auto detect = t.offset("+region-down", kRegionA);
    const auto decide = t.offset("+decision");
    const auto done = t.offset("+plan-done");
    const auto dns = t.offset("dns-answer");
    say("");
    say("totals from the kill:");
    if (detect) say("  detect    " + seconds(*detect) + "   region eu declared down");
    if (decide) say("  decide    " + seconds(*decide) + "   failover eu -> us decided and journaled");
    if (done && dns) say("  complete  " + seconds(std::max(*done, *dns)) + "   plan done and DNS answering us");
  }
  say("");
  say("files (kept after the drill; the databases and BIND are removed):");
  std::cout << d.describeFiles();

  if (ok && failback && !options.dry_run) {
    say("");
    say("failback: eu is restored and the operator returns to it");
    d.restoreRegionA([](const std::string& line) { say("  . " + line); });
    Timeline back(hale::toUnixMillis(hale::SystemClock::instance().wallNow()));
    const hale::test::CommandResult fb = d.aggregator().halectl({"failback"});
    say("  $ halectl failback\n  " + fb.output.substr(0, fb.output.find_last_not_of('\n') + 1));
    const int64_t plan = newestPlan(d).first;
    ok = fb.exit_code == 0 && followPlan(d, back, plan, say, limit, g_stop);
    say("verification (failback):");
    ok = report(verifyFailover(d, kRegionA, plan)) && ok;
  }

  if (keep) {
    say("");
    say("--keep: everything stays up. Try, in another terminal:");
    const std::string ctl = "halectl --socket " + d.aggregator().socket();
    if (options.aggregators > 1) say("  (" + d.aggregator().name() + ", the leader; every aggregator has a socket)");
    say("  " + ctl + " regions");
    say("  " + ctl + " nodes");
    say("  " + ctl + " journal --limit 40");
    say("  " + ctl + " plans");
    say("Ctrl-C stops and removes everything.");
    while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds{200});
  }
  say(ok ? "\ndrill PASSED" : "\ndrill FAILED");
  return ok ? 0 : 1;
}

int runScenario(const hale::drill::DrillOptions& options, const hale::drill::ScenarioDrill& s) {
  using namespace hale::drill;
  say("hale drill, scenario " + s.name + ": " + s.what);
  say("  expected outcome: " + std::string(toString(s.expected)) + "; " + std::to_string(options.aggregators) +
      (options.aggregators > 1 ? " aggregators deciding by quorum through etcd, with the primary lease"
                               : " aggregator"));
  say("");
  Deployment d(options);
  d.start([](const std::string& line) { say("  . " + line); });
  if (g_stop) return 130;
  say("");
  say("timeline (milliseconds from the fault; journal of the aggregator that acts):");
  ScenarioResult r = runScenarioDrill(d, s, say, g_stop);
  if (r.run.interrupted) return 130;
  say("");
  say("invariants (writer every 20 ms where DNS points, prober every 50 ms on both databases):");
  std::cout << r.invariants.summary();
  say("");
  say("verification:");
  const bool ok = report(r.checks);
  say("");
  say("files (kept after the drill; the databases and BIND are removed):");
  std::cout << d.describeFiles();
  say(ok ? "\ndrill PASSED" : "\ndrill FAILED");
  return ok ? 0 : 1;
}

int drillMain(int argc, char** argv) {
  auto parsed = hale::CliArgs::parse(argc, argv, {"failback", "keep", "dry-run", "help"},
                                     {"db", "heartbeat", "aggregators", "scenario"});
  if (!parsed) {
    std::cerr << "hale-drill: " << parsed.error().message << "\n";
    usage(std::cerr);
    return hale::kExitUsage;
  }
  const hale::CliArgs& args = parsed.value();
  if (args.has("help")) {
    usage(std::cout);
    return hale::kExitOk;
  }
  if (!args.positional().empty()) {
    usage(std::cerr);
    return hale::kExitUsage;
  }
  hale::drill::DrillOptions options;
  options.db = args.valueOr("db", "postgres");
  options.dry_run = args.has("dry-run");
  options.keep_files = true;
  const bool failback = args.has("failback");
  const bool keep = args.has("keep");
  const std::string heartbeat = args.valueOr("heartbeat", "1s");
  const hale::drill::ScenarioDrill* scenario = nullptr;
  if (const auto name = args.value("scenario")) {
    scenario = hale::drill::findScenarioDrill(*name);
    if (scenario == nullptr) {
      std::cerr << "hale-drill: unknown scenario \"" << *name << "\"\n";
      usage(std::cerr);
      return hale::kExitUsage;
    }
    if (failback || keep || options.dry_run) {
      std::cerr << "hale-drill: --scenario runs alone (no --failback, --keep or --dry-run)\n";
      return hale::kExitUsage;
    }
  }
  const std::string aggregators = args.valueOr("aggregators", scenario != nullptr ? "3" : "1");
  if (aggregators != "1" && aggregators != "3") {
    std::cerr << "hale-drill: --aggregators must be 1 or 3\n";
    return hale::kExitUsage;
  }
  options.aggregators = aggregators == "3" ? 3 : 1;
  if (options.db != "postgres" && options.db != "mysql") {
    std::cerr << "hale-drill: --db must be postgres or mysql\n";
    return hale::kExitUsage;
  }
  const auto hb = hale::parseDuration(heartbeat);
  if (!hb || *hb < std::chrono::milliseconds{200} || *hb > std::chrono::seconds{10}) {
    std::cerr << "hale-drill: --heartbeat must be a duration between 200ms and 10s\n";
    return hale::kExitUsage;
  }
  options.heartbeat = *hb;
  if (::geteuid() != 0) {
    std::cerr << "hale-drill: run as root (it starts PostgreSQL, MariaDB and BIND as their service users)\n";
    return hale::kExitUnavailable;
  }
  struct sigaction sa {};
  sa.sa_handler = onSignal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  try {
    if (scenario != nullptr) {
      hale::drill::prepareOptions(*scenario, options);
      return runScenario(options, *scenario);
    }
    return run(options, failback, keep);
  } catch (const std::exception& e) {
    std::cerr << "hale-drill: " << e.what() << "\n";
    return hale::kExitFailure;
  }
}

}  // namespace

int main(int argc, char** argv) { return hale::runGuarded(drillMain, argc, argv); }
