#include "postgres_pair.h"

#include <libpq-fe.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "ports.h"

namespace hale::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The newest installed major version's binaries (Debian keeps them off PATH).
std::string findPostgresBinDir() {
  std::string best;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string bin = entry.path().string() + "/bin";
    if (std::filesystem::exists(bin + "/postgres") && bin > best) best = bin;
  }
  if (best.empty()) throw std::runtime_error("PostgreSQL server binaries not found under /usr/lib/postgresql");
  return best;
}

// Test-only settings: no durability against a machine crash (fsync off), but a commit is acknowledged only
// once its WAL is written (synchronous_commit on), so a server killed with SIGKILL keeps every acknowledged
// write, as a production server does: the drills count lost writes. Small footprint, replication enabled.
std::string serverConf(uint16_t port, const std::string& socket_dir) {
  return "\n# hale test harness\n"
         "port = " +
         std::to_string(port) +
         "\n"
         "listen_addresses = '127.0.0.1'\n"
         "unix_socket_directories = '" +
         socket_dir +
         "'\n"
         "fsync = off\nsynchronous_commit = on\nfull_page_writes = off\n"
         "wal_level = replica\nmax_wal_senders = 8\nwal_keep_size = '64MB'\nhot_standby = on\n"
         "wal_receiver_status_interval = '1s'\nhot_standby_feedback = on\n"
         "shared_buffers = '16MB'\nmax_connections = 40\n"
         "logging_collector = off\nlog_min_messages = warning\n";
}

}  // namespace

struct PostgresPair::Server {
  std::string name;
  std::string data_dir;
  uint16_t port = 0;
  std::unique_ptr<ChildProcess> process;
};

PostgresPair::PostgresPair()
    : bin_dir_(findPostgresBinDir()),
      dir_("pg", "postgres"),
      primary_(std::make_unique<Server>()),
      standby_(std::make_unique<Server>()) {
  primary_->name = "primary";
  standby_->name = "standby";
}

PostgresPair::~PostgresPair() {
  // A backend a test left stopped (a failed assertion before its thaw) would outlive the server: backends
  // lead process groups of their own, which the group's signals do not reach. Each is continued first.
  for (Node n : {Node::standby, Node::primary}) {
    try {
      signalEveryProcess(n, SIGCONT);
    } catch (const std::exception&) {  // /proc unreadable: the stop below still runs
    }
  }
  // Standby first, so the primary's shutdown does not wait on a walsender.
  for (Server* s : {standby_.get(), primary_.get()}) {
    if (s->process) s->process->stop(SIGQUIT, seconds{5});  // immediate shutdown: the data is thrown away
  }
}

PostgresPair::Server& PostgresPair::server(Node n) const { return n == Node::primary ? *primary_ : *standby_; }

uint16_t PostgresPair::port(Node n) const { return server(n).port; }

std::string PostgresPair::conninfo(Node n, const std::string& dbname) const {
  return "host=127.0.0.1 port=" + std::to_string(server(n).port) + " user=postgres dbname=" + dbname +
         " connect_timeout=2";
}

std::string PostgresPair::query(Node n, const std::string& sql) const {
  // Bounded: a frozen server accepts the TCP connection and never answers.
  PGconn* conn = PQconnectdb((conninfo(n) + " connect_timeout=5 options='-c statement_timeout=5000'").c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    const std::string err = PQerrorMessage(conn);
    PQfinish(conn);
    throw std::runtime_error("connect to " + server(n).name + ": " + err);
  }
  PGresult* res = PQexec(conn, sql.c_str());
  const ExecStatusType st = PQresultStatus(res);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
    const std::string err = PQresultErrorMessage(res);
    PQclear(res);
    PQfinish(conn);
    throw std::runtime_error(server(n).name + ": " + sql + ": " + err);
  }
  std::string value = (st == PGRES_TUPLES_OK && PQntuples(res) > 0) ? PQgetvalue(res, 0, 0) : "";
  PQclear(res);
  PQfinish(conn);
  return value;
}

