#include "deployment.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "clock.h"
#include "db_lease.h"
#include "etcd_client.h"
#include "mysql_client.h"
#include "pg_client.h"

namespace hale::drill {

using std::chrono::milliseconds;
using test::waitFor;

namespace {

std::string ms(milliseconds d) { return std::to_string(d.count()) + "ms"; }

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// The observers with aggregators = 3: one per region, then the witness.
const char* const kObservers[] = {"eu", "us", "w"};

// MariaDB's application account, created by start().
constexpr const char* kAppUser = "app";
constexpr const char* kAppPassword = "app-pw";

std::string nodeList(const std::string& region, int n) {
  std::string out;
  for (int i = 1; i <= n; ++i) out += (i == 1 ? "" : ", ") + quoted(region + "-" + std::to_string(i));
  return "[" + out + "]";
}

}  // namespace

Deployment::Deployment(DrillOptions options) : options_(std::move(options)), dir_("drill") {
  if (options_.db != "postgres" && options_.db != "mysql") throw std::runtime_error("--db must be postgres or mysql");
  if (options_.aggregators != 1 && options_.aggregators != 3) throw std::runtime_error("--aggregators must be 1 or 3");
  if (options_.aggregators != 1 && options_.isolate_one_node)
    throw std::runtime_error("isolating a node needs a single aggregator");
  if (options_.partitionable && (options_.aggregators != 3 || options_.db != "postgres"))
    throw std::runtime_error("a partitionable deployment needs 3 aggregators and PostgreSQL");
  if (options_.keep_files) dir_.keep();
}

Deployment::~Deployment() {
  // Agents first (they would only log the servers going away), then the aggregator, then the servers
  // (their destructors).
  agents_a_.clear();
  agents_b_.clear();
  for (auto& a : aggregators_) {
    if (a->running()) a->stop();
  }
}

void Deployment::followLeader() {
  if (aggregators_.size() < 2) return;
  size_t first_running = aggregators_.size();
  for (size_t i = 0; i < aggregators_.size(); ++i) {
    if (!aggregators_[i]->running()) continue;
    if (first_running == aggregators_.size()) first_running = i;
    const nlohmann::json s = aggregators_[i]->json({"status"});
    if (s.is_object() && s.value("coordination", nlohmann::json::object()).value("leading", false)) {
      acting_ = i;
      return;
    }
  }
  if (!aggregators_[acting_]->running() && first_running < aggregators_.size()) acting_ = first_running;
}

std::vector<test::AggregatorProcess*> Deployment::runningAggregators() {
  std::vector<test::AggregatorProcess*> out;
  for (auto& a : aggregators_) {
    if (a->running()) out.push_back(a.get());
  }
  return out;
}

std::vector<std::unique_ptr<test::AgentProcess>>& Deployment::agents(const std::string& region) {
  return region == kRegionA ? agents_a_ : agents_b_;
}

std::string Deployment::agentChecks(const std::string& region, bool isolated, bool lease) const {
  // The database check is what makes a node healthy; 1 s apart, bounded well inside the heartbeat.
  const milliseconds interval = options_.heartbeat;
  const milliseconds timeout = std::max(milliseconds{200}, options_.heartbeat * 8 / 10);
  std::string check = "heartbeat_interval = \"" + ms(options_.heartbeat) + "\"\n";
  if (lease) {
    std::string endpoints;
    for (const std::string& e : etcd_->endpoints()) endpoints += (endpoints.empty() ? "" : ", ") + quoted(e);
    check += "journal = \"" + dir_.path() + "/" + region + "-agent-journal.jsonl\"\n[etcd]\nendpoints = [" + endpoints +
             "]\ncluster = \"drill\"\n";
  }
  check += "[[check]]\nname = \"db\"\n";
  if (options_.db == "postgres") {
    const auto n = region == kRegionA ? test::PostgresPair::Node::primary : test::PostgresPair::Node::standby;
    std::string conninfo = pgConninfo(n == test::PostgresPair::Node::primary);
    // The isolated node reaches its database over its namespace's link.
    if (isolated) conninfo.replace(conninfo.find("127.0.0.1"), 9, netns_->hostAddress());
    check += "type = \"postgres\"\nconninfo = \"" + conninfo + "\"\n";
  } else {
    const auto n = region == kRegionA ? test::MariadbPair::Node::primary : test::MariadbPair::Node::replica;
    check += "type = \"mysql\"\nhost = \"127.0.0.1\"\nport = " + std::to_string(mysql_->port(n)) + "\nuser = \"" +
             test::MariadbPair::kUser + "\"\npassword_file = \"" + dir_.path() + "/mysql-password\"\n";
  }
  check += "interval = \"" + ms(interval) + "\"\ntimeout = \"" + ms(timeout) + "\"\n";
  // Tuned for loopback like the etcd cluster: a 2 s lease renewed every 667 ms and fenced 667 ms before it
  // could lapse (production default 3 s and 1 s); a region's death then costs at most 2 s of lease.
  if (lease) check += "[check.lease]\ndatabase = \"main\"\nttl = \"2s\"\n";
  return check;
}

std::string Deployment::aggregatorConfig() const {
  const std::string d = dir_.path();
  const int n = options_.nodes_per_region;
  // Detection scaled to the heartbeat: one lost heartbeat (a 2-interval gap) never fails a node.
  std::string c = "[detection]\nsuspect_after = \"" + ms(options_.heartbeat * 3 / 2) + "\"\nmiss_after = \"" +
                  ms(options_.heartbeat * 5 / 2) + "\"\n[guards]\ndry_run = " + (options_.dry_run ? "true" : "false") +
                  "\nfailback = \"manual\"\n"
                  // The drill fails back seconds after failing over; production keeps the 10m default.
                  "min_failover_interval = \"0s\"\n";
  for (const char* region : {kRegionA, kRegionB}) {
    c += "[[region]]\nname = \"" + std::string(region) + "\"\nrole = \"" + (region == kRegionA ? "active" : "standby") +
         "\"\nnodes = " + nodeList(region, n) + "\nmin_healthy = " + std::to_string(n / 2 + 1) +
         "\ndatabase_check = \"db\"\ndown_after = \"500ms\"\nup_after = \"1s\"\n";
  }
  // Fence: power the old primary off for good (STONITH), by the script writeScripts() wrote; none when
  // partitionable (a partition would cut the STONITH device's path too: the lease alone must hold).
  if (!fabric_) {
    c += "[[action]]\nname = \"fence-eu\"\ntype = \"exec\"\ntimeout = \"5s\"\ncommand = [\"/bin/sh\", \"" + d +
         "/fence-eu.sh\"]\n";
  }
  // Promotions and DNS, both directions (the second pair serves the failback).
  for (const char* to : {kRegionB, kRegionA}) {
    const bool to_b = std::string(to) == kRegionB;
    c += "[[action]]\nname = \"promote-" + std::string(to) + "\"\ntimeout = \"10s\"\n";
    if (options_.db == "postgres") {
      c += "type = \"postgres_promote\"\nstandby = \"" + pgConninfo(!to_b) + "\"\nmax_lag = \"" + ms(options_.max_lag) +
           "\"\nfence_timeout = \"500ms\"\n";
      if (!fabric_) c += "old_primary = \"" + pgConninfo(to_b) + "\"\n";
      if (etcd_) c += "lease = \"main\"\n";
    } else {
      using Node = test::MariadbPair::Node;
      c += "type = \"mysql_promote\"\nreplica_host = \"127.0.0.1\"\nreplica_port = " +
           std::to_string(mysql_->port(to_b ? Node::replica : Node::primary)) +
           "\nold_primary_host = \"127.0.0.1\"\nold_primary_port = " +
           std::to_string(mysql_->port(to_b ? Node::primary : Node::replica)) + "\nuser = \"" +
           test::MariadbPair::kUser + "\"\npassword_file = \"" + d + "/mysql-password\"\nmax_lag = \"" +
           ms(options_.max_lag) +
           "\"\n"
           "fence_timeout = \"500ms\"\n";
      if (etcd_) c += "lease = \"main\"\n";
    }
    c += "[[action]]\nname = \"dns-" + std::string(to) + "\"\ntype = \"rfc2136\"\nserver = \"" +
         (fabric_ ? fabric_->hostAddress() : std::string("127.0.0.1")) + "\"\nport = " + std::to_string(dns_->port()) +
         "\nzone = \"" + dns_->zone() + "\"\nrecord = \"app." + dns_->zone() + "\"\nvalues = [\"" +
         (to_b ? kAddressB : kAddressA) + "\"]\nttl = 5\nkey_name = \"" + dns_->keyName() + "\"\nkey_secret_file = \"" +
         d +
         "/tsig-secret\"\ntimeout = \"3s\"\n"
         // A DNS server that stalls is waited for (backoff 1, 2, 4, 8 s between attempts: over 30 s).
         "attempts = 6\n";
  }
  // Notify, keepalived style, by a script.
  c += "[[action]]\nname = \"notify\"\ntype = \"exec\"\ncommand = [\"/bin/sh\", \"" + d + "/notify.sh\"]\n";
  c += std::string("[[plan]]\nfrom = \"eu\"\nto = \"us\"\nsteps = [") + (fabric_ ? "" : "\"fence-eu\", ") +
       "\"promote-us\", \"dns-us\", \"notify\"]\n";
  c += "[[plan]]\nfrom = \"us\"\nto = \"eu\"\nsteps = [\"promote-eu\", \"dns-eu\", \"notify\"]\n";
  return c;
}

void Deployment::writeScripts() const {
  const std::string d = dir_.path();
  char settle[16];
  std::snprintf(settle, sizeof settle, "%.3f", static_cast<double>(options_.fence_settle.count()) / 1000.0);
  // The pid comes from a file the deployment rewrites when eu's database is restored (its pid changes).
  dir_.writeFile("fence-eu.sh",
                 "# STONITH for the drill: SIGKILL eu's database server, every process of it as a power-off would\n"
                 "# (PostgreSQL's backends outlive a killed postmaster until they notice), and wait until all are\n"
                 "# gone. Stopped first, so it forks no backend meanwhile. Idempotent.\n"
                 "pid=$(cat " +
                     d +
                     "/eu-db.pid)\n"
                     "kill -STOP \"$pid\" 2>/dev/null\n"
                     "procs=\"$pid\"\n"
                     "for stat in /proc/[0-9]*/stat; do\n"
                     "  { read -r line < \"$stat\"; } 2>/dev/null || continue\n"
                     "  set -- ${line##*\\) }\n"
                     "  if [ \"$2\" = \"$pid\" ]; then p=${stat#/proc/}; procs=\"$procs ${p%/stat}\"; fi\n"
                     "done\n"
                     "kill -KILL $procs 2>/dev/null\n"
                     "for i in 1 2 3 4 5 6 7 8 9 10; do\n"
                     "  alive=\"\"\n"
                     "  for p in $procs; do\n"
                     "    state=$(awk '/^State/ {print $2}' /proc/$p/status 2>/dev/null)\n"
                     "    if [ -n \"$state\" ] && [ \"$state\" != Z ]; then alive=$p; fi\n"
                     "  done\n"
                     "  if [ -z \"$alive\" ]; then\n"
                     "    echo \"$HALE_REQUEST_ID powered-off $(date +%s%3N)\" >> " +
                     d +
                     "/fence.log\n"
                     "    echo \"eu database powered off\"\n"
                     "    sleep " +
                     settle +
                     "\n"
                     "    exit 0\n"
                     "  fi\n"
                     "  sleep 0.1\n"
                     "done\n"
                     "exit 75  # still alive: retry\n",
                 0755);
  // Every execution is logged, so a step run twice shows twice (a real notifier would drop the repeat by
  // its request id; the drill counts).
  dir_.writeFile("notify.sh",
                 "# Notification for the drill: one line per execution in notifications.log.\n"
                 "echo \"$HALE_REQUEST_ID $HALE_EVENT $HALE_FROM -> $HALE_TO: $HALE_REASON\" >> " +
                     d + "/notifications.log\n",
                 0755);
}

void Deployment::recordDatabasePid() const {
  const pid_t pid = pg_ ? pg_->pid(test::PostgresPair::Node::primary) : mysql_->pid(test::MariadbPair::Node::primary);
  dir_.writeFile("eu-db.pid", std::to_string(pid) + "\n");
}

void Deployment::startAgents(const std::string& region) {
  auto& list = agents(region);
  list.clear();
  for (int i = 1; i <= options_.nodes_per_region; ++i) {
    const bool isolated = netns_ && region == kRegionB && i == options_.nodes_per_region;
    // Every agent publishes to every aggregator, as agent.toml's `aggregators` list says.
    std::vector<std::string> endpoints;
    for (size_t k = 0; k < aggregators_.size(); ++k) {
      const auto& a = aggregators_[k];
      endpoints.push_back(isolated  ? a->endpointOn(netns_->hostAddress())
                          : fabric_ ? a->endpointOn(fabric_->address(std::string("obs-") + kObservers[k]))
                                    : a->endpoint());
    }
    // With etcd, the first agent of each region is its database host's: it holds the primary lease.
    const bool lease = etcd_ != nullptr && i == 1;
    std::vector<std::string> wrapper;
    if (isolated) wrapper = netns_->wrap({});
    if (fabric_) wrapper = fabric_->wrap(region, {});
    list.push_back(std::make_unique<test::AgentProcess>(dir_, region + "-" + std::to_string(i), region, endpoints,
                                                        agentChecks(region, isolated, lease), wrapper));
    list.back()->start();
  }
}

bool Deployment::regionUp(const std::string& region) const {
  for (const auto& a : aggregators_) {
    if (!a->running()) continue;
    const nlohmann::json regions = a->json({"regions"});
    if (!regions.is_array()) return false;
    bool up = false;
    for (const auto& r : regions) {
      if (r.value("name", "") != region) continue;
      up = r.value("verdict", "") == "up" && r.value("healthy", 0) == options_.nodes_per_region;
      // With etcd, up by quorum too.
      if (aggregators_.size() > 1) up = up && r["quorum"].value("verdict", "") == "up";
    }
    if (!up) return false;
  }
  return true;
}

bool Deployment::settled() const {
  if (!regionUp(kRegionA) || !regionUp(kRegionB)) return false;
  // Past every aggregator's start-up grace: the drill measures a failover in steady state.
  for (const auto& a : aggregators_) {
    const nlohmann::json s = a->json({"status"});
    if (!s.is_object() || s.value("starting", true)) return false;
  }
  if (aggregators_.size() < 2) return true;
  for (const auto& a : aggregators_) {
    const nlohmann::json s = a->json({"status"});
    const nlohmann::json c = s.is_object() ? s.value("coordination", nlohmann::json::object()) : nlohmann::json();
    if (!c.is_object() || c.value("leader", "").empty() || !c.value("quorum_visible", false) ||
        c.value("observers_heard", 0) != static_cast<int>(aggregators_.size())) {
      return false;
    }
  }
  return true;
}

void Deployment::start(const std::function<void(const std::string&)>& say) {
  if (options_.partitionable) {
    say("network namespaces: regions eu and us, observers obs-eu, obs-us and obs-w, on one bridge");
    fabric_ = std::make_unique<test::NetworkFabric>();
    for (const char* m : {kRegionA, kRegionB}) fabric_->add(m);
    for (const char* o : kObservers) fabric_->add(std::string("obs-") + o);
  }
  if (options_.db == "postgres") {
    say("starting PostgreSQL: primary (eu) and streaming standby (us)");
    pg_ = std::make_unique<test::PostgresPair>();
    pg_->start();
    pg_->query(test::PostgresPair::Node::primary,
               "CREATE TABLE orders (id serial PRIMARY KEY, placed timestamptz DEFAULT now())");
    pg_->query(test::PostgresPair::Node::primary, "CREATE TABLE acknowledged (id bigint PRIMARY KEY)");
    pg_->query(test::PostgresPair::Node::primary, "CREATE TABLE writes (id bigint PRIMARY KEY, region text)");
    pg_->query(test::PostgresPair::Node::primary, "CREATE TABLE probe (v int)");
  } else {
    say("starting MariaDB: primary (eu) and GTID replica (us)");
    mysql_ = std::make_unique<test::MariadbPair>();
    mysql_->start();
    using Node = test::MariadbPair::Node;
    mysql_->query(Node::primary, "CREATE TABLE IF NOT EXISTS hale_test.orders (id int AUTO_INCREMENT PRIMARY KEY)");
    mysql_->query(Node::primary, "CREATE TABLE hale_test.acknowledged (id bigint PRIMARY KEY)");
    mysql_->query(Node::primary, "CREATE TABLE hale_test.writes (id bigint PRIMARY KEY, region text)");
    mysql_->query(Node::primary, "CREATE TABLE hale_test.probe (v int)");
    // The drill reads every written id back with group_concat (1 KiB by default).
    for (const Node n : {Node::primary, Node::replica}) mysql_->query(n, "SET GLOBAL group_concat_max_len = 16777216");
    // The application's account: no privilege that bypasses read_only.
    mysql_->query(Node::primary,
                  std::string("CREATE USER '") + kAppUser + "'@'%' IDENTIFIED BY '" + kAppPassword + "'");
    mysql_->query(Node::primary, std::string("GRANT SELECT, INSERT ON hale_test.* TO '") + kAppUser + "'@'%'");
    dir_.writeFile("mysql-password", std::string(test::MariadbPair::kPassword) + "\n", 0600);
  }
  if (fabric_) {
    // The regions and observers in namespaces of their own reach the databases on the host's bridge address.
    const std::string host = fabric_->hostAddress();
    const std::string cidr = host.substr(0, host.rfind('.')) + ".0/24";
    pg_->acceptClientsOn(test::PostgresPair::Node::primary, host, cidr);
    pg_->acceptClientsOn(test::PostgresPair::Node::standby, host, cidr);
  }
  say("starting BIND: app.hale.test A " + std::string(kAddressA) + " (eu), TSIG-signed updates");
  dns_ = std::make_unique<test::BindServer>();
  if (fabric_) dns_->listenAlso(fabric_->hostAddress());
  dns_->start();
  dir_.writeFile("tsig-secret", dns_->keySecret() + "\n", 0600);

  std::vector<std::string> extra_hosts;
  if (options_.isolate_one_node) {
    if (!pg_) throw std::runtime_error("isolating a node needs the PostgreSQL flavour");
    say("network namespace for us-" + std::to_string(options_.nodes_per_region) + " (its own link to the others)");
    netns_ = std::make_unique<test::NetworkNamespace>();
    pg_->acceptClientsOn(test::PostgresPair::Node::standby, netns_->hostAddress(), netns_->innerAddress() + "/32");
    extra_hosts.push_back(netns_->hostAddress());
  }
  writeScripts();
  recordDatabasePid();
  if (options_.aggregators == 1) {
    say("starting hale-aggregator (deciding alone: coordination = \"none\")");
    aggregators_.push_back(
        std::make_unique<test::AggregatorProcess>(dir_, aggregatorConfig(), "aggregator", extra_hosts));
    aggregators_.back()->start();
  } else {
    // Tuned for loopback as etcd's guide says (heartbeat about the round trip, election ten of them);
    // between real regions etcd's defaults (100 ms, 1 s) fit, and a region dying with etcd's leader then
    // takes up to about a second more to fail over.
    say("starting etcd: 3 members (m0 with eu, m1 with us, m2 with the witness), election timeout 500ms");
    etcd_ = std::make_unique<test::EtcdCluster>(3, milliseconds{500});
    if (fabric_) {
      for (int i = 0; i < 3; ++i) {
        const std::string ns = std::string("obs-") + kObservers[i];
        etcd_->place(i, fabric_->address(ns), fabric_->wrap(ns, {}));
      }
    }
    etcd_->start();
    std::string endpoints;
    for (const std::string& e : etcd_->endpoints()) endpoints += (endpoints.empty() ? "" : ", ") + quoted(e);
    // None leads before it hears the agents (an isolated observer is no candidate); then the first to
    // campaign does. When that is eu's, its death with eu is also a takeover.
    for (const char* name : kObservers) {
      say(std::string("starting hale-aggregator ") + name + " (observer of a quorum of 2 of eu, us, w)");
      const std::string etcd = "[etcd]\nendpoints = [" + endpoints + "]\ncluster = \"drill\"\nname = \"" + name +
                               "\"\nobservers = [\"eu\", \"us\", \"w\"]\n";
      const std::string ns = std::string("obs-") + name;
      aggregators_.push_back(std::make_unique<test::AggregatorProcess>(
          dir_, etcd + aggregatorConfig(), std::string("aggregator-") + name,
          fabric_ ? std::vector<std::string>{fabric_->address(ns)} : extra_hosts, "coordination = \"etcd\"\n",
          fabric_ ? fabric_->wrap(ns, {}) : std::vector<std::string>{}));
      aggregators_.back()->start();
    }
  }
  for (const char* region : {kRegionA, kRegionB}) {
    say("starting " + std::to_string(options_.nodes_per_region) + " hale-agents in region " + region +
        " (heartbeat every " + ms(options_.heartbeat) + ")");
    startAgents(region);
  }
  if (!waitFor([&] { return settled(); }, milliseconds{20000}, milliseconds{100})) {
    throw std::runtime_error("the regions did not come up:\n" + aggregator().halectl({"regions"}).output +
                             aggregator().log());
  }
  followLeader();
  commitReplicatedRows(kRegionA, 3);
  say(aggregators_.size() > 1 ? "both regions up by quorum; eu is active; " + aggregator().name() + " leads"
                              : "both regions up; eu is active");
}

int64_t Deployment::killRegionA() {
  const int64_t at = hale::toUnixMillis(hale::SystemClock::instance().wallNow());
  for (auto& a : agents_a_) a->signal(SIGKILL);
  if (pg_) {
    pg_->kill(test::PostgresPair::Node::primary);
  } else {
    mysql_->kill(test::MariadbPair::Node::primary);
  }
  for (auto& a : agents_a_) a->kill();  // reaped
  if (aggregators_.size() > 1) {
    aggregators_.front()->kill();  // eu's observer, and eu's etcd member, die with it
    etcd_->kill(0);
  }
  return at;
}

int64_t Deployment::killAgents(const std::string& region, int count) {
  const int64_t at = hale::toUnixMillis(hale::SystemClock::instance().wallNow());
  auto& list = agents(region);
  for (int i = 0; i < count && i < static_cast<int>(list.size()); ++i) list[list.size() - 1 - i]->kill();
  return at;
}

void Deployment::restoreRegionA(const std::function<void(const std::string&)>& say) {
  if (pg_) {
    say("rebuilding eu's database as a standby of us (pg_basebackup)");
    pg_->rebuildAsStandby(test::PostgresPair::Node::primary);
  } else {
    say("restarting eu's database read-only as a GTID replica of us");
    mysql_->rejoinAsReplica(test::MariadbPair::Node::primary);
  }
  recordDatabasePid();
  if (aggregators_.size() > 1) {
    say("restarting eu's etcd member and eu's aggregator");
    etcd_->restart(0);
    aggregators_.front()->start();
  }
  say("restarting eu's agents");
  startAgents(kRegionA);
  if (!waitFor([&] { return settled(); }, milliseconds{20000}, milliseconds{100}))
    throw std::runtime_error("region eu did not come back up:\n" + aggregator().halectl({"regions"}).output);
  followLeader();
  commitReplicatedRows(kRegionB, 3);
  say("region eu up again");
}

std::vector<std::string> Deployment::dnsAnswer() const { return dns_->lookup("app." + dns_->zone()); }

const char* toString(WriteProbe::Outcome o) {
  switch (o) {
    case WriteProbe::Outcome::writable: return "writable";
    case WriteProbe::Outcome::read_only: return "refuses writes";
    case WriteProbe::Outcome::down: return "down";
    case WriteProbe::Outcome::unknown: return "unknown";
  }
  return "unknown";
}

WriteProbe Deployment::probeWrite(const std::string& region) {
  const bool a = region == kRegionA;
  const pid_t pid = pg_ ? pg_->pid(a ? test::PostgresPair::Node::primary : test::PostgresPair::Node::standby)
                        : mysql_->pid(a ? test::MariadbPair::Node::primary : test::MariadbPair::Node::replica);
  try {
    if (pg_) {
      pg_->query(a ? test::PostgresPair::Node::primary : test::PostgresPair::Node::standby,
                 "INSERT INTO orders DEFAULT VALUES");
    } else {
      mysql_->queryAs(a ? test::MariadbPair::Node::primary : test::MariadbPair::Node::replica, kAppUser, kAppPassword,
                      "INSERT INTO hale_test.orders VALUES ()");
    }
    return {WriteProbe::Outcome::writable, "a row was committed"};
  } catch (const std::exception& e) {
    // The server's message without the harness's prefix (statement, "ERROR:") and trailing newline.
    std::string what = e.what();
    if (const size_t at = what.find("ERROR:"); at != std::string::npos) what.erase(0, at + 6);
    what.erase(0, what.find_first_not_of(' '));
    what.erase(what.find_last_not_of("\n ") + 1);
    // The servers' own refusals: PostgreSQL's read-only transaction (a standby or a fenced primary),
    // MariaDB's ER_OPTION_PREVENTS_STATEMENT for read_only.
    for (const char* refusal : {"read-only transaction", "--read-only option"}) {
      if (what.find(refusal) != std::string::npos) return {WriteProbe::Outcome::read_only, what};
    }
    // Gone for good: no process (or a zombie) behind the pid the harness started.
    if (pid <= 0 || (::kill(pid, 0) != 0 && errno == ESRCH)) return {WriteProbe::Outcome::down, "no server process"};
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("State:", 0) == 0 && line.find('Z') != std::string::npos)
        return {WriteProbe::Outcome::down, "server process exited"};
    }
    return {WriteProbe::Outcome::unknown, "could not ask: " + what};
  }
}

