// Three hale-aggregators (observers eu, us and the witness w) and a three-member etcd cluster, with each
// region's agents and each observer (its aggregator and its etcd member) in a network namespace of its
// own on one bridge (test::NetworkFabric), so a partition is real: packets dropped between two namespaces
// while every other path works. Region death, one observer cut off from a healthy region, the leader
// killed or stopped mid-plan, and etcd without quorum.

#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "aggregator_group.h"
#include "bind_server.h"
#include "etcd_server.h"
#include "hale_processes.h"
#include "network_fabric.h"
#include "process.h"
#include "temp_dir.h"

namespace hale::aggregator {
namespace {

using std::chrono::milliseconds;
using test::AgentProcess;
using test::AggregatorProcess;
using test::waitFor;

const std::vector<std::string> kObservers = {"eu", "us", "w"};

class Partitions : public ::testing::Test {
 protected:
  // Region eu: eu-1, eu-2 in namespace "eu"; region us likewise; observer X's aggregator and etcd member
  // in namespace "obs-X"; BIND on the host, reached on the bridge. Plan eu -> us: three `record` steps of
  // `step_delay`, attempts bounded by `timeout`, then DNS pointed at us (RFC 2136, TSIG-signed).
  void start(milliseconds step_delay = milliseconds{200}, milliseconds timeout = milliseconds{5000}) {
    for (const char* m : {"eu", "us"}) fabric_.add(m);
    for (const std::string& o : kObservers) fabric_.add("obs-" + o);
    dns_.listenAlso(fabric_.hostAddress());
    dns_.start();
    const std::string secret = dir_.writeFile("tsig-secret", dns_.keySecret() + "\n", 0600);
    etcd_ = std::make_unique<test::EtcdCluster>(3, milliseconds{500});
    for (int i = 0; i < 3; ++i) {
      const std::string ns = "obs-" + kObservers[static_cast<size_t>(i)];
      etcd_->place(i, fabric_.address(ns), fabric_.wrap(ns, {}));
    }
    etcd_->start();
    std::string endpoints;
    for (const std::string& e : etcd_->endpoints()) endpoints += (endpoints.empty() ? "\"" : ", \"") + e + "\"";
    for (const std::string& name : kObservers) {
      std::string body = "[etcd]\nendpoints = [" + endpoints + "]\ncluster = \"e2e\"\nname = \"" + name +
                         "\"\nobservers = [\"eu\", \"us\", \"w\"]\nlease_ttl = \"2s\"\npublish_interval = "
                         "\"100ms\"\nverdict_fresh = \"1s\"\n"
                         "[detection]\nsuspect_after = \"600ms\"\nmiss_after = \"1s\"\nstartup_grace = \"1s\"\n"
                         "[guards]\nmin_failover_interval = \"0s\"\n"
                         "[[region]]\nname = \"eu\"\nrole = \"active\"\nnodes = [\"eu-1\", \"eu-2\"]\ndown_after = "
                         "\"500ms\"\nup_after = \"500ms\"\n"
                         "[[region]]\nname = \"us\"\nnodes = [\"us-1\", \"us-2\"]\ndown_after = \"500ms\"\nup_after = "
                         "\"500ms\"\n";
      for (int i = 0; i < 3; ++i) {
        body += "[[action]]\nname = \"s" + std::to_string(i) + "\"\ntype = \"record\"\npath = \"" + dir_.path() +
                "/record\"\nlabel = \"s" + std::to_string(i) + "\"\ndelay = \"" + std::to_string(step_delay.count()) +
                "ms\"\ntimeout = \"" + std::to_string(timeout.count()) + "ms\"\nattempts = 5\nbackoff = \"200ms\"\n";
      }
      body += "[[action]]\nname = \"dns-us\"\ntype = \"rfc2136\"\nserver = \"" + fabric_.hostAddress() +
              "\"\nport = " + std::to_string(dns_.port()) + "\nzone = \"" + dns_.zone() + "\"\nrecord = \"app." +
              dns_.zone() + "\"\nvalues = [\"" + kAddressUs + "\"]\nttl = 5\nkey_name = \"" + dns_.keyName() +
              "\"\nkey_secret_file = \"" + secret + "\"\ntimeout = \"3s\"\n";
      body += "[[plan]]\nfrom = \"eu\"\nto = \"us\"\nsteps = [\"s0\", \"s1\", \"s2\", \"dns-us\"]\n";
      const std::string ns = "obs-" + name;
      aggs_.push_back(std::make_unique<AggregatorProcess>(dir_, body, "aggregator-" + name,
                                                          std::vector<std::string>{fabric_.address(ns)},
                                                          "coordination = \"etcd\"\n", fabric_.wrap(ns, {})));
      aggs_.back()->start();
    }
    std::vector<std::string> endpoints_of_aggregators;
    for (size_t i = 0; i < aggs_.size(); ++i)
      endpoints_of_aggregators.push_back(aggs_[i]->endpointOn(fabric_.address("obs-" + kObservers[i])));
    for (const std::string region : {"eu", "us"}) {
      for (int i = 1; i <= 2; ++i) {
        auto& agent = agents_[region];
        agent.push_back(std::make_unique<AgentProcess>(
            dir_, region + "-" + std::to_string(i), region, endpoints_of_aggregators,
            "heartbeat_interval = \"200ms\"\n[[check]]\nname = \"app\"\ntype = \"exec\"\ncommand = [\"/bin/true\"]\n"
            "interval = \"200ms\"\ntimeout = \"150ms\"\n",
            fabric_.wrap(region, {})));
        agent.back()->start();
      }
    }
    // Settled: one leader, every observer fresh, both regions up by quorum.
    ASSERT_TRUE(waitFor(
        [&] {
          const nlohmann::json c = group_.status(0).value("coordination", nlohmann::json::object());
          if (!c.value("quorum_visible", false) || c.value("observers_heard", 0) != 3 || c.value("leader", "").empty())
            return false;
          const nlohmann::json r = aggs_[0]->json({"regions"});
          return r.is_array() && r.size() == 2 && r[0]["quorum"].value("verdict", "") == "up" &&
                 r[1]["quorum"].value("verdict", "") == "up";
        },
        milliseconds{20000}))
        << aggs_[0]->halectl({"regions"}).output << aggs_[0]->log();
  }