void PostgresPair::launch(Server& s) {
  s.process = std::make_unique<ChildProcess>(SpawnOptions{
      .argv = {bin_dir_ + "/postgres", "-D", s.data_dir},
      .run_as = "postgres",
      .log_path = dir_.path() + "/" + s.name + ".log",
  });
}

void PostgresPair::waitReady(Server& s) {
  const bool ready = waitFor(
      [&] {
        if (!s.process->running()) return true;  // reported below
        PGconn* conn = PQconnectdb(conninfo(s.name == "primary" ? Node::primary : Node::standby).c_str());
        const bool ok = PQstatus(conn) == CONNECTION_OK;
        PQfinish(conn);
        return ok;
      },
      seconds{30}, milliseconds{25});
  if (!ready || !s.process->running()) {
    throw std::runtime_error("PostgreSQL " + s.name + " did not start:\n" + s.process->logTail());
  }
}

void PostgresPair::start() {
  const std::string sockets = dir_.makeSubdir("sockets");
  primary_->data_dir = dir_.path() + "/primary";
  standby_->data_dir = dir_.path() + "/standby";

  const CommandResult init =
      runCommand(SpawnOptions{.argv = {bin_dir_ + "/initdb", "-D", primary_->data_dir, "-A", "trust", "-U", "postgres",
                                       "-E", "UTF8", "--locale=C", "--no-sync"},
                              .run_as = "postgres"},
                 seconds{60});
  if (init.exit_code != 0) throw std::runtime_error("initdb failed:\n" + init.output);

  for (int attempt = 0;; ++attempt) {  // a port taken between pick and bind gets a second chance
    primary_->port = freeLoopbackPort();
    {
      const std::string conf = primary_->data_dir + "/postgresql.conf";
      const CommandResult r =
          runCommand(SpawnOptions{.argv = {"/bin/sh", "-c", "cat >> '" + conf + "'"}, .run_as = "postgres"}, seconds{5},
                     serverConf(primary_->port, sockets));
      if (r.exit_code != 0) throw std::runtime_error("cannot write " + conf + ": " + r.output);
    }
    launch(*primary_);
    try {
      waitReady(*primary_);
      break;
    } catch (const std::runtime_error&) {
      if (attempt >= 2) throw;
      primary_->process.reset();
    }
  }

  standby_->port = freeLoopbackPort();
  cloneFrom(*primary_, *standby_);
}