std::set<int64_t> Deployment::idsIn(const std::string& region, const std::string& table) {
  const bool a = region == kRegionA;
  std::string ids;
  if (pg_) {
    ids = pg_->query(a ? test::PostgresPair::Node::primary : test::PostgresPair::Node::standby,
                     "SELECT coalesce(string_agg(id::text, ','), '') FROM " + table);
  } else {
    // group_concat is cut at group_concat_max_len, which start() raised.
    ids = mysql_->query(a ? test::MariadbPair::Node::primary : test::MariadbPair::Node::replica,
                        "SELECT group_concat(id) FROM hale_test." + table);
    if (ids == "NULL") ids.clear();
  }
  std::set<int64_t> out;
  std::stringstream in(ids);
  for (std::string id; std::getline(in, id, ',');) out.insert(std::stoll(id));
  return out;
}

std::vector<int64_t> Deployment::missingRows(const std::string& region) {
  const std::set<int64_t> held = idsIn(region, "acknowledged");
  std::vector<int64_t> missing;
  for (int64_t id : committed_) {
    if (held.count(id) == 0) missing.push_back(id);
  }
  return missing;
}

void Deployment::commitReplicatedRows(const std::string& region, int n) {
  const bool a = region == kRegionA;
  for (int i = 0; i < n; ++i) {
    const int64_t id = static_cast<int64_t>(committed_.size()) + 1;
    const std::string sql =
        std::string("INSERT INTO ") + (pg_ ? "" : "hale_test.") + "acknowledged VALUES (" + std::to_string(id) + ")";
    if (pg_) {
      pg_->query(a ? test::PostgresPair::Node::primary : test::PostgresPair::Node::standby, sql);
    } else {
      mysql_->queryAs(a ? test::MariadbPair::Node::primary : test::MariadbPair::Node::replica, kAppUser, kAppPassword,
                      sql);
    }
    committed_.push_back(id);
  }
  const std::string other = a ? kRegionB : kRegionA;
  if (!waitFor([&] { return missingRows(other).empty(); }, milliseconds{10000}, milliseconds{50})) {
    std::string why;
    if (mysql_) {
      const auto n = a ? test::MariadbPair::Node::replica : test::MariadbPair::Node::primary;
      for (const char* column : {"Slave_IO_Running", "Slave_SQL_Running", "Last_IO_Error", "Last_SQL_Error"})
        why += std::string("; ") + column + ": " + mysql_->queryColumn(n, "SHOW SLAVE STATUS", column);
      why += "; " + std::to_string(missingRows(other).size()) + " of " + std::to_string(committed_.size()) +
             " committed rows missing in " + other;
    }
    throw std::runtime_error("rows committed on " + region + " did not reach " + other + " within 10 s" + why);
  }
}

