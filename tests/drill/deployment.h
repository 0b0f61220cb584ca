#pragma once

// The drill's deployment: two regions on loopback made of the production binaries and config format.
//   region eu (active):  3 hale-agents, the database primary
//   region us (standby): 3 hale-agents, the streaming standby (PostgreSQL) or GTID replica (MariaDB)
//   BIND serving app.hale.test, pointing at eu (192.0.2.10); RFC 2136 updates with a TSIG key
//   one hale-aggregator: plan eu -> us = fence eu, promote us's database, point DNS at us, notify;
//                        plan us -> eu (failback) = promote eu's database, point DNS at eu, notify
//   or, with aggregators = 3, three of them (observers eu, us and the witness w, each hearing every agent)
//   and a three-member etcd cluster (one member "in" each region and one at the witness): the quorum
//   decides and one leader acts. Region eu then dies with its aggregator and its etcd member. The first
//   agent of each region then also holds its database's primary lease (database "main"), and the
//   promotions wait for the old primary's lease to lapse.
// Used by hale-drill (the README's first command) and by the drill's end-to-end tests.

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "bind_server.h"
#include "etcd_server.h"
#include "hale_processes.h"
#include "mariadb_pair.h"
#include "network_fabric.h"
#include "network_namespace.h"
#include "postgres_pair.h"
#include "temp_dir.h"

namespace hale::drill {

struct DrillOptions {
  std::string db = "postgres";  // or "mysql" (MariaDB)
  int nodes_per_region = 3;
  std::chrono::milliseconds heartbeat{1000};
  bool dry_run = false;
  bool keep_files = false;  // leave the journal, logs and configs behind (hale-drill does)
  // The fence step waits this long after powering eu's database off, as a STONITH device confirms (tests
  // use it to act between fence and promote).
  std::chrono::milliseconds fence_settle{0};
  // Runs us's last agent in a network namespace of its own, reaching the aggregator and its database over
  // a veth link that networkHiccup() can take down (PostgreSQL flavour).
  bool isolate_one_node = false;
  // 1 (deciding alone, coordination = "none") or 3 (coordination through etcd).
  int aggregators = 1;
  // The promotions' RPO gate (max_lag).
  std::chrono::milliseconds max_lag{30000};
  // With 3 aggregators and PostgreSQL: each region's agents and each observer (its aggregator and etcd
  // member) run in a network namespace of their own (test::NetworkFabric), so partitionRegionA() can cut
  // eu off. The databases and BIND stay on the host, reached by every side (replication keeps flowing).
  // Nothing but the lease stands between the two databases then: the plan has no STONITH step and the
  // promotion no old_primary to fence.
  bool partitionable = false;
};

// A bounded, reconnecting SQL session on one database, as an application holds one (each call bounded
// to about a second, whatever the server does).
class SqlSession {
 public:
  enum class Answer {
    ok,         // every statement succeeded
    refused,    // the server said no in its own words (read-only), or nothing listens (connection refused)
    no_answer,  // anything else: a time-out, a dropped connection; proves nothing either way
  };
  virtual ~SqlSession() = default;
  virtual Answer run(const std::vector<std::string>& statements) = 0;
};

// What a database answered when asked to take a write. Only the server's own answer, or its process being
// gone, proves anything; a question that could not be asked proves nothing, and every check built on a
// probe fails on `unknown`.
struct WriteProbe {
  enum class Outcome {
    writable,   // a row was committed
    read_only,  // the server refused the write (in recovery, read-only), in its own words
    down,       // the server's process is gone
    unknown,    // no answer (refused connection, time-out, an unexpected error) from a live process
  };
  Outcome outcome = Outcome::unknown;
  std::string detail;
  bool refusesWrites() const { return outcome == Outcome::read_only || outcome == Outcome::down; }
};
const char* toString(WriteProbe::Outcome o);

inline constexpr const char* kRegionA = "eu";
inline constexpr const char* kRegionB = "us";
inline constexpr const char* kAddressA = "192.0.2.10";
inline constexpr const char* kAddressB = "198.51.100.10";
inline const char* addressOf(const std::string& region) { return region == kRegionA ? kAddressA : kAddressB; }

class Deployment {
 public:
  explicit Deployment(DrillOptions options);
  ~Deployment();

  // Starts the servers, the aggregator and the agents; returns once both regions are up and eu is active.
  // `say` gets one line per milestone. Throws std::runtime_error on any failure.
  void start(const std::function<void(const std::string&)>& say);

  // Region eu dies: SIGKILL its agents and its database server. Returns the wall-clock ms of the kill.
  int64_t killRegionA();
  // SIGKILL the last `count` agents of `region` (the database host's agent, the first, stays). Returns
  // the wall-clock ms of the kill.
  int64_t killAgents(const std::string& region, int count);
  // Region eu comes back for a failback: its database rebuilt as a standby of us's (PostgreSQL) or
  // restarted as a GTID replica of it (MariaDB), its agents restarted. Returns once the aggregator sees
  // eu up.
  void restoreRegionA(const std::function<void(const std::string&)>& say);

