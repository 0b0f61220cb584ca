// The drill's deployment under the failures hale must act on and the ones it must not (label drill).
// Every case is bounded in time; the deployment's destructor stops every process it started.

#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "scenario.h"

namespace hale::drill {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

void quiet(const std::string&) {}
void echo(const std::string& line) { std::cout << line << "\n"; }

std::atomic<bool> never{false};

void expectVerified(const std::vector<Check>& checks) {
  for (const Check& c : checks) EXPECT_TRUE(c.ok) << c.what << " [" << c.detail << "]";
}

// Children of this test process still alive (or unreaped), from every thread's /proc children list.
std::vector<std::string> childProcesses() {
  std::vector<std::string> out;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream in(task.path() / "children");
    for (std::string pid; in >> pid;) {
      std::ifstream cmd("/proc/" + pid + "/cmdline");
      std::string line;
      std::getline(cmd, line, '\0');
      out.push_back(pid + " " + line);
    }
  }
  return out;
}

// Every journal event named `event`, from the aggregator's journal.
int countEvents(Deployment& d, const std::string& event, const std::string& subject = "") {
  int n = 0;
  for (const auto& e : readJournal(d.aggregator().socket(), 5000)) {
    n += e.value("event", "") == event && (subject.empty() || e.value("subject", "") == subject) ? 1 : 0;
  }
  return n;
}

void failback(const std::string& db) {
  Deployment d(DrillOptions{.db = db});
  d.start(quiet);
  FailoverRun r = killAndFollow(d, quiet, seconds{30}, never);
  ASSERT_TRUE(r.plan_done);
  d.restoreRegionA(quiet);
  // Failback is manual here: nothing happens until the operator asks.
  std::this_thread::sleep_for(seconds{2});
  EXPECT_EQ(newestPlan(d).first, r.plan_id);
  const test::CommandResult fb = d.aggregator().halectl({"failback"});
  ASSERT_EQ(fb.exit_code, 0) << fb.output;
  const int64_t plan = newestPlan(d).first;
  ASSERT_GT(plan, r.plan_id);
  Timeline back(0);
  ASSERT_TRUE(followPlan(d, back, plan, quiet, seconds{30}, never)) << d.aggregator().halectl({"plans"}).output;
  expectVerified(verifyFailover(d, kRegionA, plan));
  EXPECT_EQ(d.notifications().size(), 2u);
}

// The verification's own failure modes: what it could not find out must fail it, never pass it.
TEST(Drill, VerificationFailsWhatItCannotProve) {
  Deployment d(DrillOptions{});
  d.start(quiet);
  // A standby refuses writes in its own words; a live database that cannot be asked is unknown, not
  // "refuses writes".
  EXPECT_EQ(d.probeWrite(kRegionB).outcome, WriteProbe::Outcome::read_only);
  d.freezeDatabase(kRegionB);
  const WriteProbe frozen = d.probeWrite(kRegionB);
  d.thawDatabase(kRegionB);
  EXPECT_EQ(frozen.outcome, WriteProbe::Outcome::unknown) << frozen.detail;
  EXPECT_FALSE(frozen.refusesWrites());
  // Nothing failed over: verifying a failover to us fails on each count that is about the end state.
  std::map<std::string, bool> verdict;
  for (const Check& c : verifyFailover(d, kRegionB, 1)) verdict[c.what] = c.ok;
  EXPECT_FALSE(verdict.at("us's database is the primary and takes writes"));
  EXPECT_FALSE(verdict.at("eu's database refuses writes (or is down)"));
  EXPECT_FALSE(verdict.at("DNS app.hale.test answers 198.51.100.10 (us)"));
  // A notification run twice for the same step shows twice.
  const std::string notify = "HALE_REQUEST_ID=7.3 HALE_EVENT=failover /bin/sh " + d.dir().path() + "/notify.sh";
  ASSERT_EQ(std::system(notify.c_str()), 0);
  ASSERT_EQ(std::system(notify.c_str()), 0);
  EXPECT_EQ(d.notifications().size(), 2u);
}

TEST(Drill, FailbackReturnsToTheRestoredRegion) { failback("postgres"); }
TEST(Drill, MariadbFailbackReturnsToTheRestoredRegion) { failback("mysql"); }

TEST(Drill, DryRunJournalsTheDecisionAndChangesNothing) {
  {
    Deployment d(DrillOptions{.dry_run = true});
    d.start(quiet);
    EXPECT_GE(childProcesses().size(), 9u);  // 6 agents, the aggregator, 2 database servers, BIND
    FailoverRun r = killAndFollow(d, echo, seconds{20}, never);
    EXPECT_TRUE(r.timeline.offset("+decision").has_value()) << d.aggregator().log();
    EXPECT_FALSE(r.plan_done);
    EXPECT_EQ(d.dnsAnswer(), std::vector<std::string>{kAddressA});
    EXPECT_EQ(d.probeWrite(kRegionB).outcome, WriteProbe::Outcome::read_only);
    EXPECT_TRUE(d.fencings().empty());
    EXPECT_TRUE(d.notifications().empty());
    EXPECT_EQ(countEvents(d, "+plan-step-start"), 0);
  }
  // The deployment leaves no process behind.
  EXPECT_EQ(childProcesses(), std::vector<std::string>{});
}