namespace {

// How a failed call reads: the server's refusal (read-only; nothing listening) or no answer at all.
SqlSession::Answer classify(const std::string& error) {
  for (const char* refusal : {"read-only", "Connection refused", "(111)"}) {
    if (error.find(refusal) != std::string::npos) return SqlSession::Answer::refused;
  }
  return SqlSession::Answer::no_answer;
}

// PostgreSQL through hale's libpq wrapper, every call bounded by 300 ms (a frozen server accepts the TCP
// connection and says nothing); reconnects after any failure (a fence ends sessions).
class PgSession : public SqlSession {
 public:
  explicit PgSession(std::string conninfo) : conninfo_(std::move(conninfo)) {}
  Answer run(const std::vector<std::string>& statements) override {
    const PgDeadline d{SystemClock::instance().steadyNow() + milliseconds{300}, &never_, &SystemClock::instance()};
    if (!conn_) {
      auto c = PgConnection::connect(conninfo_, "", d, "drill-client");
      if (!c) return classify(c.error().message);
      conn_ = std::make_unique<PgConnection>(std::move(c).value());
    }
    std::string sql;
    for (const std::string& s : statements) sql += s + ";";
    auto r = conn_->query(sql, d);
    if (r) return Answer::ok;
    conn_.reset();
    return classify(r.error().message);
  }