void PostgresPair::cloneFrom(Server& source, Server& target) {
  const CommandResult backup = runCommand(
      SpawnOptions{.argv = {bin_dir_ + "/pg_basebackup", "-h", "127.0.0.1", "-p", std::to_string(source.port), "-U",
                            "postgres", "-D", target.data_dir, "-R", "-X", "stream", "-c", "fast", "--no-sync"},
                   .run_as = "postgres"},
      seconds{60});
  if (backup.exit_code != 0) throw std::runtime_error("pg_basebackup failed:\n" + backup.output);
  // postgresql.auto.conf (written by -R with primary_conninfo) is read last, so its port wins.
  const CommandResult port_conf =
      runCommand(SpawnOptions{.argv = {"/bin/sh", "-c", "cat >> '" + target.data_dir + "/postgresql.auto.conf'"},
                              .run_as = "postgres"},
                 seconds{5}, "port = " + std::to_string(target.port) + "\n");
  if (port_conf.exit_code != 0) throw std::runtime_error("cannot configure the standby: " + port_conf.output);
  launch(target);
  waitReady(target);

  const Node src = &source == primary_.get() ? Node::primary : Node::standby;
  const Node dst = src == Node::primary ? Node::standby : Node::primary;
  const bool streaming = waitFor(
      [&] {
        return query(src, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == "1" &&
               query(dst, "SELECT status FROM pg_stat_wal_receiver") == "streaming";
      },
      seconds{30}, milliseconds{50});
  if (!streaming) throw std::runtime_error(target.name + " is not streaming:\n" + target.process->logTail());
}

void PostgresPair::acceptClientsOn(Node n, const std::string& address, const std::string& cidr) {
  Server& s = server(n);
  const CommandResult hba = runCommand(
      SpawnOptions{.argv = {"/bin/sh", "-c", "cat >> '" + s.data_dir + "/pg_hba.conf'"}, .run_as = "postgres"},
      seconds{5}, "host all all " + cidr + " trust\n");
  if (hba.exit_code != 0) throw std::runtime_error("cannot extend pg_hba.conf: " + hba.output);
  query(n, "ALTER SYSTEM SET listen_addresses = '127.0.0.1," + address + "'");
  restart(n);
}

void PostgresPair::rebuildAsStandby(Node n) {
  Server& target = server(n);
  Server& source = server(n == Node::primary ? Node::standby : Node::primary);
  if (target.process) target.process->stop(SIGKILL, seconds{5});
  const CommandResult wiped = runCommand(SpawnOptions{.argv = {"/bin/rm", "-rf", target.data_dir}}, seconds{30});
  if (wiped.exit_code != 0) throw std::runtime_error("cannot remove " + target.data_dir + ": " + wiped.output);
  cloneFrom(source, target);
}

void PostgresPair::stop(Node n) {
  Server& s = server(n);
  if (s.process) s.process->stop(SIGINT, seconds{10});  // fast shutdown
}

void PostgresPair::restart(Node n) {
  Server& s = server(n);
  stop(n);
  launch(s);
  waitReady(s);
}

void PostgresPair::kill(Node n) {
  Server& s = server(n);
  if (s.process) s.process->stop(SIGKILL, seconds{5});
}

void PostgresPair::freeze(Node n) { server(n).process->freeze(); }
void PostgresPair::thaw(Node n) { server(n).process->thaw(); }
void PostgresPair::freezeAll(Node n) {
  server(n).process->freeze();
  // As freeze(): a backend running on the other core could still answer right after the signal.
  const std::vector<pid_t> backends = signalEveryProcess(n, SIGSTOP);
  const auto stopped = [](pid_t p) {
    const std::string state = processState(p);
    return state.empty() || state == "T" || state == "t" || state == "Z";
  };
  if (!waitFor([&] { return std::all_of(backends.begin(), backends.end(), stopped); }, std::chrono::milliseconds{5000},
               std::chrono::milliseconds{1}))
    throw std::runtime_error("PostgresPair: a backend did not stop within 5 s of SIGSTOP");
}
void PostgresPair::thawAll(Node n) { signalEveryProcess(n, SIGCONT); }

std::vector<pid_t> PostgresPair::signalEveryProcess(Node n, int sig) {
  std::vector<pid_t> signalled;
  const pid_t postmaster = pid(n);
  if (postmaster <= 0) return signalled;
  server(n).process->signalGroup(sig);
  // Backends lead process groups of their own: each child of the postmaster is signalled by its pid.
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 1));
    std::string state;
    pid_t parent = 0;
    if (rest >> state >> parent && parent == postmaster) {
      signalled.push_back(static_cast<pid_t>(std::stol(name)));
      ::kill(signalled.back(), sig);
    }
  }
  return signalled;
}

void PostgresPair::waitForReplay() {
  const std::string lsn = query(Node::primary, "SELECT pg_current_wal_insert_lsn()");
  if (!waitFor([&] { return query(Node::standby, "SELECT pg_last_wal_replay_lsn() >= '" + lsn + "'") == "t"; },
               std::chrono::seconds{10})) {
    throw std::runtime_error("the standby did not replay the primary's WAL up to " + lsn + " within 10 s");
  }
}

void PostgresPair::cutOffReceiver() {
  query(Node::standby, "ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=1'");
  query(Node::standby, "SELECT pg_reload_conf()");
  waitUntilNotStreaming();
}

void PostgresPair::waitUntilNotStreaming() {
  if (!waitFor(
          [&] {
            return query(Node::standby, "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'") == "0";
          },
          std::chrono::seconds{10})) {
    throw std::runtime_error("the standby's WAL receiver still streams 10 s after being cut off");
  }
}

bool PostgresPair::running(Node n) { return server(n).process && server(n).process->running(); }

pid_t PostgresPair::pid(Node n) const { return server(n).process ? server(n).process->pid() : -1; }

}  // namespace hale::test