TEST(Drill, TheAggregatorsOwnStallIsNotARegionDeath) {
  Deployment d(DrillOptions{});
  d.start(quiet);
  d.aggregator().signal(SIGSTOP);
  std::this_thread::sleep_for(seconds{10});
  d.aggregator().signal(SIGCONT);
  std::this_thread::sleep_for(seconds{12});
  EXPECT_EQ(countEvents(d, "+decision"), 0) << d.aggregator().halectl({"journal", "--limit", "60"}).output;
  EXPECT_EQ(countEvents(d, "+region-down"), 0);
  EXPECT_GE(countEvents(d, "+tilt"), 1) << "the stall was noticed";
  EXPECT_EQ(d.dnsAnswer(), std::vector<std::string>{kAddressA});
}

TEST(Drill, BlipsDoNotFailOverInSixtySeconds) {
  Deployment d(DrillOptions{.isolate_one_node = true});
  d.start(quiet);
  const auto start = std::chrono::steady_clock::now();
  const milliseconds hb = d.options().heartbeat;
  auto pause = [](test::AgentProcess& a, milliseconds how_long) {
    a.signal(SIGSTOP);
    std::this_thread::sleep_for(how_long);
    a.signal(SIGCONT);
  };
  // One lost heartbeat per node, one node after the other.
  for (const char* region : {kRegionA, kRegionB}) {
    for (auto& a : d.agents(region)) pause(*a, hb * 3 / 2);
  }
  // One DB check slow but within its timeout (the database stalls for half the check's timeout).
  d.freezeDatabase(kRegionA);
  std::this_thread::sleep_for(milliseconds{400});
  d.thawDatabase(kRegionA);
  // A 2 s network hiccup of one node: its link down, its packets lost, then its queued heartbeats late.
  d.networkHiccup(seconds{2});
  EXPECT_TRUE(test::waitFor([&] { return countEvents(d, "+node-suspect", "us-3") >= 1; }, seconds{5}))
      << "the hiccup silenced us-3";
  // One of three nodes flapping (silent long enough to fail, back long enough to recover), until 60 s.
  test::AgentProcess& flapper = *d.agents(kRegionA)[1];
  while (std::chrono::steady_clock::now() - start < seconds{55}) {
    pause(flapper, hb * 7 / 2);
    std::this_thread::sleep_for(hb * 3);
  }
  std::this_thread::sleep_for(seconds{60} - (std::chrono::steady_clock::now() - start));
  EXPECT_EQ(countEvents(d, "+decision"), 0) << d.aggregator().halectl({"journal", "--limit", "80"}).output;
  EXPECT_EQ(countEvents(d, "+region-down"), 0);
  EXPECT_GE(countEvents(d, "+node-failed"), 2) << "the flapping node failed and came back";
  EXPECT_EQ(d.dnsAnswer(), std::vector<std::string>{kAddressA});
  EXPECT_EQ(d.probeWrite(kRegionB).outcome, WriteProbe::Outcome::read_only);
}

TEST(Drill, AggregatorKilledBetweenFenceAndPromoteFinishesThePlanOnRestart) {
  Deployment d(DrillOptions{.fence_settle = milliseconds{1500}});
  d.start(quiet);
  auto journaled = [&](const std::string& event, int step) {
    for (const auto& e : readJournal(d.aggregator().socket())) {
      if (e.value("event", "") == event && e.value("step", -1) == step) return true;
    }
    return false;
  };
  d.killRegionA();
  ASSERT_TRUE(test::waitFor([&] { return journaled("+plan-step-start", 0); }, seconds{15}, milliseconds{20}));
  // us's database stops answering: promote cannot take effect until it is thawed.
  d.freezeDatabase(kRegionB);
  ASSERT_TRUE(test::waitFor([&] { return journaled("+plan-step-start", 1); }, seconds{10}, milliseconds{20}));
  std::this_thread::sleep_for(milliseconds{300});
  d.aggregator().kill();
  d.thawDatabase(kRegionB);
  EXPECT_EQ(d.probeWrite(kRegionB).outcome, WriteProbe::Outcome::read_only)
      << "promote had not happened before the kill";

  d.aggregator().start();
  const int64_t plan = newestPlan(d).first;
  Timeline t(0);
  ASSERT_TRUE(followPlan(d, t, plan, quiet, seconds{30}, never)) << d.aggregator().log();
  expectVerified(verifyFailover(d, kRegionB, plan));
  EXPECT_EQ(d.fencings().size(), 1u) << "fence ran once";
  EXPECT_EQ(d.notifications().size(), 1u);
}

}  // namespace
}  // namespace hale::drill