 private:
  std::string conninfo_;
  std::unique_ptr<PgConnection> conn_;
  std::atomic<bool> never_{false};
};

// Does anything listen on 127.0.0.1:`port`? True only on the kernel's refusal (RST), within 300 ms.
bool nothingListens(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int err = ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0 ? 0 : errno;
  if (err == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    err = ETIMEDOUT;
    if (::poll(&p, 1, 300) == 1) {
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    }
  }
  ::close(fd);
  return err == ECONNREFUSED;
}

// MariaDB as the application account, over TCP; Connector/C bounds in whole seconds (1 s here), and
// reports a refused connection as errno 115 (its non-blocking connect's), so refusal is asked of the
// kernel first.
class MysqlSession : public SqlSession {
 public:
  explicit MysqlSession(MysqlTarget target) : target_(std::move(target)) {}
  Answer run(const std::vector<std::string>& statements) override {
    if (!conn_) {
      if (nothingListens(target_.port)) return Answer::refused;
      auto c = MysqlConnection::connect(target_, milliseconds{1000});
      if (!c) return classify(c.error().message);
      if (auto use = c.value().query("USE hale_test"); !use) return classify(use.error().message);
      conn_ = std::make_unique<MysqlConnection>(std::move(c).value());
    }
    for (const std::string& s : statements) {
      if (auto r = conn_->query(s); !r) {
        conn_.reset();
        return classify(r.error().message);
      }
    }
    return Answer::ok;
  }

