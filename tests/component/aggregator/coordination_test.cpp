// Three hale-aggregators (observers eu, us and a witness w) coordinating through a real etcd: the quorum
// decides, exactly one leader acts, a deposed leader's late step is refused by epoch, and etcd trouble
// stops new plans. Nodes are simulated per aggregator link (test::FakeFleet), so a path between one
// region and one observer can be cut while every other path works (the one-sided view of a partition).

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <map>
#include <regex>
#include <set>
#include <stop_token>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>

#include "aggregator_group.h"
#include "clock.h"
#include "etcd_client.h"
#include "etcd_server.h"
#include "fake_fleet.h"
#include "hale_processes.h"
#include "process.h"
#include "temp_dir.h"

namespace hale::aggregator {
namespace {

using std::chrono::milliseconds;
using test::AggregatorProcess;
using test::waitFor;

const std::vector<std::string> kObservers = {"eu", "us", "w"};

std::vector<std::string> lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

class Coordination : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    etcd_ = new test::EtcdServer();
    etcd_->start();
  }
  static void TearDownTestSuite() {
    delete etcd_;
    etcd_ = nullptr;
  }

  // Three observers; plan eu -> us of three `record` steps, each `step_delay` long, bounded by `timeout`;
  // `guards`: more [guards] keys.
  // `s1`: another [[action]] body for step s1 (its name and type included).
  // `extra`: appended to each aggregator's configuration, "{name}" replaced by its name.
  void start(milliseconds step_delay = milliseconds{200}, milliseconds timeout = milliseconds{5000},
             const std::string& guards = "", const std::string& s1 = "", const std::string& extra = "") {
    cluster_ = "t" + std::to_string(++clusters_);
    for (const std::string& name : kObservers) {
      std::string endpoints = "\"" + etcd_->endpoint() + "\"";
      for (int copy = 1; copy < endpoint_copies_; ++copy) endpoints += ", \"" + etcd_->endpoint() + "\"";
      std::string body =
          "[etcd]\nendpoints = [" + endpoints + "]\ncluster = \"" + cluster_ + "\"\nname = \"" + name +
          "\"\nobservers = [\"eu\", \"us\", \"w\"]\nlease_ttl = \"2s\"\npublish_interval = "
          "\"100ms\"\nverdict_fresh = \"1s\"\n"
          "[detection]\nsuspect_after = \"600ms\"\nmiss_after = \"1s\"\nstartup_grace = \"1s\"\n[guards]\n"
          "min_failover_interval = \"0s\"\n" +
          guards +
          "[[region]]\nname = \"eu\"\nrole = \"active\"\nnodes = [\"eu-1\", \"eu-2\"]\ndown_after = "
          "\"500ms\"\nup_after = \"500ms\"\n"
          "[[region]]\nname = \"us\"\nnodes = [\"us-1\", \"us-2\"]\ndown_after = \"500ms\"\nup_after = "
          "\"500ms\"\n";
      for (int i = 0; i < 3; ++i) {
        if (i == 1 && !s1.empty()) {
          body += "[[action]]\n" + s1;
          continue;
        }
        body += "[[action]]\nname = \"s" + std::to_string(i) + "\"\ntype = \"record\"\npath = \"" + dir_.path() +
                "/record\"\nlabel = \"s" + std::to_string(i) + "\"\ndelay = \"" + std::to_string(step_delay.count()) +
                "ms\"\ntimeout = \"" + std::to_string(timeout.count()) + "ms\"\nattempts = 5\nbackoff = \"200ms\"\n";
      }
      body += "[[plan]]\nfrom = \"eu\"\nto = \"us\"\nsteps = [\"s0\", \"s1\", \"s2\"]\n";
      std::string own = extra;
      for (size_t at = own.find("{name}"); at != std::string::npos; at = own.find("{name}", at)) {
        own.replace(at, 6, name);
      }
      body += own;
      aggs_.push_back(std::make_unique<AggregatorProcess>(dir_, body, name, std::vector<std::string>{},
                                                          "coordination = \"etcd\"\ninsecure = true\n"));
    }
    std::vector<std::string> endpoints;
    for (auto& a : aggs_) {
      a->start();
      endpoints.push_back(a->endpoint());
    }
    fleet_ = std::make_unique<test::FakeFleet>(endpoints);
    std::set<std::pair<std::string, std::string>> alive = {
        {"eu-1", "eu"}, {"eu-2", "eu"}, {"us-1", "us"}, {"us-2", "us"}};
    alive.insert(also_alive_.begin(), also_alive_.end());
    fleet_->setAlive(alive);
    // Settled: one leader, every observer fresh, both regions up by quorum.
    ASSERT_TRUE(waitFor(
        [&] {
          const nlohmann::json s = group_.status(0);
          const nlohmann::json c = s.value("coordination", nlohmann::json::object());
          if (!c.value("quorum_visible", false) || c.value("observers_heard", 0) != 3 || c.value("leader", "").empty())
            return false;
          const nlohmann::json r = aggs_[0]->json({"regions"});
          return r.is_array() && r.size() >= 2 && r[0]["quorum"].value("verdict", "") == "up" &&
                 r[1]["quorum"].value("verdict", "") == "up";
        },
        milliseconds{15000}))
        << aggs_[0]->log();
  }

  std::vector<std::string> recorded() const { return lines(dir_.path() + "/record"); }
  // The lines of member i's whole log (log() keeps only its tail) that hold every one of `parts`.
  std::vector<std::string> logLinesWith(size_t i, std::initializer_list<std::string_view> parts) const {
    std::vector<std::string> found;
    for (std::string& line : lines(aggs_[i]->logPath())) {
      if (std::all_of(parts.begin(), parts.end(),
                      [&](std::string_view p) { return line.find(p) != std::string::npos; }))
        found.push_back(std::move(line));
    }
    return found;
  }
  // Pages member i sent ([alerts] from kPage*).
  size_t paged(size_t i) const { return lines(dir_.path() + "/page-" + kObservers[i]).size(); }
  // Starts the observers with `alerts` (a kPage* template, its {dir} filled in); the leader's index, -1 if none.
  int startPaging(const char* alerts) {
    std::string body = alerts;
    body.replace(body.find("{dir}"), 5, dir_.path());
    start(milliseconds{200}, milliseconds{5000}, "", "", body);
    return group_.leader();
  }
  // Paging `events` (a TOML array's items), with a third region x of `nodes` nodes (x-0, x-1, ...) beside eu's
  // and us's, all sending heartbeats; returns the leader once every observer hears all of x, or -1.
  int startPagingWithRegionX(int nodes, const std::string& events) {
    std::string alerts = "[alerts]\nactions = [\"page\"]\nevents = [" + events +
                         "]\n[[action]]\nname = \"page\"\ntype = \"record\"\npath = \"{dir}/page-{name}\"\nlabel = "
                         "\"page\"\n[[region]]\nname = \"x\"\nnodes = [";
    // Heard from the start: none of them is failed (and paged) for not being heard yet.
    for (int i = 0; i < nodes; ++i) {
      alerts += (i == 0 ? "\"x-" : ", \"x-") + std::to_string(i) + "\"";
      also_alive_.insert({"x-" + std::to_string(i), "x"});
    }
    alerts += "]\n";
    const int l = startPaging(alerts.c_str());
    const bool heard = waitFor(
        [&] {
          for (size_t i = 0; i < aggs_.size(); ++i) {
            const nlohmann::json r = aggs_[i]->json({"regions"});
            if (!r.is_array() || r.size() != 3 || r[2].value("healthy", 0) != nodes) return false;
          }
          return true;
        },
        milliseconds{15000});
    EXPECT_TRUE(heard) << aggs_[0]->json({"regions"}).dump();
    return heard ? l : -1;
  }
  // Every observer but `except` paged at least once within `within`.
  bool pagedByAllBut(size_t except, milliseconds within) const {
    return waitFor(
        [&] {
          for (size_t i = 0; i < aggs_.size(); ++i) {
            if (i != except && paged(i) == 0) return false;
          }
          return true;
        },
        within);
  }
  // Member i's counter `name` (an unlabelled one) since it started; 0 when absent.
  unsigned long counter(size_t i, const std::string& name) const {
    std::smatch m;
    const std::string metrics = aggs_[i]->metrics();
    return std::regex_search(metrics, m, std::regex("\\n" + name + " (\\d+)\\n")) ? std::stoul(m[1]) : 0UL;
  }
  // Member i's failed etcd rounds since it started.
  unsigned long etcdErrors(size_t i) const { return counter(i, "hale_aggregator_etcd_errors_total"); }
  // Member i's journal events, failing the test when it cannot be read.
  std::vector<nlohmann::json> journal(size_t i) const {
    const nlohmann::json j = group_.journal(i);
    EXPECT_TRUE(j.is_array()) << aggs_[i]->name() << ": journal unreadable";
    return j.is_array() ? std::vector<nlohmann::json>(j.begin(), j.end()) : std::vector<nlohmann::json>{};
  }

