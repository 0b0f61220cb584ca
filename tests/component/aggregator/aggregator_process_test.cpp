// hale-aggregator and halectl as an operator runs them: crash and resume, operator commands, exit codes.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "clock.h"
#include "fake_fleet.h"
#include "hale_processes.h"
#include "journal.h"
#include "ports.h"
#include "process.h"
#include "temp_dir.h"

namespace hale::aggregator {
namespace {

using std::chrono::milliseconds;
using test::AggregatorProcess;
using test::CommandResult;
using test::SpawnOptions;
using test::waitFor;

std::vector<std::string> lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::string crashConfig(const test::TempDir& dir) {
  std::string body =
      "[[region]]\nname = \"eu\"\nrole = \"active\"\naccept_any_node = true\n"
      "[[region]]\nname = \"us\"\naccept_any_node = true\n";
  for (int i = 0; i < 4; ++i) {
    body += "[[action]]\nname = \"s" + std::to_string(i) + "\"\ntype = \"record\"\npath = \"" + dir.path() +
            "/record\"\nlabel = \"s" + std::to_string(i) + "\"\ndelay = \"1s\"\n";
  }
  return body + "[[plan]]\nfrom = \"eu\"\nto = \"us\"\nsteps = [\"s0\", \"s1\", \"s2\", \"s3\"]\n";
}

// SIGKILL during each step of a 4-step plan, restart: every step's side effect once, every step done once.
TEST(AggregatorCrash, ResumesAfterAKillDuringEachStepAndRunsEveryStepOnce) {
  for (int k = 0; k < 4; ++k) {
    SCOPED_TRACE("killed during step " + std::to_string(k));
    test::TempDir dir("crash");
    AggregatorProcess agg(dir, crashConfig(dir));
    agg.start();
    const CommandResult started = agg.halectl({"failover", "--to", "us", "--force"});
    ASSERT_EQ(started.exit_code, 0) << started.output;
    auto stepStarted = [&](int step) {
      const nlohmann::json events = agg.json({"journal", "--limit", "200"});
      for (const auto& e : events) {
        if (e.value("event", "") == "+plan-step-start" && e.value("step", -1) == step) return true;
      }
      return false;
    };
    ASSERT_TRUE(waitFor([&] { return stepStarted(k); }, milliseconds{10000}));
    std::this_thread::sleep_for(milliseconds{300});  // well inside the step's 1 s of work
    agg.kill();
    EXPECT_EQ(lines(dir.path() + "/record").size(), static_cast<size_t>(k));  // the steps before it, only

    agg.start();
    ASSERT_TRUE(waitFor(
        [&] {
          const nlohmann::json plans = agg.json({"plans", "--limit", "1"});
          return plans.is_array() && !plans.empty() && plans[0].value("state", "") == "done";
        },
        milliseconds{15000}))
        << agg.log();

    const std::vector<std::string> recorded = lines(dir.path() + "/record");
    EXPECT_EQ(recorded, (std::vector<std::string>{"1.0 s0", "1.1 s1", "1.2 s2", "1.3 s3"}));
    std::map<int, int> done;
    std::map<int, int> starts;
    for (const auto& e : agg.json({"journal", "--limit", "500"})) {
      if (e.value("event", "") == "+plan-step-done") ++done[e.value("step", -1)];
      if (e.value("event", "") == "+plan-step-start") ++starts[e.value("step", -1)];
    }
    for (int s = 0; s < 4; ++s) {
      EXPECT_EQ(done[s], 1) << "step " << s;
      EXPECT_EQ(starts[s], s == k ? 2 : 1) << "step " << s;  // the interrupted step was resumed once
    }
    const nlohmann::json regions = agg.json({"regions"});
    EXPECT_EQ(regions[1].value("active", false), true) << regions.dump();
    agg.kill();
  }
}

std::string operatorConfig(const test::TempDir& dir, const std::string& guards) {
  return "[detection]\nsuspect_after = \"600ms\"\nmiss_after = \"1s\"\nstartup_grace = "
         "\"1s\"\n[guards]\nmin_failover_interval = \"0s\"\n" +
         guards +
         "[[region]]\nname = \"eu\"\nrole = \"active\"\nnodes = [\"eu-1\"]\ndown_after = \"500ms\"\nup_after = "
         "\"500ms\"\n"
         "[[region]]\nname = \"us\"\nnodes = [\"us-1\"]\ndown_after = \"500ms\"\nup_after = \"500ms\"\n"
         "[[action]]\nname = \"mark\"\ntype = \"record\"\npath = \"" +
         dir.path() +
         "/record\"\n"
         "[[plan]]\nfrom = \"eu\"\nto = \"us\"\nsteps = [\"mark\"]\n"
         "[[plan]]\nfrom = \"us\"\nto = \"eu\"\nsteps = [\"mark\"]\n";
}

// Both regions' single nodes heard healthy (5 s bound).
bool bothRegionsHealthy(const AggregatorProcess& agg) {
  return waitFor(
      [&] {
        const nlohmann::json r = agg.json({"regions"});
        return r.is_array() && r.size() == 2 && r[0]["healthy"] == 1 && r[1]["healthy"] == 1;
      },
      milliseconds{5000});
}

// Plan `id` awaits approval, within `within`.
bool awaitsApproval(const AggregatorProcess& agg, const std::string& id, milliseconds within) {
  return waitFor([&] { return agg.json({"raw", "status"}).value("awaiting_approval", "") == id; }, within);
}

TEST(AggregatorHalectl, CommandsAndExitCodes) {
  test::TempDir dir("halectl");
  AggregatorProcess agg(dir, operatorConfig(dir, ""), "aggregator", {}, test::kAloneInsecure);
  agg.start();
  test::FakeFleet nodes({agg.endpoint()});
  nodes.setAlive({{"eu-1", "eu"}, {"us-1", "us"}});
  ASSERT_TRUE(waitFor(
      [&] {
        const nlohmann::json r = agg.json({"regions"});
        return r.is_array() && r.size() == 2 && r[0]["verdict"] == "up" && r[1]["verdict"] == "up" &&
               r[1]["healthy"] == 1;
      },
      milliseconds{5000}));

  CommandResult regions = agg.halectl({"regions"});
  EXPECT_EQ(regions.exit_code, 0);
  EXPECT_NE(regions.output.find("eu      active (home)  up"), std::string::npos) << regions.output;
  CommandResult nodes_out = agg.halectl({"nodes", "--region", "us"});
  EXPECT_EQ(nodes_out.exit_code, 0);
  EXPECT_NE(nodes_out.output.find("us-1  us      healthy"), std::string::npos) << nodes_out.output;
  EXPECT_EQ(nodes_out.output.find("eu-1"), std::string::npos);
  CommandResult unknown = agg.halectl({"nodes", "--unknown"});
  EXPECT_EQ(unknown.exit_code, 0) << unknown.output;
  EXPECT_NE(unknown.output.find("no sender refused for who it says it is"), std::string::npos) << unknown.output;

  // Refusals exit 1 and say why.
  CommandResult refused = agg.halectl({"failover", "--to", "eu"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.output.find("refused: eu is already the active region"), std::string::npos) << refused.output;
  CommandResult mars = agg.halectl({"failover", "--to", "mars"});
  EXPECT_EQ(mars.exit_code, 1);
  EXPECT_NE(mars.output.find("no region \"mars\" (regions: eu, us)"), std::string::npos) << mars.output;
  CommandResult nope = agg.halectl({"nodes", "--region", "nope"});
  EXPECT_EQ(nope.exit_code, 1) << nope.output;
  EXPECT_NE(nope.output.find("no region \"nope\" (regions: eu, us)"), std::string::npos) << nope.output;
  EXPECT_EQ(agg.halectl({"failover"}).exit_code, 64);
  // The command line is held to each command's usage (#15 item 3), and help works for every command.
  CommandResult extra = agg.halectl({"regions", "extra"});
  EXPECT_EQ(extra.exit_code, 64);
  EXPECT_NE(extra.output.find("regions takes no arguments (given: extra)"), std::string::npos) << extra.output;
  CommandResult stray = agg.halectl({"regions", "--to", "us"});
  EXPECT_EQ(stray.exit_code, 64);
  EXPECT_NE(stray.output.find("regions does not take --to"), std::string::npos) << stray.output;
  EXPECT_EQ(agg.halectl({"approve", "1", "2"}).exit_code, 64);
  for (const std::vector<std::string>& asked :
       {std::vector<std::string>{"help", "failover"}, {"failover", "--help"}, {"failover", "-h"}}) {
    CommandResult help = agg.halectl(asked);
    EXPECT_EQ(help.exit_code, 0) << help.output;
    EXPECT_NE(help.output.find("usage: halectl failover --to R [--force]"), std::string::npos) << help.output;
  }
  CommandResult overview = agg.halectl({"-h"});
  EXPECT_EQ(overview.exit_code, 0);
  EXPECT_NE(overview.output.find("help [command]"), std::string::npos) << overview.output;
  EXPECT_EQ(agg.halectl({"help", "nonsense"}).exit_code, 64);
  EXPECT_EQ(agg.halectl({"approve", "not-a-number"}).exit_code, 64);
  CommandResult missing = agg.halectl({"approve", "99"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("no plan 99"), std::string::npos);

  // `status` on the aggregator (#15 item 1): its own view, exit 0 when all is well (after the start-up
  // grace, which holds decisions and says so).
  ASSERT_TRUE(waitFor([&] { return agg.halectl({"status"}).exit_code == 0; }, milliseconds{5000}))
      << agg.halectl({"status"}).output;
  CommandResult well = agg.halectl({"status"});
  EXPECT_EQ(well.exit_code, 0) << well.output;
  EXPECT_NE(well.output.find("active region eu (home eu)  automation on, approval auto"), std::string::npos)
      << well.output;
  EXPECT_NE(well.output.find("all regions up, nothing holds automation"), std::string::npos) << well.output;

  // Pause and resume; while paused, status exits 1 and says so, and regions carries it as a banner.
  EXPECT_EQ(agg.halectl({"pause"}).exit_code, 0);
  EXPECT_EQ(agg.json({"raw", "status"})["paused"], true);
  CommandResult paused = agg.halectl({"status"});
  EXPECT_EQ(paused.exit_code, 1) << paused.output;
  EXPECT_NE(paused.output.find("automation PAUSED"), std::string::npos) << paused.output;
  EXPECT_NE(paused.output.find("! PAUSED: no automatic decisions (halectl resume)"), std::string::npos)
      << paused.output;
  CommandResult banner = agg.halectl({"regions"});
  EXPECT_EQ(banner.exit_code, 0);
  EXPECT_EQ(banner.output.rfind("! PAUSED: no automatic decisions (halectl resume)\n", 0), 0u) << banner.output;
  const nlohmann::json as_json = agg.json({"status"});
  ASSERT_TRUE(as_json.contains("attention")) << as_json.dump();
  EXPECT_EQ(as_json["attention"].size(), 1u) << as_json.dump();
  EXPECT_EQ(as_json["regions"].size(), 2u) << as_json.dump();
  EXPECT_EQ(agg.halectl({"resume"}).exit_code, 0);
  EXPECT_EQ(agg.json({"raw", "status"})["paused"], false);
  EXPECT_EQ(agg.halectl({"status"}).exit_code, 0);

  // An operator failover, then a failback.
  CommandResult failover = agg.halectl({"failover", "--to", "us"});
  EXPECT_EQ(failover.exit_code, 0) << failover.output;
  EXPECT_NE(failover.output.find("plan 1: failover eu -> us started"), std::string::npos) << failover.output;
  ASSERT_TRUE(waitFor([&] { return agg.json({"plans", "--limit", "1"})[0]["state"] == "done"; }, milliseconds{5000}));
  EXPECT_EQ(agg.json({"regions"})[1]["active"], true);
  CommandResult failback = agg.halectl({"failback"});
  EXPECT_EQ(failback.exit_code, 0) << failback.output;
  ASSERT_TRUE(waitFor([&] { return agg.json({"plans", "--limit", "1"})[0]["state"] == "done"; }, milliseconds{5000}));
  EXPECT_EQ(agg.json({"regions"})[0]["active"], true);
  EXPECT_EQ(lines(dir.path() + "/record"), (std::vector<std::string>{"1.0 ", "2.0 "}));

  CommandResult plans = agg.halectl({"plans"});
  EXPECT_EQ(plans.exit_code, 0);
  EXPECT_NE(plans.output.find("plan 2  failback us -> eu  done"), std::string::npos) << plans.output;
  CommandResult journal = agg.halectl({"journal", "--limit", "100"});
  EXPECT_EQ(journal.exit_code, 0);
  for (const char* event : {"+decision", "+plan-step-start", "+plan-step-done", "+plan-done", "+pause", "-pause"}) {
    EXPECT_NE(journal.output.find(event), std::string::npos) << event;
  }

  agg.kill();
  CommandResult gone = agg.halectl({"regions"});
  EXPECT_EQ(gone.exit_code, 2);
}

// A cold start before any agent connects (#16's final read): every listed node is silent, but none was ever
// heard, so within the start-up grace halectl says "no node heard yet", status says it and no fail static,
// and the gauge stays 0, as the journal says nothing; fail static only once it is over; the first
// heartbeats end it.
TEST(AggregatorHalectl, AColdStartBeforeTheAgentsConnectIsNotFailStaticUntilTheGraceEnds) {
  test::TempDir dir("coldstart");
  std::string config = operatorConfig(dir, "");
  const std::string grace = "startup_grace = \"1s\"";
  config.replace(config.find(grace), grace.size(), "startup_grace = \"4s\"");
  AggregatorProcess agg(dir, config, "aggregator", {}, test::kAloneInsecure);
  // `halectl status` exits 1 (something needs attention) and says `line`.
  const auto expectStatusSays = [&](const std::string& line) {
    const CommandResult status = agg.halectl({"status"});
    EXPECT_EQ(status.exit_code, 1) << status.output;
    EXPECT_NE(status.output.find("! " + line), std::string::npos) << status.output;
    return status.output;
  };
  agg.start();
  // Well past suspect_after (600 ms) from the observer's start (before start() returned), inside the grace.
  std::this_thread::sleep_for(milliseconds{1500});
  const nlohmann::json early = agg.json({"raw", "status"});
  ASSERT_EQ(early.value("starting", false), true) << "the check came after the grace: " << early.dump();
  EXPECT_EQ(early.value("fail_static", true), false) << early.dump();
  EXPECT_EQ(early.value("heard_any_node", true), false) << early.dump();
  EXPECT_NE(agg.metrics().find("\nhale_aggregator_fail_static 0\n"), std::string::npos);
  const std::string starting =
      expectStatusSays("starting: no node heard yet, nothing is decided within the start-up grace");
  EXPECT_EQ(starting.find("FAIL STATIC"), std::string::npos) << starting;

  // The grace over with still nothing heard: fail static, said everywhere in the same words.
  ASSERT_TRUE(waitFor([&] { return agg.json({"raw", "status"}).value("fail_static", false); }, milliseconds{6000}));
  EXPECT_NE(agg.metrics().find("\nhale_aggregator_fail_static 1\n"), std::string::npos);
  expectStatusSays("FAIL STATIC: no node heard since start (agents not connected, or our own network)");
  const std::string journal = agg.halectl({"journal", "--limit", "20"}).output;
  EXPECT_NE(journal.find("+fail-static"), std::string::npos) << journal;

  test::FakeFleet nodes({agg.endpoint()});
  nodes.setAlive({{"eu-1", "eu"}, {"us-1", "us"}});
  ASSERT_TRUE(waitFor([&] { return !agg.json({"raw", "status"}).value("fail_static", true); }, milliseconds{5000}));
  EXPECT_EQ(agg.json({"raw", "status"}).value("heard_any_node", false), true);
  EXPECT_NE(agg.halectl({"journal", "--limit", "20"}).output.find("-fail-static"), std::string::npos);
}

// halectl as `user` against the aggregator's socket.
CommandResult halectlAs(const AggregatorProcess& agg, const std::string& user, std::vector<std::string> args) {
  std::vector<std::string> argv = {test::halectlBinary(), "--socket", agg.socket()};
  argv.insert(argv.end(), args.begin(), args.end());
  return test::runCommand(SpawnOptions{.argv = argv, .run_as = user}, milliseconds{5000});
}

// Also who may: the socket's group (nogroup, so the user nobody) reads and cannot approve or fail over;
// root approves, and the journal says so.
TEST(AggregatorHalectl, ManualApprovalWaitsForApprove) {
  test::TempDir dir("approve");
  ::chmod(dir.path().c_str(), 0755);  // the socket's own mode and group decide who connects
  AggregatorProcess agg(dir, operatorConfig(dir, "approval = \"manual\"\n"), "aggregator", {},
                        std::string(test::kAloneInsecure) + "control_group = \"nogroup\"\n");
  agg.start();
  test::FakeFleet nodes({agg.endpoint()});
  nodes.setAlive({{"eu-1", "eu"}, {"us-1", "us"}});
  ASSERT_TRUE(bothRegionsHealthy(agg));
  nodes.setAlive({{"us-1", "us"}});  // eu goes silent
  ASSERT_TRUE(waitFor(
      [&] {
        const nlohmann::json plans = agg.json({"plans", "--limit", "1"});
        return plans.is_array() && !plans.empty() && plans[0]["state"] == "awaiting_approval";
      },
      milliseconds{5000}))
      << agg.log();
  std::this_thread::sleep_for(milliseconds{500});
  EXPECT_TRUE(lines(dir.path() + "/record").empty());  // nothing runs before approval
  EXPECT_EQ(agg.json({"raw", "status"})["awaiting_approval"], "1");
  const CommandResult waiting = agg.halectl({"status"});
  EXPECT_EQ(waiting.exit_code, 1) << waiting.output;
  EXPECT_NE(waiting.output.find("! plan 1 awaits approval (halectl approve 1 | halectl reject 1)"), std::string::npos)
      << waiting.output;

  const CommandResult read = halectlAs(agg, "nobody", {"plans"});
  EXPECT_EQ(read.exit_code, 0) << read.output;
  for (const std::vector<std::string>& lever :
       {std::vector<std::string>{"approve", "1"}, {"failover", "--to", "us"}, {"pause"}, {"reject", "1"}}) {
    const CommandResult refused = halectlAs(agg, "nobody", lever);
    EXPECT_EQ(refused.exit_code, 1) << lever[0] << ": " << refused.output;
    EXPECT_NE(refused.output.find("forbidden: " + lever[0] + " changes something: it needs root"), std::string::npos)
        << refused.output;
  }
  EXPECT_EQ(halectlAs(agg, "daemon", {"plans"}).exit_code, 2);  // not in the group: cannot even connect

  CommandResult approved = agg.halectl({"approve", "1"});
  EXPECT_EQ(approved.exit_code, 0) << approved.output;
  EXPECT_NE(agg.halectl({"journal"}).output.find("approved by root (uid 0)"), std::string::npos)
      << agg.halectl({"journal"}).output;
  ASSERT_TRUE(waitFor([&] { return agg.json({"plans", "--limit", "1"})[0]["state"] == "done"; }, milliseconds{5000}));
  EXPECT_EQ(lines(dir.path() + "/record"), std::vector<std::string>{"1.0 "});
  EXPECT_EQ(agg.halectl({"approve", "1"}).exit_code, 1);  // not awaiting any more
  agg.kill();
}

// A failover held by a pause is journaled and logged once when the hold starts, once when it clears, and
// the failover follows the resume.
TEST(AggregatorHalectl, AHeldFailoverIsJournaledOnceWhenItStartsAndWhenItClears) {
  test::TempDir dir("held");
  AggregatorProcess agg(dir, operatorConfig(dir, ""), "aggregator", {}, test::kAloneInsecure);
  agg.start();
  test::FakeFleet nodes({agg.endpoint()});
  nodes.setAlive({{"eu-1", "eu"}, {"us-1", "us"}});
  ASSERT_TRUE(bothRegionsHealthy(agg));
  ASSERT_EQ(agg.halectl({"pause"}).exit_code, 0);
  nodes.setAlive({{"us-1", "us"}});  // eu goes silent
  const auto count = [&](const std::string& event) {
    const nlohmann::json j = agg.json({"journal", "--limit", "500"});
    if (!j.is_array()) return -1;
    int n = 0;
    for (const auto& e : j) n += e.value("event", "") == event ? 1 : 0;
    return n;
  };
  ASSERT_TRUE(waitFor([&] { return count("+failover-held") >= 1; }, milliseconds{5000})) << agg.log();
  std::this_thread::sleep_for(milliseconds{2000});  // twenty ticks: still one entry
  EXPECT_EQ(count("+failover-held"), 1);
  EXPECT_EQ(count("-failover-held"), 0);
  EXPECT_NE(agg.log().find("+failover-held eu: paused"), std::string::npos) << agg.log();
  EXPECT_EQ(agg.json({"raw", "status"}).value("failover_held", ""), "paused");
  EXPECT_TRUE(lines(dir.path() + "/record").empty());
  ASSERT_EQ(agg.halectl({"resume"}).exit_code, 0);
  ASSERT_TRUE(waitFor([&] { return count("-failover-held") == 1; }, milliseconds{5000})) << agg.log();
  ASSERT_TRUE(waitFor([&] { return agg.json({"plans", "--limit", "1"})[0]["state"] == "done"; }, milliseconds{5000}));
  EXPECT_EQ(count("+failover-held"), 1);
  agg.kill();
}

// An approval is of the decision as it would be made now: a plan decided while eu was down is refused once
// eu is up again, however it waited.
TEST(AggregatorHalectl, AStaleDecisionCannotBeApproved) {
  test::TempDir dir("stale");
  AggregatorProcess agg(dir, operatorConfig(dir, "approval = \"manual\"\n"), "aggregator", {}, test::kAloneInsecure);
  agg.start();
  test::FakeFleet nodes({agg.endpoint()});
  nodes.setAlive({{"eu-1", "eu"}, {"us-1", "us"}});
  ASSERT_TRUE(bothRegionsHealthy(agg));
  nodes.setAlive({{"us-1", "us"}});  // eu goes silent: a failover awaits approval
  ASSERT_TRUE(awaitsApproval(agg, "1", milliseconds{5000}));
  nodes.setAlive({{"eu-1", "eu"}, {"us-1", "us"}});  // eu is back
  ASSERT_TRUE(waitFor([&] { return agg.json({"regions"})[0].value("verdict", "") == "up"; }, milliseconds{5000}));
  const CommandResult approved = agg.halectl({"approve", "1"});
  EXPECT_EQ(approved.exit_code, 1) << approved.output;
  EXPECT_NE(approved.output.find("plan 1 is stale: region eu is up again"), std::string::npos) << approved.output;
  std::this_thread::sleep_for(milliseconds{500});
  EXPECT_TRUE(lines(dir.path() + "/record").empty());
  agg.kill();
}

TEST(AggregatorHalectl, ARejectedPlanNeverRunsAndHoldsTheFailoverForThisOutage) {
  test::TempDir dir("reject");
  AggregatorProcess agg(dir, operatorConfig(dir, "approval = \"manual\"\n"), "aggregator", {}, test::kAloneInsecure);
  agg.start();
  test::FakeFleet nodes({agg.endpoint()});
  nodes.setAlive({{"eu-1", "eu"}, {"us-1", "us"}});
  ASSERT_TRUE(bothRegionsHealthy(agg));
  nodes.setAlive({{"us-1", "us"}});
  ASSERT_TRUE(awaitsApproval(agg, "1", milliseconds{5000}));
  const CommandResult rejected = agg.halectl({"reject", "1"});
  ASSERT_EQ(rejected.exit_code, 0) << rejected.output;
  EXPECT_NE(rejected.output.find("plan 1 rejected"), std::string::npos) << rejected.output;
  std::this_thread::sleep_for(milliseconds{1500});  // eu still down: nothing is decided again
  const nlohmann::json plans = agg.json({"plans"});
  ASSERT_TRUE(plans.is_array());
  EXPECT_EQ(plans.size(), 1u) << plans.dump();
  EXPECT_EQ(plans[0].value("state", ""), "rejected");
  const nlohmann::json status = agg.json({"raw", "status"});
  EXPECT_EQ(status.value("rejected", ""), "eu>us");
  EXPECT_NE(status.value("failover_held", "").find("rejected by an operator"), std::string::npos) << status.dump();
  EXPECT_EQ(agg.halectl({"approve", "1"}).exit_code, 1);
  EXPECT_EQ(agg.halectl({"reject", "1"}).exit_code, 1);
  EXPECT_TRUE(lines(dir.path() + "/record").empty());
  // eu back: the rejection ends with the outage.
  nodes.setAlive({{"eu-1", "eu"}, {"us-1", "us"}});
  ASSERT_TRUE(waitFor([&] { return agg.json({"raw", "status"}).value("rejected", "x").empty(); }, milliseconds{5000}));
  agg.kill();
}

TEST(AggregatorHalectl, ADecisionNotApprovedInTimeExpiresAndIsDecidedAgain) {
  test::TempDir dir("expire");
  AggregatorProcess agg(dir, operatorConfig(dir, "approval = \"manual\"\napproval_timeout = \"1s\"\n"), "aggregator",
                        {}, test::kAloneInsecure);
  agg.start();
  test::FakeFleet nodes({agg.endpoint()});
  nodes.setAlive({{"eu-1", "eu"}, {"us-1", "us"}});
  ASSERT_TRUE(bothRegionsHealthy(agg));
  nodes.setAlive({{"us-1", "us"}});
  ASSERT_TRUE(awaitsApproval(agg, "2", milliseconds{8000})) << agg.halectl({"plans"}).output;
  const nlohmann::json plans = agg.json({"plans"});
  ASSERT_TRUE(plans.is_array() && plans.size() >= 2) << plans.dump();
  EXPECT_EQ(plans[plans.size() - 1].value("state", ""), "expired") << plans.dump();  // oldest last
  EXPECT_NE(agg.halectl({"journal"}).output.find("-plan-expired"), std::string::npos);
  EXPECT_TRUE(lines(dir.path() + "/record").empty());
  agg.kill();
}

TEST(AggregatorHalectl, AFailedPlanRunsItsOnFailureActionsOnce) {
  test::TempDir dir("onfailure");
  AggregatorProcess agg(dir,
                        "[detection]\nstartup_grace = \"0s\"\n[guards]\nmin_failover_interval = \"0s\"\n"
                        "[[region]]\nname = \"eu\"\nrole = \"active\"\nnodes = [\"eu-1\"]\n"
                        "[[region]]\nname = \"us\"\nnodes = [\"us-1\"]\n"
                        "[[action]]\nname = \"tell\"\ntype = \"record\"\npath = \"" +
                            dir.path() +
                            "/record\"\nlabel = \"told\"\n"
                            "[[action]]\nname = \"broken\"\ntype = \"record\"\npath = \"" +
                            dir.path() +
                            "/record\"\nfail = \"permanent\"\n"
                            "[[plan]]\nfrom = \"eu\"\nto = \"us\"\nsteps = [\"broken\"]\non_failure = [\"tell\"]\n",
                        "aggregator", {}, test::kAloneInsecure);
  agg.start();
  test::FakeFleet nodes({agg.endpoint()});
  nodes.setAlive({{"eu-1", "eu"}, {"us-1", "us"}});
  ASSERT_TRUE(waitFor([&] { return agg.json({"regions"})[1]["healthy"] == 1; }, milliseconds{5000}));
  const CommandResult failover = agg.halectl({"failover", "--to", "us"});
  ASSERT_EQ(failover.exit_code, 0) << failover.output;
  ASSERT_TRUE(waitFor([&] { return agg.json({"plans", "--limit", "1"})[0]["state"] == "failed"; }, milliseconds{5000}));
  ASSERT_TRUE(waitFor([&] { return !lines(dir.path() + "/record").empty(); }, milliseconds{5000}));
  EXPECT_EQ(lines(dir.path() + "/record"), std::vector<std::string>{"1.failure.0 told"});
  EXPECT_NE(agg.halectl({"journal"}).output.find("+plan-on-failure"), std::string::npos);
  agg.kill();
}

// #15 item 6: every journaled event is also logged, once, and log_format = "json" makes every line one JSON
// object. The flow journals a pause and its resume (with who asked), a rejected decision, an approved one,
// a step retried (an exec action that exits 75 the first time), the plan's end, and a failback whose step
// fails; at debug level, so the quiet node events are in the log too. Failed before: -plan-rejected,
// +plan-step-retry and a failed step's -plan-failed reached the journal only.
TEST(AggregatorProcess, EveryJournaledEventIsLoggedOnceAsJson) {
  test::TempDir dir("logged");
  const std::string flaky = dir.path() + "/flaky.sh";
  {
    std::ofstream script(flaky);
    script << "#!/bin/sh\nif [ -e " << dir.path() << "/tried ]; then exit 0; fi\ntouch " << dir.path()
           << "/tried\nexit 75\n";
  }
  ASSERT_EQ(::chmod(flaky.c_str(), 0755), 0);
  std::string config = operatorConfig(dir, "approval = \"manual\"\n");
  const std::string plan = "steps = [\"mark\"]\n";
  config.replace(config.find(plan), plan.size(), "steps = [\"flaky\", \"mark\"]\n");  // eu -> us
  config.replace(config.rfind(plan), plan.size(), "steps = [\"broken\"]\n");          // us -> eu fails
  config += "[[action]]\nname = \"flaky\"\ntype = \"exec\"\ncommand = [\"" + flaky + "\"]\n";
  config +=
      "[[action]]\nname = \"broken\"\ntype = \"record\"\npath = \"" + dir.path() + "/broken\"\nfail = \"permanent\"\n";
  AggregatorProcess agg(dir, config, "aggregator", {}, std::string(test::kAloneInsecure) + "log_format = \"json\"\n");
  agg.setArgs({"--log-level", "debug"});
  agg.start();
  test::FakeFleet nodes({agg.endpoint()});
  nodes.setAlive({{"eu-1", "eu"}, {"us-1", "us"}});
  ASSERT_TRUE(bothRegionsHealthy(agg));
  ASSERT_EQ(agg.halectl({"pause"}).exit_code, 0);
  ASSERT_EQ(agg.halectl({"resume"}).exit_code, 0);
  nodes.setAlive({{"us-1", "us"}});
  ASSERT_TRUE(awaitsApproval(agg, "1", milliseconds{5000}));
  ASSERT_EQ(agg.halectl({"reject", "1"}).exit_code, 0);
  nodes.setAlive({{"eu-1", "eu"}, {"us-1", "us"}});
  ASSERT_TRUE(waitFor([&] { return agg.json({"raw", "status"}).value("rejected", "x").empty(); }, milliseconds{5000}));
  nodes.setAlive({{"us-1", "us"}});
  ASSERT_TRUE(awaitsApproval(agg, "2", milliseconds{5000})) << agg.halectl({"plans"}).output;
  ASSERT_EQ(agg.halectl({"approve", "2"}).exit_code, 0);
  ASSERT_TRUE(waitFor(
      [&] {
        return agg.json({"plans", "--limit", "1"})[0]["state"] == "done";
      },
      milliseconds{15000}))
      << agg.halectl({"plans"}).output;
  nodes.setAlive({{"eu-1", "eu"}, {"us-1", "us"}});
  ASSERT_TRUE(waitFor(
      [&] {
        const nlohmann::json r = agg.json({"regions"});
        return r.is_array() && r.size() == 2 && r[0]["verdict"] == "up" && r[1]["verdict"] == "up";
      },
      milliseconds{5000}))
      << agg.halectl({"regions"}).output;
  const CommandResult back = agg.halectl({"failback"});
  ASSERT_EQ(back.exit_code, 0) << back.output;
  ASSERT_TRUE(waitFor(
      [&] {
        return agg.json({"plans", "--limit", "1"})[0]["state"] == "failed";
      },
      milliseconds{15000}))
      << agg.halectl({"plans"}).output;
  agg.stop();

  // The journal as the stopped aggregator left it, and its whole log.
  auto journal = Journal::open(agg.journalPath());
  ASSERT_TRUE(journal.ok()) << journal.error().message;
  auto events = journal.value()->events(100000);
  ASSERT_TRUE(events.ok()) << events.error().message;
  std::map<std::string, int> journaled;
  std::map<std::string, int> logged;
  for (const JournalEvent& e : events.value()) ++journaled[e.name];
  for (const std::string& line : lines(agg.logPath())) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object() && j.size() == 4 && j.contains("ts") && j.contains("level") && j.contains("event") &&
                j.contains("detail"))
        << "not a JSON log line: " << line;
    ++logged[j["event"].get<std::string>()];
  }
  for (const char* expected : {"+pause", "-pause", "-plan-rejected", "+plan-approved", "+plan-step-retry", "+plan-done",
                               "+decision", "+node-healthy", "-region-down", "-plan-step-failed", "-plan-failed"}) {
    EXPECT_GT(journaled[expected], 0) << expected << " was not journaled: the flow did not exercise it";
  }
  for (const auto& [event, count] : journaled) {
    EXPECT_EQ(logged[event], count) << event << ": journaled " << count << " times, logged " << logged[event];
  }
}

// #16: every thread an operator sees in `top -H` or `ps -L` says what it does.
TEST(AggregatorProcess, EveryThreadSaysWhatItDoes) {
  test::TempDir dir("threads");
  AggregatorProcess agg(dir, crashConfig(dir));
  agg.start();
  const std::vector<std::string> expected{"ingest", "tick", "executor", "control", "curve-auth"};
  const std::vector<std::string> threads = hale::test::settledThreadNames(agg.pid(), "hale-aggregator", expected);
  const std::multiset<std::string> names(threads.begin(), threads.end());
  std::string shown;
  for (const auto& n : names) shown += n + ",";
  for (const std::string& e : expected) EXPECT_EQ(names.count(e), 1u) << e << " in " << shown;
  EXPECT_EQ(names.count("hale-aggregator"), 1u) << "only the main thread keeps the program's name: " << shown;
}

TEST(AggregatorProcess, CheckConfig) {
  test::TempDir dir("aggcfg");
  const std::string bad = dir.writeFile(
      "bad.toml", "coordination = \"none\"\nlisten = [\"tcp://127.0.0.1:1\"]\n[[region]]\nname = \"eu\"\nnodes = []\n");
  const CommandResult r = test::runCommand(
      SpawnOptions{.argv = {test::aggregatorBinary(), "--config", bad, "--check-config"}}, milliseconds{5000});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find(bad + ":5: region[0].nodes: list the region's nodes"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("exactly one region must have role = \"active\""), std::string::npos) << r.output;

  // A valid config that decides alone says what that risks.
  const std::string alone =
      dir.writeFile("alone.toml",
                    "coordination = \"none\"\ninsecure = true\nlisten = [\"tcp://127.0.0.1:1\"]\n[[region]]\nname = "
                    "\"eu\"\nrole = \"active\"\nnodes = [\"a\"]\n");
  const CommandResult ok = test::runCommand(
      SpawnOptions{.argv = {test::aggregatorBinary(), "--config", alone, "--check-config"}}, milliseconds{5000});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("warning: coordination = \"none\": this aggregator decides alone; a network path cut"),
            std::string::npos)
      << ok.output;
  EXPECT_NE(ok.output.find("warning: insecure = true: heartbeats are plaintext and unauthenticated"), std::string::npos)
      << ok.output;
}

}  // namespace
}  // namespace hale::aggregator