 private:
  MysqlTarget target_;
  std::unique_ptr<MysqlConnection> conn_;
};

}  // namespace

std::unique_ptr<SqlSession> Deployment::openSession(const std::string& region) const {
  const bool a = region == kRegionA;
  if (pg_)
    return std::make_unique<PgSession>(
        pg_->conninfo(a ? test::PostgresPair::Node::primary : test::PostgresPair::Node::standby));
  MysqlTarget t;
  t.port = mysql_->port(a ? test::MariadbPair::Node::primary : test::MariadbPair::Node::replica);
  t.user = kAppUser;
  t.password = kAppPassword;
  return std::make_unique<MysqlSession>(t);
}

std::set<int64_t> Deployment::writtenIds(const std::string& region) { return idsIn(region, "writes"); }

void Deployment::pauseReplay(const std::string& region) {
  const bool a = region == kRegionA;
  if (pg_) {
    pg_->query(a ? test::PostgresPair::Node::primary : test::PostgresPair::Node::standby,
               "SELECT pg_wal_replay_pause()");
  } else {
    // Applied an hour late: the SQL thread runs (the replica looks healthy) and holds every event back.
    const auto n = a ? test::MariadbPair::Node::primary : test::MariadbPair::Node::replica;
    mysql_->query(n, "STOP SLAVE");
    mysql_->query(n, "CHANGE MASTER TO MASTER_DELAY = 3600");
    mysql_->query(n, "START SLAVE");
  }
}