  static test::EtcdServer* etcd_;
  static int clusters_;
  int endpoint_copies_ = 1;  // etcd's endpoint listed this many times: a frozen etcd costs a time-out each
  std::set<std::pair<std::string, std::string>>
      also_alive_;  // (node, region) sending from start() on, beside eu's and us's
  std::string cluster_;
  test::TempDir dir_{"coord"};
  std::vector<std::unique_ptr<AggregatorProcess>> aggs_;
  test::AggregatorGroup group_{aggs_};
  std::unique_ptr<test::FakeFleet> fleet_;
};

test::EtcdServer* Coordination::etcd_ = nullptr;
int Coordination::clusters_ = 0;

TEST_F(Coordination, RegionDeathWithItsObserverFailsOverOnceByOneLeader) {
  start();
  // eu dies piece by piece: one node, the other 700 ms later, its aggregator last.
  fleet_->killNode("eu-1");
  std::this_thread::sleep_for(milliseconds{700});
  fleet_->killNode("eu-2");
  std::this_thread::sleep_for(milliseconds{300});
  aggs_[0]->kill();
  ASSERT_TRUE(waitFor([&] { return group_.planState("done"); }, milliseconds{20000})) << aggs_[1]->log();
  EXPECT_EQ(recorded(), (std::vector<std::string>{"1.0 s0", "1.1 s1", "1.2 s2"}));
  // Exactly one aggregator ran steps; the other survivor ran none, and both now see us active.
  int runners = 0;
  for (size_t i : {1u, 2u}) {
    const int starts = group_.count(i, "+plan-step-start");
    EXPECT_TRUE(starts == 0 || starts == 3) << aggs_[i]->name() << " started " << starts << " steps";
    runners += starts == 3 ? 1 : 0;
    ASSERT_TRUE(waitFor([&] { return aggs_[i]->json({"regions"})[1].value("active", false); }, milliseconds{3000}))
        << aggs_[i]->name() << " does not see us active";
  }
  EXPECT_EQ(runners, 1);
  // The decision names the quorum, and every journal entry of the plan carries the leader's epoch.
  const int l = group_.leader();
  ASSERT_GE(l, 1);
  bool decided = false;
  for (const auto& e : journal(static_cast<size_t>(l))) {
    if (e.value("event", "") == "+decision") {
      decided = true;
      EXPECT_NE(e.value("detail", "").find("down by quorum: 2 of 2 needed observers say down"), std::string::npos)
          << e.dump();
    }
    if (e.contains("plan_id")) {
      EXPECT_GT(e.value("epoch", 0), 0) << e.dump();
    }
  }
  EXPECT_TRUE(decided);
}