  void TearDown() override {
    agents_.clear();
    for (auto& a : aggs_) {
      if (a->running()) a->kill();
    }
    aggs_.clear();
    etcd_.reset();
  }

  bool anyPlan() const {
    for (const auto& a : aggs_) {
      if (!a->running()) continue;
      const nlohmann::json p = a->json({"plans"});
      if (!p.is_array() || !p.empty()) return true;  // unreadable counts: the test then fails loudly
    }
    return false;
  }
  std::vector<std::string> recorded() const {
    std::ifstream in(dir_.path() + "/record");
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }
  void killRegion(const std::string& region) {
    for (auto& a : agents_[region]) a->kill();
  }
  // How many running aggregators' journals show a step of the plan started: who ran it.
  int runners() const {
    int n = 0;
    for (size_t i = 0; i < aggs_.size(); ++i) {
      if (aggs_[i]->running()) n += group_.count(i, "+plan-step-start") > 0 ? 1 : 0;
    }
    return n;
  }
  std::vector<std::string> dnsAnswer() const { return dns_.lookup("app." + dns_.zone()); }

  static constexpr const char* kAddressEu = "192.0.2.10";
  static constexpr const char* kAddressUs = "198.51.100.10";
  const std::vector<std::string> all_steps_ = {"1.0 s0", "1.1 s1", "1.2 s2"};
  test::NetworkFabric fabric_;
  test::TempDir dir_{"partitions"};
  test::BindServer dns_;
  std::unique_ptr<test::EtcdCluster> etcd_;
  std::vector<std::unique_ptr<AggregatorProcess>> aggs_;
  test::AggregatorGroup group_{aggs_};
  std::map<std::string, std::vector<std::unique_ptr<AgentProcess>>> agents_;
};

TEST_F(Partitions, RegionDeathWithItsObserverAndEtcdMemberFailsOverOnceByOneAggregator) {
  start();
  killRegion("eu");
  aggs_[0]->kill();  // eu's observer
  etcd_->kill(0);    // and eu's etcd member
  ASSERT_TRUE(waitFor([&] { return group_.planState("done"); }, milliseconds{20000}))
      << aggs_[1]->halectl({"regions"}).output << aggs_[1]->log();
  EXPECT_EQ(recorded(), all_steps_);
  EXPECT_EQ(dnsAnswer(), std::vector<std::string>{kAddressUs});  // a real query, as clients see it
  EXPECT_EQ(runners(), 1);
  const int l = group_.leader();
  ASSERT_GT(l, 0);
  EXPECT_EQ(group_.count(static_cast<size_t>(l), "+plan-done"), 1);
}

TEST_F(Partitions, OneObserverCutOffFromAHealthyRegionFailsNothingOver) {
  start();
  fabric_.cut("obs-us", "eu");  // us's observer no longer hears eu; everything else still does
  // us's own verdict on eu turns down, as every other observer sees eu up: one vote, not a quorum.
  ASSERT_TRUE(waitFor(
      [&] {
        const nlohmann::json r = aggs_[2]->json({"regions"});
        return r.is_array() && r[0]["quorum"]["observers"].value("us", "") == "down";
      },
      milliseconds{10000}))
      << aggs_[2]->halectl({"regions"}).output;
  std::this_thread::sleep_for(milliseconds{3000});  // well past down_after plus the verdicts' freshness
  EXPECT_FALSE(anyPlan());
  const nlohmann::json r = aggs_[2]->json({"regions"});
  EXPECT_EQ(r[0]["quorum"]["observers"].value("us", ""), "down") << r.dump();
  EXPECT_EQ(r[0]["quorum"]["observers"].value("eu", ""), "up") << r.dump();
  EXPECT_EQ(r[0]["quorum"]["observers"].value("w", ""), "up") << r.dump();
  EXPECT_NE(r[0]["quorum"].value("verdict", ""), "down") << r.dump();
  const test::CommandResult table = aggs_[2]->halectl({"regions"});
  EXPECT_EQ(table.exit_code, 0) << table.output;
  EXPECT_TRUE(recorded().empty());
  EXPECT_EQ(dnsAnswer(), std::vector<std::string>{kAddressEu});
  // Healed, us hears eu again and the partition leaves no trace but the journal.
  fabric_.heal("obs-us", "eu");
  ASSERT_TRUE(waitFor([&] { return aggs_[2]->json({"regions"})[0]["quorum"]["observers"].value("us", "") == "up"; },
                      milliseconds{10000}));
  EXPECT_FALSE(anyPlan());
}

TEST_F(Partitions, LeaderKilledBetweenStepsAnotherFinishesThePlanEachStepOnce) {
  start(milliseconds{1500});
  killRegion("eu");
  const int l = group_.leaderOnceItJournals("+plan-step-done", milliseconds{20000});
  ASSERT_GE(l, 0);
  aggs_[static_cast<size_t>(l)]->kill();  // during step 1
  ASSERT_TRUE(waitFor([&] { return group_.planState("done"); }, milliseconds{30000}));
  EXPECT_EQ(recorded(), all_steps_);
  const int next = group_.leader();
  ASSERT_GE(next, 0);
  EXPECT_NE(next, l);
  EXPECT_EQ(group_.count(static_cast<size_t>(next), "+plan-takeover"), 1);
  EXPECT_EQ(group_.count(static_cast<size_t>(next), "+plan-done"), 1);
}

TEST_F(Partitions, ALeaderStoppedPastItsLeaseHasItsLateStepRefusedByEpoch) {
  start(milliseconds{1000}, milliseconds{1500});
  killRegion("eu");
  const int l = group_.leaderOnceItJournals("+plan-step-start", milliseconds{20000});
  ASSERT_GE(l, 0);
  const auto stopped = static_cast<size_t>(l);
  aggs_[stopped]->signal(SIGSTOP);
  ASSERT_TRUE(waitFor([&] { return group_.planState("done"); }, milliseconds{30000}));
  aggs_[stopped]->signal(SIGCONT);
  ASSERT_TRUE(waitFor([&] { return group_.count(stopped, "-plan-deposed") + group_.count(stopped, "-plan-held") >= 1; },
                      milliseconds{10000}))
      << aggs_[stopped]->log();
  EXPECT_EQ(group_.count(stopped, "-plan-deposed"), 1) << aggs_[stopped]->log();
  EXPECT_EQ(group_.count(stopped, "+plan-done"), 0);
  EXPECT_EQ(recorded(), all_steps_);
}

TEST_F(Partitions, EtcdWithoutQuorumStartsNoPlanAndWithItBackTheFailoverRuns) {
  start();
  // Two of the three members cut off from everything: the third has no quorum.
  fabric_.isolate("obs-us");
  fabric_.isolate("obs-w");
  ASSERT_TRUE(waitFor(
      [&] { return !group_.status(0).value("coordination", nlohmann::json::object()).value("reachable", true); },
      milliseconds{10000}));
  killRegion("eu");
  std::this_thread::sleep_for(milliseconds{4000});
  EXPECT_FALSE(anyPlan());
  EXPECT_NE(aggs_[0]->halectl({"regions"}).output.find("etcd UNREACHABLE"), std::string::npos);
  fabric_.rejoin("obs-us");
  fabric_.rejoin("obs-w");
  ASSERT_TRUE(waitFor([&] { return group_.planState("done"); }, milliseconds{30000}))
      << aggs_[1]->halectl({"regions"}).output;
  EXPECT_EQ(recorded(), all_steps_);
  EXPECT_EQ(runners(), 1);
}

}  // namespace
}  // namespace hale::aggregator