std::string Deployment::pgConninfo(bool primary) const {
  std::string c = pg_->conninfo(primary ? test::PostgresPair::Node::primary : test::PostgresPair::Node::standby);
  if (fabric_) c.replace(c.find("127.0.0.1"), 9, fabric_->hostAddress());
  return c;
}

void Deployment::partitionRegionA() {
  if (!fabric_) throw std::runtime_error("partitionRegionA needs a partitionable deployment");
  for (const std::string a : {"eu", "obs-eu"}) {
    for (const std::string b : {"us", "obs-us", "obs-w"}) fabric_->cut(a, b);
  }
}

void Deployment::healRegionA() {
  for (const std::string a : {"eu", "obs-eu"}) {
    for (const std::string b : {"us", "obs-us", "obs-w"}) fabric_->heal(a, b);
  }
}

int64_t Deployment::leaseAgentEvent(const std::string& region, const std::string& event) const {
  std::ifstream in(dir_.path() + "/" + region + "-agent-journal.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto e = nlohmann::json::parse(line, nullptr, false);
    if (e.is_object() && e.value("event", "") == event) return e.value("ts_ms", int64_t{0});
  }
  return 0;
}

std::string Deployment::leaseHolder() const {
  if (!etcd_) throw std::runtime_error("leaseHolder needs etcd");
  etcd::Options o;
  o.endpoints = etcd_->endpoints();
  etcd::Client store(o);
  auto kvs = store.range(dblease::keysFor("drill", "main").lease);
  if (!kvs) throw std::runtime_error("etcd: " + kvs.error().message);
  if (kvs.value().empty()) return "";
  auto lease = dblease::decodeLease(kvs.value()[0].value);
  return lease ? lease.value().node : "(unreadable)";
}

