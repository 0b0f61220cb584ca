// The primary lease under a real partition (README "The primary lease"): region eu stays alive but is cut
// off from etcd's majority, the other observers and region us. Its agent must fence its database before
// us's standby is promoted, with no instant at which both accept writes. Nothing else fences eu: the plan
// has no fence step and the promotion no old_primary, so only the agent's self-fencing stands between the
// two databases.
//
// Namespaces on one bridge (test::NetworkFabric): eu (eu's agent), obs-eu (eu's aggregator and etcd
// member), us, obs-us, obs-w. The partition cuts {eu, obs-eu} from {us, obs-us, obs-w}. PostgreSQL and
// BIND run on the host, reached by every namespace (the two databases keep replicating over loopback, so
// no acknowledged write may be lost). A writer inserts a numbered row every 20 ms into whichever database
// DNS points at; a prober asks both every 50 ms whether they take a write (inserted and rolled back).

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "aggregator_group.h"
#include "bind_server.h"
#include "db_lease.h"
#include "etcd_client.h"
#include "etcd_server.h"
#include "hale_processes.h"
#include "network_fabric.h"
#include "pg_client.h"
#include "postgres_pair.h"
#include "process.h"
#include "temp_dir.h"

namespace hale::aggregator {
namespace {

using std::chrono::milliseconds;
using test::AgentProcess;
using test::AggregatorProcess;
using test::waitFor;
using Node = test::PostgresPair::Node;
using SteadyClock = std::chrono::steady_clock;

const std::vector<std::string> kObservers = {"eu", "us", "w"};
constexpr const char* kAddressEu = "192.0.2.10";
constexpr const char* kAddressUs = "198.51.100.10";

int64_t wallMs() { return toUnixMillis(SystemClock::instance().wallNow()); }

// A connection that reconnects after any failure (a fence ends sessions), each call bounded.
class Client {
 public:
  explicit Client(std::string conninfo) : conninfo_(std::move(conninfo)) {}
  bool run(const std::string& sql) {
    const PgDeadline d{SystemClock::instance().steadyNow() + milliseconds{300}, &never_, &SystemClock::instance()};
    if (!conn_) {
      auto c = PgConnection::connect(conninfo_, "", d, "drill-client");
      if (!c) return false;
      conn_ = std::make_unique<PgConnection>(std::move(c).value());
    }
    if (conn_->query(sql, d)) return true;
    conn_.reset();
    return false;
  }