  // The app's A records as a real DNS query sees them.
  std::vector<std::string> dnsAnswer() const;
  // Asks `region`'s database to commit a row, as an application would (MariaDB: an account without the
  // privilege to bypass read_only).
  WriteProbe probeWrite(const std::string& region);
  // Commits `n` numbered rows on `region`'s database and returns once the other region's database has
  // them too: acknowledged and replicated, so no failover may lose them. start() commits some on eu,
  // restoreRegionA() some on us. Throws when a row cannot be written or does not arrive within 10 s.
  void commitReplicatedRows(const std::string& region, int n);
  const std::vector<int64_t>& committedRows() const { return committed_; }
  // The committed rows `region`'s database does not hold. Throws when it cannot be asked.
  std::vector<int64_t> missingRows(const std::string& region);
  // An application's session on `region`'s database (MariaDB: the application account). Tables for
  // it: `writes (id bigint PRIMARY KEY, region text)` and `probe (v int)`.
  std::unique_ptr<SqlSession> openSession(const std::string& region) const;
  // The ids in `region`'s `writes` table. Throws when it cannot be asked.
  std::set<int64_t> writtenIds(const std::string& region);
  // Replication into `region`'s database stops applying what arrives (PostgreSQL: replay paused;
  // MariaDB: MASTER_DELAY of an hour, the SQL thread running); what arrives is kept.
  void pauseReplay(const std::string& region);
  // eu's agents and observer lose every path to us's and the witness's (and back), until healRegionA().
  void partitionRegionA();
  void healRegionA();
  // When `region`'s database host agent (its lease holder) first journaled `event` ("+fenced"), Unix ms;
  // 0 if never.
  int64_t leaseAgentEvent(const std::string& region, const std::string& event) const;
  // The node holding database main's primary lease in etcd ("" when none). Needs 3 aggregators.
  std::string leaseHolder() const;
  void freezeDns() { dns_->freeze(); }
  void thawDns() { dns_->thaw(); }
  // The isolated node's link goes down for `how_long`: its packets are lost, its TCP connections
  // retransmit, and its queued heartbeats arrive late. Needs isolate_one_node.
  void networkHiccup(std::chrono::milliseconds how_long);
  void freezeDatabase(const std::string& region);
  void thawDatabase(const std::string& region);

  // The aggregator that acts: the only one, or with several the one that led when followLeader() last
  // looked (the first still running when none led).
  test::AggregatorProcess& aggregator() { return *aggregators_.at(acting_); }
  void followLeader();
  // Every aggregator still running.
  std::vector<test::AggregatorProcess*> runningAggregators();
  std::vector<std::unique_ptr<test::AgentProcess>>& agents(const std::string& region);
  const test::TempDir& dir() const { return dir_; }
  const DrillOptions& options() const { return options_; }
  // Where the journal, the logs and the configs are.
  std::string describeFiles() const;
  // One line per execution of the notify step, and per execution of the fence step that powered eu's
  // database off ("<request id> ...", the request id being "<plan>.<step>"): a step run twice shows twice.
  std::vector<std::string> notifications() const { return lines("notifications.log"); }
  std::vector<std::string> fencings() const { return lines("fence.log"); }
  // When each fencing saw eu's database process gone (Unix ms; its line's last field).
  std::vector<int64_t> fencedAtMs() const;

 private:
  std::string aggregatorConfig() const;
  std::string agentChecks(const std::string& region, bool isolated = false, bool lease = false) const;
  void startAgents(const std::string& region);
  void writeScripts() const;       // fence-eu.sh and notify.sh, run by the exec actions
  void recordDatabasePid() const;  // eu-db.pid, what fence-eu.sh kills
  bool regionUp(const std::string& region) const;
  bool settled() const;  // both regions up everywhere; with etcd also a leader and a quorum in sight
  std::vector<std::string> lines(const std::string& file) const;
  void signalDatabase(const std::string& region, bool freeze);
  std::set<int64_t> idsIn(const std::string& region, const std::string& table);  // `table`'s id column

  DrillOptions options_;
  test::TempDir dir_;
  std::unique_ptr<test::PostgresPair> pg_;
  std::unique_ptr<test::MariadbPair> mysql_;
  std::unique_ptr<test::BindServer> dns_;
  std::unique_ptr<test::NetworkNamespace> netns_;
  std::unique_ptr<test::NetworkFabric> fabric_;
  std::string pgConninfo(bool primary) const;  // as the aggregators and agents reach it
  std::unique_ptr<test::EtcdCluster> etcd_;
  std::vector<std::unique_ptr<test::AggregatorProcess>> aggregators_;  // eu's first
  size_t acting_ = 0;
  std::vector<std::unique_ptr<test::AgentProcess>> agents_a_;
  std::vector<std::unique_ptr<test::AgentProcess>> agents_b_;
  std::vector<int64_t> committed_;
};

}  // namespace hale::drill