void Deployment::networkHiccup(std::chrono::milliseconds how_long) {
  if (!netns_) throw std::runtime_error("networkHiccup needs isolate_one_node");
  netns_->linkDown();
  std::this_thread::sleep_for(how_long);
  netns_->linkUp();
}

void Deployment::freezeDatabase(const std::string& region) { signalDatabase(region, true); }
void Deployment::thawDatabase(const std::string& region) { signalDatabase(region, false); }

void Deployment::signalDatabase(const std::string& region, bool freeze) {
  if (pg_) {
    const auto n = region == kRegionA ? test::PostgresPair::Node::primary : test::PostgresPair::Node::standby;
    freeze ? pg_->freeze(n) : pg_->thaw(n);
  } else {
    const auto n = region == kRegionA ? test::MariadbPair::Node::primary : test::MariadbPair::Node::replica;
    freeze ? mysql_->freeze(n) : mysql_->thaw(n);
  }
}

std::vector<int64_t> Deployment::fencedAtMs() const {
  std::vector<int64_t> at;
  for (const std::string& line : fencings()) {
    const size_t space = line.rfind(' ');
    int64_t ms = 0;
    const char* end = line.data() + line.size();
    const auto parsed = space == std::string::npos ? std::from_chars_result{end, std::errc::invalid_argument}
                                                   : std::from_chars(line.data() + space + 1, end, ms);
    if (space + 1 >= line.size() || parsed.ec != std::errc{} || parsed.ptr != end || ms <= 0) {
      throw std::runtime_error("fence.log: no time at the end of \"" + line + "\"");
    }
    at.push_back(ms);
  }
  return at;
}

std::vector<std::string> Deployment::lines(const std::string& file) const {
  std::ifstream in(dir_.path() + "/" + file);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string Deployment::describeFiles() const {
  std::string journals;
  for (const auto& a : aggregators_) {
    journals += "  journal      " + a->journalPath() + "  (SQLite; with --keep, read it live: halectl --socket " +
                a->socket() + " journal)\n";
  }
  return journals + "  logs         " + dir_.path() + "/*.log\n  configs      " + dir_.path() + "/*.toml\n";
}

}  // namespace hale::drill