 private:
  std::string conninfo_;
  std::unique_ptr<PgConnection> conn_;
  std::atomic<bool> never_{false};
};

struct Probe {
  int64_t at_ms;
  bool eu;
  bool us;
};

class SplitBrainPartition : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* m : {"eu", "us"}) fabric_.add(m);
    for (const std::string& o : kObservers) fabric_.add("obs-" + o);
    const std::string host = fabric_.hostAddress();
    const std::string cidr = host.substr(0, host.rfind('.')) + ".0/24";
    pg_.start();
    pg_.acceptClientsOn(Node::primary, host, cidr);
    pg_.acceptClientsOn(Node::standby, host, cidr);
    pg_.query(Node::primary, "CREATE TABLE writes (id int PRIMARY KEY, target text)");
    pg_.query(Node::primary, "CREATE TABLE probe (v int)");
    dns_.listenAlso(host);
    dns_.start();
    const std::string secret = dir_.writeFile("tsig-secret", dns_.keySecret() + "\n");
    etcd_ = std::make_unique<test::EtcdCluster>(3, milliseconds{500});
    for (int i = 0; i < 3; ++i) {
      const std::string ns = "obs-" + kObservers[static_cast<size_t>(i)];
      etcd_->place(i, fabric_.address(ns), fabric_.wrap(ns, {}));
    }
    etcd_->start();
    std::string endpoints;
    for (const std::string& e : etcd_->endpoints()) endpoints += (endpoints.empty() ? "\"" : ", \"") + e + "\"";
    const auto remote = [&](Node n) {
      std::string c = pg_.conninfo(n);
      return c.replace(c.find("127.0.0.1"), 9, host);
    };
    for (const std::string& name : kObservers) {
      const std::string body =
          "[etcd]\nendpoints = [" + endpoints + "]\ncluster = \"e2e\"\nname = \"" + name +
          "\"\nobservers = [\"eu\", \"us\", \"w\"]\nlease_ttl = \"2s\"\npublish_interval = \"100ms\"\nverdict_fresh = "
          "\"1s\"\n[detection]\nsuspect_after = \"600ms\"\nmiss_after = \"1s\"\nstartup_grace = \"1s\"\n"
          "[guards]\nmin_failover_interval = \"0s\"\n"
          "[[region]]\nname = \"eu\"\nrole = \"active\"\nnodes = [\"eu-1\"]\nmin_healthy = 1\ndown_after = "
          "\"500ms\"\nup_after = \"500ms\"\n"
          "[[region]]\nname = \"us\"\nnodes = [\"us-1\"]\nmin_healthy = 1\ndown_after = \"500ms\"\nup_after = "
          "\"500ms\"\n"
          "[[action]]\nname = \"promote-us\"\ntype = \"postgres_promote\"\nstandby = \"" +
          remote(Node::standby) +
          "\"\nlease = \"main\"\nmax_lag = \"30s\"\ntimeout = \"10s\"\n"
          "[[action]]\nname = \"dns-us\"\ntype = \"rfc2136\"\nserver = \"" +
          host + "\"\nport = " + std::to_string(dns_.port()) + "\nzone = \"" + dns_.zone() + "\"\nrecord = \"app." +
          dns_.zone() + "\"\nvalues = [\"" + kAddressUs + "\"]\nttl = 5\nkey_name = \"" + dns_.keyName() +
          "\"\nkey_secret_file = \"" + secret + "\"\ntimeout = \"3s\"\n" +
          "[[plan]]\nfrom = \"eu\"\nto = \"us\"\nsteps = [\"promote-us\", \"dns-us\"]\n";
      const std::string ns = "obs-" + name;
      aggs_.push_back(std::make_unique<AggregatorProcess>(dir_, body, "aggregator-" + name,
                                                          std::vector<std::string>{fabric_.address(ns)},
                                                          "coordination = \"etcd\"\n", fabric_.wrap(ns, {})));
      aggs_.back()->start();
    }
    std::vector<std::string> to_aggregators;
    for (size_t i = 0; i < aggs_.size(); ++i)
      to_aggregators.push_back(aggs_[i]->endpointOn(fabric_.address("obs-" + kObservers[i])));
    for (const auto& [region, node, db] : {std::tuple{"eu", "eu-1", Node::primary}, {"us", "us-1", Node::standby}}) {
      agents_.push_back(std::make_unique<AgentProcess>(
          dir_, node, region, to_aggregators,
          "heartbeat_interval = \"200ms\"\njournal = \"" + dir_.path() + "/" + node +
              "-journal.jsonl\"\n[etcd]\nendpoints = [" + endpoints +
              "]\ncluster = \"e2e\"\ntimeout = \"300ms\"\n[[check]]\nname = \"db\"\ntype = \"postgres\"\nconninfo = "
              "\"" +
              remote(db) +
              "\"\ninterval = \"200ms\"\ntimeout = \"150ms\"\n[check.lease]\ndatabase = \"main\"\nttl = "
              "\"1500ms\"\nmargin = \"500ms\"\n",
          fabric_.wrap(region, {})));
      agents_.back()->start();
    }
    etcd::Options o;
    o.endpoints = etcd_->endpoints();
    store_ = std::make_unique<etcd::Client>(o);
    ASSERT_TRUE(waitFor(
        [&] {
          const nlohmann::json c = group_.status(0).value("coordination", nlohmann::json::object());
          if (!c.value("quorum_visible", false) || c.value("leader", "").empty()) return false;
          const nlohmann::json r = aggs_[0]->json({"regions"});
          return r.is_array() && r.size() == 2 && r[0]["quorum"].value("verdict", "") == "up" &&
                 r[1]["quorum"].value("verdict", "") == "up" && leaseHolder() == "eu-1";
        },
        milliseconds{30000}))
        << aggs_[0]->halectl({"regions"}).output << agents_[0]->log();
  }

  void TearDown() override {
    agents_.clear();
    for (auto& a : aggs_) {
      if (a->running()) a->kill();
    }
    aggs_.clear();
    etcd_.reset();
  }

  std::string leaseHolder() const {
    auto kvs = store_->range(dblease::keysFor("e2e", "main").lease);
    if (!kvs || kvs.value().empty()) return "";
    auto r = dblease::decodeLease(kvs.value()[0].value);
    return r ? r.value().node : "(unreadable)";
  }
  std::optional<dblease::PrimaryRecord> primaryRecord() const {
    auto kvs = store_->range(dblease::keysFor("e2e", "main").primary);
    if (!kvs || kvs.value().empty()) return std::nullopt;
    auto r = dblease::decodePrimary(kvs.value()[0].value);
    return r ? std::optional(r.value()) : std::nullopt;
  }
  int64_t journalTime(const std::string& node, const std::string& event) const {
    std::ifstream in(dir_.path() + "/" + node + "-journal.jsonl");
    for (std::string line; std::getline(in, line);) {
      const auto e = nlohmann::json::parse(line, nullptr, false);
      if (e.is_object() && e.value("event", "") == event) return e.value("ts_ms", int64_t{0});
    }
    return 0;
  }

  test::NetworkFabric fabric_;
  test::TempDir dir_{"split-brain"};
  test::PostgresPair pg_;
  test::BindServer dns_;
  std::unique_ptr<test::EtcdCluster> etcd_;
  std::vector<std::unique_ptr<AggregatorProcess>> aggs_;
  test::AggregatorGroup group_{aggs_};
  std::vector<std::unique_ptr<AgentProcess>> agents_;
  std::unique_ptr<etcd::Client> store_;
};