TEST_F(Coordination, OneObserverCutOffFromAHealthyRegionFailsNothingOver) {
  start();
  fleet_->cut("eu", 1);  // us's aggregator no longer hears eu; eu and the witness still do
  // us's own verdict on eu turns down and is visible to every observer...
  ASSERT_TRUE(waitFor(
      [&] {
        const nlohmann::json r = aggs_[2]->json({"regions"});
        return r.is_array() && r[0]["quorum"]["observers"].value("us", "") == "down";
      },
      milliseconds{10000}));
  // ... and stays a lone verdict: no plan anywhere, for longer than a real outage takes to act on.
  std::this_thread::sleep_for(milliseconds{4000});
  for (size_t i = 0; i < aggs_.size(); ++i) {
    const nlohmann::json p = aggs_[i]->json({"plans"});
    EXPECT_TRUE(p.is_array() && p.empty()) << aggs_[i]->name() << ": " << p.dump();
    EXPECT_TRUE(aggs_[i]->json({"regions"})[0].value("active", false));
  }
  EXPECT_TRUE(recorded().empty());
  const nlohmann::json r = aggs_[0]->json({"regions"});
  EXPECT_EQ(r[0]["quorum"].value("verdict", ""), "up") << r.dump();  // two of three still see eu up
  // The operator sees it in the table too.
  const test::CommandResult table = aggs_[0]->halectl({"regions"});
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_NE(table.output.find("us=down"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("3 of 3 observers heard, quorum 2"), std::string::npos) << table.output;

  // The path heals: us's own verdict on eu comes back up, and still nothing was ever decided.
  fleet_->heal("eu", 1);
  ASSERT_TRUE(waitFor(
      [&] {
        const nlohmann::json r = aggs_[2]->json({"regions"});
        return r.is_array() && r[0]["quorum"]["observers"].value("us", "") == "up";
      },
      milliseconds{10000}));
  for (size_t i = 0; i < aggs_.size(); ++i) EXPECT_EQ(group_.count(i, "+decision"), 0) << aggs_[i]->name();
}

TEST_F(Coordination, LeaderKilledBetweenStepsAnotherFinishesThePlanEachStepOnce) {
  start(milliseconds{1500});
  fleet_->killRegion("eu");  // every observer sees eu die
  const int l = group_.leaderOnceItJournals("+plan-step-done", milliseconds{20000});
  ASSERT_GE(l, 0);
  aggs_[static_cast<size_t>(l)]->kill();  // during step 1
  ASSERT_TRUE(waitFor([&] { return group_.planState("done"); }, milliseconds{25000}));
  EXPECT_EQ(recorded(), (std::vector<std::string>{"1.0 s0", "1.1 s1", "1.2 s2"}));
  const int next = group_.leader();
  ASSERT_GE(next, 0);
  EXPECT_NE(next, l);
  EXPECT_EQ(group_.count(static_cast<size_t>(next), "+plan-takeover"), 1);
  EXPECT_EQ(group_.count(static_cast<size_t>(next), "+plan-done"), 1);
  // The new leader never ran step 0 again: the store said it was done.
  int step0 = 0;
  for (const auto& e : journal(static_cast<size_t>(next))) {
    if (e.value("event", "") == "+plan-step-start" && e.value("step", -1) == 0) ++step0;
  }
  EXPECT_EQ(step0, 0);
}

TEST_F(Coordination, ALeaderKilledMidStepHasItsCommandFinishBeforeTheNextLeaderRunsItAgain) {
  // The killed aggregator's command lives on in its own process group: the next leader must not run the
  // step again while it may still be running (here 2.5 s of a 4 s attempt bound, on a 2 s lease).
  const std::string log = dir_.path() + "/exec.log";
  const std::string script = dir_.path() + "/slow-step";
  {
    std::ofstream out(script);
    out << "#!/bin/sh\necho \"start $(date +%s%N)\" >> " << log << "\nsleep 2.5\necho \"end $(date +%s%N)\" >> " << log
        << "\n";
  }
  ASSERT_EQ(::chmod(script.c_str(), 0755), 0);
  start(milliseconds{200}, milliseconds{5000}, "",
        "name = \"s1\"\ntype = \"exec\"\ncommand = [\"" + script +
            "\"]\ntimeout = \"4s\"\nattempts = 3\nbackoff = \"200ms\"\n");
  fleet_->killRegion("eu");
  ASSERT_TRUE(waitFor([&] { return !lines(log).empty(); }, milliseconds{20000}));
  const int l = group_.leader();
  ASSERT_GE(l, 0);
  aggs_[static_cast<size_t>(l)]->kill();  // its command goes on
  ASSERT_TRUE(waitFor([&] { return group_.planState("done"); }, milliseconds{30000}));
  const int next = group_.leader();
  ASSERT_GE(next, 0);
  EXPECT_EQ(group_.count(static_cast<size_t>(next), "+plan-takeover"), 1);
  // Every run of the command ended before the next one started.
  const std::vector<std::string> runs = lines(log);
  ASSERT_EQ(runs.size(), 4u) << ::testing::PrintToString(runs);  // the killed leader's run, then the next's
  for (size_t i = 0; i < runs.size(); ++i) {
    EXPECT_EQ(runs[i].rfind(i % 2 == 0 ? "start " : "end ", 0), 0u)
        << "runs overlapped: " << ::testing::PrintToString(runs);
  }
  EXPECT_EQ(recorded(), (std::vector<std::string>{"1.0 s0", "1.2 s2"}));
}

TEST_F(Coordination, ALeaderStoppedMidStepCannotLetItsCommandOutliveTheAttemptBound) {
  // The stopped aggregator cannot kill its command at the deadline; the command runs under a backstop that
  // does (coreutils' timeout), so it never ends after its 2 s bound, and the next leader's run comes after.
  const std::string log = dir_.path() + "/exec.log";
  const std::string script = dir_.path() + "/hung-step";
  {
    std::ofstream out(script);
    out << "#!/bin/sh\necho \"start $(date +%s%N)\" >> " << log << "\nif [ ! -f " << dir_.path()
        << "/once ]; then touch " << dir_.path() << "/once; sleep 8; fi\necho \"end $(date +%s%N)\" >> " << log << "\n";
  }
  ASSERT_EQ(::chmod(script.c_str(), 0755), 0);
  start(milliseconds{200}, milliseconds{5000}, "",
        "name = \"s1\"\ntype = \"exec\"\ncommand = [\"" + script +
            "\"]\ntimeout = \"2s\"\nattempts = 3\nbackoff = \"200ms\"\n");
  fleet_->killRegion("eu");
  ASSERT_TRUE(waitFor([&] { return !lines(log).empty(); }, milliseconds{20000}));
  const int l = group_.leader();
  ASSERT_GE(l, 0);
  const auto stopped = static_cast<size_t>(l);
  aggs_[stopped]->signal(SIGSTOP);
  ASSERT_TRUE(waitFor([&] { return group_.planState("done"); }, milliseconds{30000}));
  std::this_thread::sleep_for(milliseconds{7000});  // past when the hung run would have ended on its own
  aggs_[stopped]->signal(SIGCONT);
  const std::vector<std::string> runs = lines(log);
  // The first run never ended (killed at its bound), the next leader's ran whole.
  ASSERT_EQ(runs.size(), 3u) << ::testing::PrintToString(runs);
  EXPECT_EQ(runs[0].rfind("start ", 0), 0u);
  EXPECT_EQ(runs[1].rfind("start ", 0), 0u);
  EXPECT_EQ(runs[2].rfind("end ", 0), 0u);
  const auto ns = [](const std::string& line) { return std::stoll(line.substr(line.find(' ') + 1)); };
  EXPECT_GE(ns(runs[1]) - ns(runs[0]), int64_t{2'000'000'000}) << "the next run began within the first's bound";
}

TEST_F(Coordination, ALeaderStoppedPastItsLeaseHasItsLateStepRefusedByEpoch) {
  // Attempts bounded well under the stop, so the stopped leader's in-flight attempt cannot land late.
  start(milliseconds{1000}, milliseconds{1500});
  fleet_->killRegion("eu");
  const int l = group_.leaderOnceItJournals("+plan-step-start", milliseconds{20000});
  ASSERT_GE(l, 0);
  const size_t stopped = static_cast<size_t>(l);
  aggs_[stopped]->signal(SIGSTOP);
  ASSERT_TRUE(waitFor([&] { return group_.planState("done"); }, milliseconds{25000}));
  aggs_[stopped]->signal(SIGCONT);
  ASSERT_TRUE(waitFor([&] { return group_.count(stopped, "-plan-deposed") + group_.count(stopped, "-plan-held") >= 1; },
                      milliseconds{10000}))
      << aggs_[stopped]->log();
  EXPECT_EQ(group_.count(stopped, "-plan-deposed"), 1) << aggs_[stopped]->log();
  bool refused = false;
  for (const auto& e : journal(stopped)) {
    if (e.value("event", "") == "-plan-deposed")
      refused = e.value("detail", "").find("refused by epoch") != std::string::npos;
  }
  EXPECT_TRUE(refused);
  EXPECT_EQ(group_.count(stopped, "+plan-done"), 0);
  EXPECT_EQ(recorded(), (std::vector<std::string>{"1.0 s0", "1.1 s1", "1.2 s2"}));
}

// [alerts] paging +node-failed, each aggregator to a file of its own ("page-<name>").
const char* const kPageOnNodeFailed =
    "[alerts]\nactions = [\"page\"]\nevents = [\"+node-failed\"]\n[[action]]\nname = \"page\"\ntype = "
    "\"record\"\npath = \"{dir}/page-{name}\"\nlabel = \"page\"\n";
// The same, paging +split-brain.
const char* const kPageOnSplitBrain =
    "[alerts]\nactions = [\"page\"]\nevents = [\"+split-brain\"]\n[[action]]\nname = \"page\"\ntype = "
    "\"record\"\npath = \"{dir}/page-{name}\"\nlabel = \"page\"\n";
// The same, paging the observer's own +fail-static.
const char* const kPageOnFailStatic =
    "[alerts]\nactions = [\"page\"]\nevents = [\"+fail-static\"]\n[[action]]\nname = \"page\"\ntype = "
    "\"record\"\npath = \"{dir}/page-{name}\"\nlabel = \"page\"\n";

// Also the pages: with a leader only it pages; with etcd out of reach every observer sees no leader, and
// each pages (the same page three times rather than none).
TEST_F(Coordination, WithoutEtcdNoPlanStartsAndWithItBackTheFailoverRuns) {
  const int l = startPaging(kPageOnNodeFailed);
  // A follower that failed an etcd round (a slow round on a loaded machine) may page; the others may not.
  ASSERT_GE(l, 0);
  std::vector<unsigned long> errors;
  for (size_t i = 0; i < aggs_.size(); ++i) errors.push_back(etcdErrors(i));
  fleet_->killNode("eu-1");
  ASSERT_TRUE(waitFor([&] { return paged(static_cast<size_t>(l)) == 1; }, milliseconds{10000}));
  std::this_thread::sleep_for(milliseconds{1000});
  EXPECT_EQ(paged(static_cast<size_t>(l)), 1u);
  std::vector<size_t> before;
  for (size_t i = 0; i < aggs_.size(); ++i) {
    before.push_back(paged(i));
    if (static_cast<int>(i) != l && etcdErrors(i) == errors[i]) {
      EXPECT_EQ(paged(i), 0u) << "only the leader pages";
    }
  }
  etcd_->freeze();
  ASSERT_TRUE(waitFor(
      [&] {
        for (size_t i = 0; i < aggs_.size(); ++i) {
          if (group_.status(i).value("coordination", nlohmann::json::object()).value("reachable", true)) return false;
        }
        return true;
      },
      milliseconds{10000}));
  fleet_->killNode("eu-2");
  const auto eachPagedOnceMore = [&] {
    for (size_t i = 0; i < aggs_.size(); ++i) {
      if (paged(i) != before[i] + 1) return false;
    }
    return true;
  };
  ASSERT_TRUE(waitFor(eachPagedOnceMore, milliseconds{10000}));
  std::this_thread::sleep_for(milliseconds{500});
  EXPECT_TRUE(eachPagedOnceMore());
  // Each copy names its observer and carries the key they share, for a pager to fold them.
  for (size_t i = 0; i < aggs_.size(); ++i) {
    const std::string last = lines(dir_.path() + "/page-" + kObservers[i]).back();
    EXPECT_NE(last.find(" page " + cluster_ + "/node-failed/eu-2 " + kObservers[i]), std::string::npos) << last;
  }
  ASSERT_TRUE(waitFor(
      [&] {
        const nlohmann::json c = group_.status(1).value("coordination", nlohmann::json::object());
        return !c.value("reachable", true);
      },
      milliseconds{10000}));
  std::this_thread::sleep_for(milliseconds{3000});
  for (size_t i = 0; i < aggs_.size(); ++i) {
    const nlohmann::json p = aggs_[i]->json({"plans"});
    EXPECT_TRUE(p.is_array() && p.empty()) << aggs_[i]->name() << ": " << p.dump();
  }
  const test::CommandResult table = aggs_[1]->halectl({"regions"});
  EXPECT_NE(table.output.find("etcd UNREACHABLE"), std::string::npos) << table.output;
  const std::string metrics = aggs_[1]->metrics();
  EXPECT_NE(metrics.find("hale_aggregator_etcd_reachable 0\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("hale_aggregator_quorum_visible 0\n"), std::string::npos) << metrics;
  EXPECT_EQ(metrics.find("hale_aggregator_etcd_errors_total 0\n"), std::string::npos) << metrics;
  etcd_->thaw();
  ASSERT_TRUE(waitFor([&] { return group_.planState("done"); }, milliseconds{20000}));
  EXPECT_EQ(recorded(), (std::vector<std::string>{"1.0 s0", "1.1 s1", "1.2 s2"}));
}

// A split brain the live leader cannot see (eu's heartbeats cut from it): the followers that see it leave it to
// the leader, which never says it paged it, so each pages it once the leader could have said so.
TEST_F(Coordination, ASplitBrainTheLiveLeaderCannotSeeIsPagedByTheFollowersThatDo) {
  const int l = startPaging(kPageOnSplitBrain);
  ASSERT_GE(l, 0);
  const size_t blind = static_cast<size_t>(l);
  fleet_->cut("eu", blind);
  fleet_->setFence("eu-1", 2);
  const bool paged_by_both = pagedByAllBut(blind, milliseconds{10000});
  EXPECT_TRUE(paged_by_both) << aggs_[(blind + 1) % 3]->log();
  std::this_thread::sleep_for(milliseconds{1000});
  EXPECT_EQ(group_.leader(), l);
  for (size_t i = 0; i < aggs_.size(); ++i) EXPECT_EQ(paged(i), i == blind ? 0u : 1u) << aggs_[i]->name();
  EXPECT_NE(aggs_[(blind + 1) % 3]->log().find("+alerts-unconfirmed"), std::string::npos);
  fleet_->heal("eu", blind);
}

// A report lists at most the 64 newest keys paged (Coordinator::kMaxReportedPages; a longer list is not
// read at all). The leader pages 70 lost nodes, then a split brain: its list still holds the split brain, so
// the followers, which left it to the leader, settle it and page nothing (with 71 keys listed they would read
// no list and page it themselves); the lost nodes, concluded from silence, stay the leader's.
TEST_F(Coordination, ALeaderThatPagedMoreThanItsReportListsStillSettlesTheNewestForTheFollowers) {
  constexpr int kLost = 70;
  const int l = startPagingWithRegionX(kLost, "\"+node-failed\", \"+split-brain\"");
  ASSERT_GE(l, 0);
  const size_t leader = static_cast<size_t>(l);
  // Counted from here: whatever was paged while the cluster settled is not this test's.
  std::vector<size_t> before;
  for (size_t i = 0; i < aggs_.size(); ++i) before.push_back(paged(i));
  fleet_->killRegion("x");
  ASSERT_TRUE(waitFor([&] { return paged(leader) == before[leader] + kLost; }, milliseconds{15000}))
      << paged(leader) - before[leader];
  fleet_->setFence("eu-1", 2);
  ASSERT_TRUE(waitFor([&] { return paged(leader) == before[leader] + kLost + 1; }, milliseconds{10000}))
      << aggs_[leader]->log();
  // Past the wait after which a follower pages what the leader does not list (2.2 s here).
  std::this_thread::sleep_for(milliseconds{4000});
  ASSERT_EQ(group_.leader(), l);
  for (size_t i = 0; i < aggs_.size(); ++i) {
    if (i == leader) continue;
    EXPECT_GE(group_.count(i, "+split-brain"), 1) << aggs_[i]->name() << " never saw the split brain";
    EXPECT_EQ(paged(i), before[i]) << aggs_[i]->name() << ": " << aggs_[i]->log();
  }
  EXPECT_EQ(paged(leader), before[leader] + kLost + 1);
}

// A follower keeps at most 256 alerts it left to the leader (Engine::kMaxUnpagedAlerts), the newest: 340
// nodes lost at once overflow it, and it says so once. The leader's report settles at most the 64 newest it
// paged, so even if it listed them between two of the follower's detections 340 - 64 would still overflow.
// The lost nodes, concluded from silence, stay the live leader's to page: the followers page none of them.
TEST_F(Coordination, AFollowerKeepsAtMost256AlertsForTheLeaderAndSaysSoOnce) {
  constexpr int kLost = 340;
  const int l = startPagingWithRegionX(kLost, "\"+node-failed\"");
  ASSERT_GE(l, 0);
  const size_t leader = static_cast<size_t>(l);
  // Its whole log: the line comes before 340 lines of lost nodes, past log()'s tail.
  const auto notKept = [&](size_t i) {
    const std::vector<std::string> said = logLinesWith(i, {"-alerts-not-kept"});
    for (const std::string& line : said) {
      EXPECT_NE(line.find("-alerts-not-kept 256 alerts already wait for the leader; +node-failed x-"),
                std::string::npos)
          << line;
    }
    return said.size();
  };
  std::vector<size_t> before;
  for (size_t i = 0; i < aggs_.size(); ++i) {
    before.push_back(paged(i));
    ASSERT_EQ(notKept(i), 0u) << aggs_[i]->name() << " overflowed before the nodes were lost";
  }
  fleet_->killRegion("x");
  ASSERT_TRUE(waitFor(
      [&] {
        for (size_t i = 0; i < aggs_.size(); ++i) {
          if (i != leader && notKept(i) == 0) return false;
        }
        return true;
      },
      milliseconds{15000}))
      << aggs_[(leader + 1) % 3]->log();
  ASSERT_TRUE(waitFor([&] { return paged(leader) > before[leader]; }, milliseconds{10000}));
  std::this_thread::sleep_for(milliseconds{1000});
  ASSERT_EQ(group_.leader(), l);
  for (size_t i = 0; i < aggs_.size(); ++i) {
    EXPECT_EQ(notKept(i), i == leader ? 0u : 1u) << aggs_[i]->name() << ": " << aggs_[i]->log();
    if (i != leader) {
      EXPECT_EQ(paged(i), before[i]) << aggs_[i]->name();
    }
  }
}

// The leader pages a split brain and says so in its report; stopped (SIGTERM: its key revoked, an election),
// the followers, which left it to it, do not page it again, nor does the next leader.
TEST_F(Coordination, AGracefulHandoverDoesNotPageAgainWhatTheLeaderSent) {
  const int l = startPaging(kPageOnSplitBrain);
  ASSERT_GE(l, 0);
  fleet_->setFence("eu-1", 2);
  ASSERT_TRUE(waitFor([&] { return paged(static_cast<size_t>(l)) == 1; }, milliseconds{10000}));
  for (size_t i = 0; i < aggs_.size(); ++i) {  // the followers saw it too, and left it to the leader
    ASSERT_TRUE(waitFor([&] { return group_.count(i, "+split-brain") == 1; }, milliseconds{5000}));
  }
  std::this_thread::sleep_for(milliseconds{1000});  // its report says so by now
  aggs_[static_cast<size_t>(l)]->stop();
  ASSERT_TRUE(waitFor([&] { return group_.leader() >= 0; }, milliseconds{10000}));
  std::this_thread::sleep_for(milliseconds{4000});  // past the unconfirmed wait (2.2 s) and the keep window
  for (size_t i = 0; i < aggs_.size(); ++i) {
    EXPECT_EQ(paged(i), i == static_cast<size_t>(l) ? 1u : 0u) << aggs_[i]->name() << aggs_[i]->log();
  }
}

// The leader's pager refuses the page: it is not listed as paged, so the followers, which left it to the
// leader, page it themselves.
TEST_F(Coordination, APageTheLeadersPagerRefusedIsPagedByTheFollowers) {
  const std::string alerts =
      "[alerts]\nactions = [\"page\"]\nevents = [\"+split-brain\"]\n[[action]]\nname = "
      "\"page\"\ntype = \"exec\"\ncommand = [\"/bin/sh\", \"-c\", \"test ! -e " +
      dir_.path() + "/refuse-{name} && echo $HALE_ALERT_KEY >> " + dir_.path() + "/page-{name}\"]\nattempts = 1\n";
  start(milliseconds{200}, milliseconds{5000}, "", "", alerts);
  const int l = group_.leader();
  ASSERT_GE(l, 0);
  const size_t refusing = static_cast<size_t>(l);
  std::ofstream(dir_.path() + "/refuse-" + kObservers[refusing]) << "1\n";
  fleet_->setFence("eu-1", 2);
  ASSERT_TRUE(waitFor([&] { return group_.count(refusing, "-alert-failed") == 1; }, milliseconds{10000}))
      << aggs_[refusing]->log();
  const bool paged_by_both = pagedByAllBut(refusing, milliseconds{10000});
  EXPECT_TRUE(paged_by_both) << aggs_[(refusing + 1) % 3]->log();
  EXPECT_EQ(group_.leader(), l);
  for (size_t i = 0; i < aggs_.size(); ++i) EXPECT_EQ(paged(i), i == refusing ? 0u : 1u) << aggs_[i]->name();
}

// The leader pages a split brain, then is cut off from eu and never sees it end; the followers do, then see
// the node split again: the leader's list still holds the key, from the first episode, which settles
// nothing of the second: they page it.
TEST_F(Coordination, ALeaderThatMissedAnEndDoesNotSettleTheNextSplitBrain) {
  const int l = startPaging(kPageOnSplitBrain);
  ASSERT_GE(l, 0);
  const size_t blind = static_cast<size_t>(l);
  fleet_->setFence("eu-1", 2);
  ASSERT_TRUE(waitFor([&] { return paged(blind) == 1; }, milliseconds{10000}));
  std::this_thread::sleep_for(milliseconds{1000});  // its report lists the key, the followers settle it
  fleet_->cut("eu", blind);
  std::this_thread::sleep_for(milliseconds{500});
  fleet_->setFence("eu-1", 0);
  for (size_t i = 0; i < aggs_.size(); ++i) {
    if (i == blind) continue;
    ASSERT_TRUE(waitFor([&] { return group_.count(i, "-split-brain") == 1; }, milliseconds{5000}));
  }
  fleet_->setFence("eu-1", 2);
  const bool paged_by_both = pagedByAllBut(blind, milliseconds{10000});
  EXPECT_TRUE(paged_by_both) << aggs_[(blind + 1) % 3]->log();
  EXPECT_EQ(group_.count(blind, "-split-brain"), 0) << "the leader saw the end: nothing tested";
  for (size_t i = 0; i < aggs_.size(); ++i) EXPECT_EQ(paged(i), 1u) << aggs_[i]->name();
  fleet_->heal("eu", blind);
}

// An observer's own events (here +fail-static: every region silent to it alone) no other observer sees: it
// pages them itself, live leader or not, under a key of its own.
TEST_F(Coordination, AFollowersOwnFailStaticIsPagedByItself) {
  const int l = startPaging(kPageOnFailStatic);
  ASSERT_GE(l, 0);
  const size_t f = (static_cast<size_t>(l) + 1) % aggs_.size();
  fleet_->cut("eu", f);
  fleet_->cut("us", f);
  ASSERT_TRUE(waitFor([&] { return paged(f) >= 1; }, milliseconds{10000})) << aggs_[f]->log();
  EXPECT_EQ(group_.leader(), l);
  std::this_thread::sleep_for(milliseconds{500});
  EXPECT_EQ(aggs_[f]->log().find("+alerts-unconfirmed"), std::string::npos) << "paged at once, not left over";
  // The others hear both regions: not in fail static (on a loaded machine a starved ingest thread can put
  // one there for a moment; heartbeats read late end it), and f, cut off, is.
  EXPECT_TRUE(waitFor(
      [&] {
        for (size_t i = 0; i < aggs_.size(); ++i) {
          if (i != f && group_.status(i).value("fail_static", true)) return false;
        }
        return true;
      },
      milliseconds{5000}));
  // f's own may have ended for a moment too (heartbeats sent before the cut, read late): waited for.
  EXPECT_TRUE(waitFor([&] { return group_.status(f).value("fail_static", false); }, milliseconds{5000}))
      << group_.status(f).dump();
  // Each observer pages only a fail static of its own, f's by f alone. A starved ingest thread (above) may
  // have made more than one page, each under the observer's own key.
  for (size_t i = 0; i < aggs_.size(); ++i) {
    for (const std::string& line : lines(dir_.path() + "/page-" + kObservers[i])) {
      EXPECT_NE(line.find(" page " + cluster_ + "/fail-static/" + kObservers[i] + " " + kObservers[i]),
                std::string::npos)
          << aggs_[i]->name() << ": " << line;
    }
  }
  fleet_->heal("eu", f);
  fleet_->heal("us", f);
}

// A leader key in a name that is no configured observer's (a stray aggregator on the same etcd and cluster
// name, or a key written by hand) leads nobody here, even while a report under that name keeps changing:
// each observer pages, rather than leaving the page to it.
TEST_F(Coordination, ALeaderKeyInAnUnlistedNameLeavesNoPageToIt) {
  ASSERT_GE(startPaging(kPageOnNodeFailed), 0);
  for (auto& a : aggs_) a->stop();  // their keys revoked
  etcd::Options o;
  o.endpoints = {etcd_->endpoint()};
  etcd::Client client(o);
  const std::string prefix = "/hale/" + cluster_ + "/";
  ASSERT_TRUE(client.txn({}, {etcd::put(prefix + "leader", "stray")}, {}).ok());
  // Its report changes every round, as a live leader's does; stopped and joined on every path (a start
  // that throws included).
  std::jthread stray([&](const std::stop_token& stop) {
    for (int round = 0; !stop.stop_requested(); ++round) {
      const nlohmann::json r = {{"regions", {{"eu", "up"}, {"us", "up"}}}, {"round", round}};
      (void)client.txn({}, {etcd::put(prefix + "observers/stray", r.dump())}, {});
      std::this_thread::sleep_for(milliseconds{100});
    }
  });
  for (auto& a : aggs_) a->start();
  const bool seen = waitFor(
      [&] {
        for (size_t i = 0; i < aggs_.size(); ++i) {
          const nlohmann::json c = group_.status(i).value("coordination", nlohmann::json::object());
          if (c.value("leader", "") != "stray" || !c.value("quorum_visible", false)) return false;
        }
        return true;
      },
      milliseconds{10000});
  if (seen) fleet_->killNode("eu-1");
  const bool paged_by_all = seen && waitFor([&] { return paged(0) + paged(1) + paged(2) == 3; }, milliseconds{10000});
  stray.request_stop();
  stray.join();
  ASSERT_TRUE(seen) << aggs_[0]->log();
  EXPECT_TRUE(paged_by_all) << paged(0) << paged(1) << paged(2) << aggs_[1]->log();
  for (size_t i = 0; i < aggs_.size(); ++i) EXPECT_EQ(paged(i), 1u) << aggs_[i]->name();
  EXPECT_EQ(group_.leader(), -1) << "the stray key stays: nobody here leads";
}

// A leader stopped (SIGSTOP) keeps its key up to a lease, and its report looks fresh for verdict_fresh: a
// node lost just after is paged all the same, by a follower once the leader's report is stale, or by the
// next leader as it takes the lead; not by nobody.
TEST_F(Coordination, ANodeLostJustAfterTheLeaderStopsIsStillPaged) {
  const int l = startPaging(kPageOnNodeFailed);
  ASSERT_GE(l, 0);
  const size_t stopped = static_cast<size_t>(l);
  const auto pagedByOthers = [&] {
    size_t n = 0;
    for (size_t i = 0; i < aggs_.size(); ++i)
      n += i == stopped ? 0 : lines(dir_.path() + "/page-" + kObservers[i]).size();
    return n;
  };
  aggs_[stopped]->signal(SIGSTOP);
  fleet_->killNode("eu-1");
  const bool paged = waitFor([&] { return pagedByOthers() >= 1; }, milliseconds{15000});
  aggs_[stopped]->signal(SIGCONT);
  ASSERT_TRUE(paged) << aggs_[(stopped + 1) % 3]->log();
  EXPECT_LE(pagedByOthers(), 2u);  // at most once by each of the two
}

// An observer restarted during a split brain cannot tell whether anyone paged it: it waits until it knows
// whether it pages. With the other observers gone and etcd out of reach, it does, once (the same alert key as
// the first page, for the pager to fold), and not again on taking the lead.
TEST_F(Coordination, ARestartedObserverWithNobodyElseToPageItPagesAnOngoingSplitBrainOnce) {
  startPaging(kPageOnSplitBrain);
  fleet_->setFence("eu-1", 2);
  ASSERT_TRUE(waitFor([&] { return paged(0) + paged(1) + paged(2) >= 1; }, milliseconds{10000}));
  ASSERT_TRUE(waitFor([&] { return group_.count(1, "+split-brain") == 1; }, milliseconds{5000}));
  aggs_[1]->stop();  // first, so it never takes over from another; leases revoked: no other candidate
  aggs_[0]->stop();
  aggs_[2]->stop();
  const size_t before = paged(1);
  etcd_->freeze();  // the first round waits out its time-out, the fleet's heartbeats arrive meanwhile
  aggs_[1]->start();
  ASSERT_TRUE(waitFor([&] { return group_.count(1, "+split-brain") == 2; }, milliseconds{5000})) << aggs_[1]->log();
  const bool seen_before_first_round = etcdErrors(1) == 0;
  const size_t paged_before_first_round = paged(1);
  ASSERT_TRUE(waitFor([&] { return paged(1) == before + 1; }, milliseconds{10000})) << aggs_[1]->log();
  EXPECT_GE(etcdErrors(1), 1u);  // paged once its first round failed: nobody else it could see
  etcd_->thaw();
  ASSERT_TRUE(seen_before_first_round) << "the split brain came after the first round failed: nothing tested";
  EXPECT_EQ(paged_before_first_round, before);
  ASSERT_TRUE(waitFor([&] { return group_.leader() == 1; }, milliseconds{10000})) << aggs_[1]->log();
  std::this_thread::sleep_for(milliseconds{1000});
  EXPECT_EQ(paged(1), before + 1) << aggs_[1]->log();
  EXPECT_EQ(aggs_[1]->log().find("+alerts-repaged"), std::string::npos) << aggs_[1]->log();
  std::vector<std::string> pages;
  for (size_t i = 0; i < aggs_.size(); ++i) {
    for (const std::string& l : lines(dir_.path() + "/page-" + kObservers[i])) pages.push_back(l);
  }
  for (const std::string& l : pages) {
    EXPECT_NE(l.find(" page " + cluster_ + "/split-brain/eu-1 "), std::string::npos) << l;
  }
}

// A follower restarted during a split brain that the live leader has paged leaves it to that leader: it
// cannot tell a live leader from a dead one by the first sight of its report, so it waits for the next.
TEST_F(Coordination, ARestartedFollowerLeavesAnOngoingSplitBrainToTheLiveLeader) {
  startPaging(kPageOnSplitBrain);
  fleet_->setFence("eu-1", 2);
  const int l = group_.leader();
  ASSERT_GE(l, 0);
  ASSERT_TRUE(waitFor([&] { return paged(static_cast<size_t>(l)) == 1; }, milliseconds{10000}));
  const size_t f = (static_cast<size_t>(l) + 1) % aggs_.size();
  for (int restart = 1; restart <= 3; ++restart) {
    const int seen = group_.count(f, "+split-brain");
    aggs_[f]->stop();
    aggs_[f]->start();
    ASSERT_TRUE(waitFor([&] { return group_.count(f, "+split-brain") == seen + 1; }, milliseconds{5000}))
        << aggs_[f]->log();
    // Past the wait after which a follower pages what the leader does not list (2.2 s here).
    std::this_thread::sleep_for(milliseconds{3000});
    ASSERT_EQ(group_.leader(), l);
  }
  for (size_t i = 0; i < aggs_.size(); ++i) {
    EXPECT_EQ(paged(i), static_cast<size_t>(i == static_cast<size_t>(l))) << aggs_[i]->name() << aggs_[f]->log();
  }
}

// A stop etcd holds up (a round and the lease's revoke, each waiting out a time-out per endpoint listed) ends
// within its budget, said so, and a second SIGTERM ends it at once.
TEST_F(Coordination, AStopEtcdHoldsUpEndsWithinItsBudgetOrAtASecondSigterm) {
  endpoint_copies_ = 8;
  start();
  etcd_->freeze();
  std::this_thread::sleep_for(milliseconds{300});  // a round under way, waiting on etcd
  const auto began = std::chrono::steady_clock::now();
  aggs_[0]->signal(SIGTERM);
  aggs_[1]->signal(SIGTERM);
  std::this_thread::sleep_for(milliseconds{500});
  aggs_[1]->signal(SIGTERM);
  ASSERT_TRUE(aggs_[1]->waitExit(milliseconds{3000})) << aggs_[1]->log();
  EXPECT_LT(std::chrono::steady_clock::now() - began, milliseconds{2000});
  EXPECT_TRUE(WIFEXITED(aggs_[1]->waitStatus()) && WEXITSTATUS(aggs_[1]->waitStatus()) == 1);
  EXPECT_NE(aggs_[1]->log().find("-stop-forced SIGTERM again while stopping"), std::string::npos) << aggs_[1]->log();
  ASSERT_TRUE(aggs_[0]->waitExit(milliseconds{12000})) << aggs_[0]->log();
  const auto took = std::chrono::steady_clock::now() - began;
  EXPECT_GE(took, milliseconds{8500});
  EXPECT_LT(took, milliseconds{11000});
  EXPECT_TRUE(WIFEXITED(aggs_[0]->waitStatus()) && WEXITSTATUS(aggs_[0]->waitStatus()) == 1);
  EXPECT_NE(aggs_[0]->log().find("-stop-forced the stop took longer than 9000 ms"), std::string::npos)
      << aggs_[0]->log();
  etcd_->thaw();
  aggs_[2]->signal(SIGTERM);
  ASSERT_TRUE(aggs_[2]->waitExit(milliseconds{5000})) << aggs_[2]->log();  // by itself, not stop()'s SIGKILL
  EXPECT_TRUE(WIFEXITED(aggs_[2]->waitStatus()) && WEXITSTATUS(aggs_[2]->waitStatus()) == 0);
  EXPECT_EQ(aggs_[2]->log().find("-stop-forced"), std::string::npos) << aggs_[2]->log();
}

TEST_F(Coordination, AnIsolatedLeaderResignsAbstainsAndTheOthersStillDecide) {
  start();
  // The leader hears nobody (its own isolation: fail static): it stays an observer but votes on nothing, and
  // gives up the lead, since a leader that hears nobody decides nothing and would block the others.
  const int l = group_.leader();
  ASSERT_GE(l, 0);
  const size_t iso = static_cast<size_t>(l);
  const std::string& name = kObservers[iso];
  const size_t other = (iso + 1) % 3;
  // Its resignations for its isolation in its whole log, and attempts whose answer was lost (etcd may have
  // applied them). On a loaded machine a starved ingest thread can already have looked like isolation and
  // resigned (then led again), and may again between the two cuts: counted from here, at least one more.
  const auto resigned = [&] {
    return std::pair<size_t, size_t>{
        // resigned, resign failed
        logLinesWith(iso, {"-leader-resigned", ": isolated: no heartbeat from any node"}).size(),
        logLinesWith(iso, {"-leader-resign-failed"}).size()};
  };
  const auto resigned_before = resigned();
  const unsigned long counted_before = counter(iso, "hale_aggregator_leader_resignations_total");
  fleet_->cut("eu", iso);
  std::this_thread::sleep_for(milliseconds{400});
  fleet_->cut("us", iso);
  ASSERT_TRUE(waitFor(
      [&] {
        const nlohmann::json r = aggs_[other]->json({"regions"});
        return r.is_array() && !r[0]["quorum"]["observers"].contains(name) &&
               !r[1]["quorum"]["observers"].contains(name) && r[0]["quorum"].value("verdict", "") == "up";
      },
      milliseconds{10000}))
      << aggs_[other]->json({"regions"}).dump();
  ASSERT_TRUE(waitFor([&] { return group_.leader() >= 0 && group_.leader() != l; }, milliseconds{5000}));
  EXPECT_EQ(group_.status(iso)["coordination"].value("unfit", ""), "isolated: no heartbeat from any node")
      << group_.status(iso).dump();
  const std::string metrics = aggs_[iso]->metrics();
  // It gave the lead up itself (a resignation), not by letting its lease lapse; counted when etcd said so.
  const auto resigned_after = resigned();
  EXPECT_TRUE(resigned_after.first > resigned_before.first || resigned_after.second > resigned_before.second)
      << aggs_[iso]->log();
  if (resigned_after.first > resigned_before.first) {
    EXPECT_GE(counter(iso, "hale_aggregator_leader_resignations_total"),
              counted_before + (resigned_after.first - resigned_before.first))
        << aggs_[iso]->log();
  }
  for (const char* line :
       {"hale_aggregator_leader 0\n", "hale_aggregator_leader_candidate 0\n", "hale_aggregator_etcd_reachable 1\n",
        "hale_aggregator_observers_configured 3\n", "hale_aggregator_quorum 2\n",
        // heard: the isolated one too, publishing no verdict
        "hale_aggregator_observers_heard 3\n", "hale_aggregator_quorum_visible 1\n",
        "hale_aggregator_region_quorum_verdict{region=\"eu\",verdict=\"up\"} 1\n"}) {
    EXPECT_NE(metrics.find(line), std::string::npos) << line << " not in:\n" << metrics;
  }
  EXPECT_NE(aggs_[iso]->halectl({"regions"}).output.find("not a candidate (isolated"), std::string::npos);
  // Then eu dies, node by node: the two other observers both see it, which is a quorum without the isolated.
  fleet_->killNode("eu-2");
  std::this_thread::sleep_for(milliseconds{500});
  fleet_->killNode("eu-1");
  ASSERT_TRUE(waitFor([&] { return group_.planState("done"); }, milliseconds{20000}));
  EXPECT_EQ(recorded(), (std::vector<std::string>{"1.0 s0", "1.1 s1", "1.2 s2"}));
  EXPECT_EQ(group_.count(iso, "+decision"), 0);
  // The isolated observer never said eu was down.
  const nlohmann::json r = aggs_[other]->json({"regions"});
  EXPECT_FALSE(r[0]["quorum"]["observers"].contains(name)) << r.dump();
  // Restarted still cut off, it has heard no node since start: unfit all the same, and the reason says so.
  aggs_[iso]->stop();
  aggs_[iso]->start();
  EXPECT_TRUE(waitFor(
      [&] {
        return group_.status(iso).value("coordination", nlohmann::json::object()).value("unfit", "") ==
               "isolated: no node heard since start";
      },
      milliseconds{5000}))
      << group_.status(iso).dump();
}

// The leader's journal stays unwritable (another process holds its write lock, as a backup or an operator's
// sqlite3 shell would, or the disk is full): it would hold every decision, so it gives up the lead and stays
// no candidate for as long as that lasts, not only for a while after the write that found out (every probe
// fails meanwhile without a new error counted). The region is lost then: another observer leads and fails
// over, once. The lock released, the old leader writes its waiting events and may lead again.
TEST_F(Coordination, ALeaderWhoseJournalStaysUnwritableStepsDownAndAnotherFailsOver) {
  start();
  const int l = group_.leader();
  ASSERT_GE(l, 0);
  const size_t stuck = static_cast<size_t>(l);
  const int64_t epoch = group_.status(stuck).value("coordination", nlohmann::json::object()).value("epoch", 0);
  ASSERT_GT(epoch, 0);
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(aggs_[stuck]->journalPath().c_str(), &other), SQLITE_OK);
  const std::unique_ptr<sqlite3, int (*)(sqlite3*)> closer(other, sqlite3_close);
  sqlite3_busy_timeout(other, 5000);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  // A node lost: the events of it are the first write that fails.
  fleet_->killNode("eu-1");
  ASSERT_TRUE(waitFor([&] { return group_.leader() >= 0 && group_.leader() != l; }, milliseconds{10000}))
      << aggs_[stuck]->log();
  // Past the 10 s that follow a failed write: still no candidate, since the journal still cannot be written.
  std::this_thread::sleep_for(milliseconds{12000});
  const nlohmann::json c = group_.status(stuck).value("coordination", nlohmann::json::object());
  EXPECT_NE(c.value("unfit", "").find("the journal cannot be written"), std::string::npos) << c.dump();
  EXPECT_NE(group_.leader(), l);
  EXPECT_NE(aggs_[stuck]->metrics().find("hale_aggregator_leader_candidate 0\n"), std::string::npos);
  EXPECT_NE(aggs_[stuck]->halectl({"regions"}).output.find("not a candidate (the journal cannot be written"),
            std::string::npos);
  const std::string status = aggs_[stuck]->halectl({"status"}).output;
  EXPECT_NE(status.find("! JOURNAL NOT WRITABLE (events wait to be written (cannot begin a transaction: database is "
                        "locked)): "),
            std::string::npos)
      << status;
  EXPECT_NE(status.find(" events wait; no automatic decision is made until they are written"), std::string::npos)
      << status;

  fleet_->killNode("eu-2");
  ASSERT_TRUE(waitFor([&] { return group_.planState("done"); }, milliseconds{20000}))
      << aggs_[static_cast<size_t>(std::max(group_.leader(), 0))]->log();
  EXPECT_EQ(recorded(), (std::vector<std::string>{"1.0 s0", "1.1 s1", "1.2 s2"}));
  // Its journal took nothing, so only its log can say it ran no step.
  EXPECT_EQ(aggs_[stuck]->log().find("+plan-step-start"), std::string::npos) << aggs_[stuck]->log();

  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  ASSERT_TRUE(waitFor(
      [&] {
        const nlohmann::json s = group_.status(stuck);
        return s.value("journal_writable", false) &&
               s.value("coordination", nlohmann::json::object()).value("unfit", "x").empty();
      },
      milliseconds{15000}))
      << group_.status(stuck).dump();
  EXPECT_GE(group_.count(stuck, "+node-failed"), 1) << "the waiting events were not written";
  // The first of them was seen under the stuck leader's epoch and keeps it, though written under another.
  bool found = false;
  for (const auto& e : journal(stuck)) {
    if (e.value("event", "") == "+node-suspect" && e.value("subject", "") == "eu-1") {
      found = true;
      EXPECT_EQ(e.value("epoch", int64_t{0}), epoch) << e.dump();
    }
  }
  EXPECT_TRUE(found);
  EXPECT_GT(group_.status(stuck).value("coordination", nlohmann::json::object()).value("epoch", int64_t{0}), epoch);
}

TEST_F(Coordination, APauseOnAnyAggregatorHoldsTheLeaderUntilResumed) {
  start();
  const int l = group_.leader();
  ASSERT_GE(l, 0);
  const size_t follower = static_cast<size_t>((l + 1) % 3);
  const test::CommandResult paused = aggs_[follower]->halectl({"pause"});
  ASSERT_EQ(paused.exit_code, 0) << paused.output;
  ASSERT_TRUE(
      waitFor([&] { return group_.status(static_cast<size_t>(l)).value("paused", false); }, milliseconds{5000}));
  fleet_->killRegion("eu");
  std::this_thread::sleep_for(milliseconds{4000});  // eu is down by quorum well within this
  for (size_t i = 0; i < aggs_.size(); ++i) EXPECT_EQ(group_.count(i, "+decision"), 0) << aggs_[i]->name();
  const test::CommandResult resumed = aggs_[(follower + 1) % 3]->halectl({"resume"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  ASSERT_TRUE(waitFor([&] { return group_.planState("done"); }, milliseconds{15000}));
  EXPECT_EQ(recorded(), (std::vector<std::string>{"1.0 s0", "1.1 s1", "1.2 s2"}));
}

TEST_F(Coordination, ManualApprovalIsGivenToTheLeaderAndRunsOnce) {
  start(milliseconds{200}, milliseconds{5000}, "approval = \"manual\"\n");
  fleet_->killRegion("eu");
  ASSERT_TRUE(waitFor([&] { return group_.planState("awaiting_approval"); }, milliseconds{15000}));
  const int l = group_.leader();
  ASSERT_GE(l, 0);
  const size_t follower = static_cast<size_t>((l + 1) % 3);
  const test::CommandResult refused = aggs_[follower]->halectl({"approve", "1"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.output.find("not the leader"), std::string::npos) << refused.output;
  EXPECT_TRUE(recorded().empty());
  const test::CommandResult approved = aggs_[static_cast<size_t>(l)]->halectl({"approve", "1"});
  ASSERT_EQ(approved.exit_code, 0) << approved.output;
  ASSERT_TRUE(waitFor([&] { return group_.planState("done"); }, milliseconds{15000}));
  EXPECT_EQ(recorded(), (std::vector<std::string>{"1.0 s0", "1.1 s1", "1.2 s2"}));
}

TEST_F(Coordination, ARejectionIsSharedAndNoAggregatorDecidesThatFailoverAgainThisOutage) {
  start(milliseconds{200}, milliseconds{5000}, "approval = \"manual\"\n");
  fleet_->killRegion("eu");
  ASSERT_TRUE(waitFor([&] { return group_.planState("awaiting_approval"); }, milliseconds{15000}));
  const int l = group_.leader();
  ASSERT_GE(l, 0);
  const test::CommandResult rejected = aggs_[static_cast<size_t>(l)]->halectl({"reject", "1"});
  ASSERT_EQ(rejected.exit_code, 0) << rejected.output;
  const size_t follower = static_cast<size_t>((l + 1) % 3);
  ASSERT_TRUE(waitFor([&] { return group_.status(follower).value("rejected", "") == "eu>us"; }, milliseconds{5000}));
  std::this_thread::sleep_for(milliseconds{2000});
  for (size_t i = 0; i < aggs_.size(); ++i)
    EXPECT_EQ(group_.count(i, "+decision"), i == static_cast<size_t>(l) ? 1 : 0);
  EXPECT_TRUE(recorded().empty());
}

TEST_F(Coordination, EtcdLostMidPlanHoldsThePlanAndItFinishesOnceWhenEtcdReturns) {
  start(milliseconds{1500});
  fleet_->killRegion("eu");
  const int l = group_.leaderOnceItJournals("+plan-step-done", milliseconds{20000});
  ASSERT_GE(l, 0);
  etcd_->freeze();  // during step 1
  ASSERT_TRUE(waitFor([&] { return group_.count(static_cast<size_t>(l), "-plan-held") >= 1; }, milliseconds{15000}))
      << aggs_[static_cast<size_t>(l)]->log();
  EXPECT_EQ(group_.count(static_cast<size_t>(l), "+plan-done"), 0);
  etcd_->thaw();
  ASSERT_TRUE(waitFor([&] { return group_.planState("done"); }, milliseconds{25000}));
  EXPECT_EQ(recorded(), (std::vector<std::string>{"1.0 s0", "1.1 s1", "1.2 s2"}));
}

}  // namespace
}  // namespace hale::aggregator