TEST_F(SplitBrainPartition, ACutOffPrimaryFencesItselfBeforeTheStandbyIsPromotedNeverTwoWritable) {
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<Probe> probes;
  std::vector<std::pair<int, std::string>> acknowledged;  // row id, the database that took it
  std::thread prober([&] {
    Client eu(pg_.conninfo(Node::primary));
    Client us(pg_.conninfo(Node::standby));
    const std::string write = "BEGIN; INSERT INTO probe VALUES (1); ROLLBACK";
    while (!stop) {
      const int64_t at = wallMs();
      const bool eu_ok = eu.run(write);
      const bool us_ok = us.run(write);
      {
        std::lock_guard lock(mu);
        probes.push_back({at, eu_ok, us_ok});
      }
      std::this_thread::sleep_for(milliseconds{50});
    }
  });
  std::thread writer([&] {
    Client eu(pg_.conninfo(Node::primary));
    Client us(pg_.conninfo(Node::standby));
    for (int id = 1; !stop; ++id) {
      const auto answer = dns_.lookup("app." + dns_.zone());
      const bool to_us = answer == std::vector<std::string>{kAddressUs};
      if ((to_us ? us : eu)
              .run("INSERT INTO writes VALUES (" + std::to_string(id) + ", '" + (to_us ? "us" : "eu") + "')")) {
        std::lock_guard lock(mu);
        acknowledged.emplace_back(id, to_us ? "us" : "eu");
      }
      std::this_thread::sleep_for(milliseconds{20});
    }
  });
  std::this_thread::sleep_for(milliseconds{1000});  // the writer and prober see the healthy state first

  const int64_t cut_ms = wallMs();
  for (const std::string a : {"eu", "obs-eu"}) {
    for (const std::string b : {"us", "obs-us", "obs-w"}) fabric_.cut(a, b);
  }
  const bool switched = waitFor(
      [&] {
        std::lock_guard lock(mu);
        return !acknowledged.empty() && acknowledged.back().second == "us" && !probes.empty() && probes.back().us;
      },
      milliseconds{30000});
  const int64_t switched_ms = wallMs();
  std::this_thread::sleep_for(milliseconds{1000});
  stop = true;
  prober.join();
  writer.join();
  ASSERT_TRUE(switched) << aggs_[1]->halectl({"plans"}).output << aggs_[1]->log() << agents_[0]->log();

  // The invariant: no probe round found both databases taking writes.
  int64_t longest_overlap_ms = 0;
  int64_t overlap_start = -1;
  int64_t first_us = 0;
  int64_t last_eu = 0;
  for (const Probe& p : probes) {
    if (p.eu && p.us) {
      if (overlap_start < 0) overlap_start = p.at_ms;
      longest_overlap_ms = std::max<int64_t>(longest_overlap_ms, p.at_ms - overlap_start + 50);
    } else {
      overlap_start = -1;
    }
    if (p.eu) last_eu = p.at_ms;
    if (p.us && first_us == 0) first_us = p.at_ms;
  }
  // Every acknowledged row is on the surviving primary (replication never stopped in this topology).
  size_t missing = 0;
  for (const auto& [id, target] : acknowledged) {
    if (pg_.query(Node::standby, "SELECT count(*) FROM writes WHERE id = " + std::to_string(id)) != "1") ++missing;
  }
  const auto record = primaryRecord();
  const int64_t fenced_ms = journalTime("eu-1", "+fenced");
  std::cout << "partition: eu fenced " << fenced_ms - cut_ms << " ms after the cut; eu took its last write "
            << last_eu - cut_ms << " ms after, us its first " << first_us - cut_ms << " ms after; record moved "
            << (record ? record->since_ms - cut_ms : -1) << " ms after; longest two-writable window "
            << longest_overlap_ms << " ms; " << acknowledged.size() << " acknowledged writes, " << missing
            << " missing; DNS at the writable primary " << switched_ms - cut_ms << " ms after the cut\n";

  EXPECT_EQ(longest_overlap_ms, 0);
  EXPECT_GT(last_eu, 0);
  EXPECT_LT(last_eu, first_us);
  EXPECT_EQ(missing, 0u);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->region, "us");
  ASSERT_GT(fenced_ms, 0) << "eu never fenced itself";
  EXPECT_LT(fenced_ms, record->since_ms);  // from both sides' own records: eu fenced, then us named
  EXPECT_TRUE(waitFor([&] { return leaseHolder() == "us-1"; }, milliseconds{5000}));
  EXPECT_EQ(journalTime("us-1", "+fencing"), 0);  // the promoted standby took its lease without a fence first
  EXPECT_EQ(pg_.query(Node::primary, "SHOW default_transaction_read_only"), "on");

  // Healed: eu reads the record naming us, keeps its fence and never takes the lease back.
  for (const std::string a : {"eu", "obs-eu"}) {
    for (const std::string b : {"us", "obs-us", "obs-w"}) fabric_.heal(a, b);
  }
  std::this_thread::sleep_for(milliseconds{3000});
  EXPECT_EQ(leaseHolder(), "us-1");
  EXPECT_EQ(pg_.query(Node::primary, "SHOW default_transaction_read_only"), "on");
  EXPECT_EQ(journalTime("eu-1", "-fenced"), 0);
  EXPECT_EQ(journalTime("eu-1", "+split-brain"), 0);
}

}  // namespace
}  // namespace hale::aggregator
