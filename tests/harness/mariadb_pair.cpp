#include "mariadb_pair.h"

#include <mysql.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <thread>

#include "ports.h"

namespace hale::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct Connection {
  MYSQL* handle = mysql_init(nullptr);
  ~Connection() { mysql_close(handle); }
};

}  // namespace

struct MariadbPair::Server {
  std::string name;
  int server_id = 0;
  bool read_only = false;
  std::string base;
  std::string defaults_file;
  std::string socket;
  uint16_t port = 0;
  std::unique_ptr<ChildProcess> process;
};

MariadbPair::MariadbPair()
    : dir_("mariadb", "mysql"), primary_(std::make_unique<Server>()), replica_(std::make_unique<Server>()) {
  primary_->name = "primary";
  primary_->server_id = 1;
  replica_->name = "replica";
  replica_->server_id = 2;
  replica_->read_only = true;
}

MariadbPair::~MariadbPair() {
  for (Server* s : {replica_.get(), primary_.get()}) {
    if (s->process) s->process->stop(SIGKILL, seconds{5});  // test data is thrown away: no clean shutdown needed
  }
}

MariadbPair::Server& MariadbPair::server(Node n) const { return n == Node::primary ? *primary_ : *replica_; }
uint16_t MariadbPair::port(Node n) const { return server(n).port; }
const std::string& MariadbPair::socketPath(Node n) const { return server(n).socket; }

std::string MariadbPair::queryColumn(Node n, const std::string& sql, const std::string& column) const {
  return run(n, "root", "", true, sql, column);
}

std::string MariadbPair::queryAs(Node n, const std::string& user, const std::string& password,
                                 const std::string& sql) const {
  return run(n, user, password, false, sql, "");
}

std::string MariadbPair::run(Node n, const std::string& user, const std::string& password, bool over_socket,
                             const std::string& sql, const std::string& column) const {
  const Server& s = server(n);
  std::optional<Connection> c;
  // A connection being set up when an agent fences the server (it ends every client session) is lost
  // before any SQL ran: that is the fence at work, not an answer, so the connection is made again.
  for (int attempt = 1;; ++attempt) {
    c.emplace();
    unsigned timeout = 5;
    mysql_options(c->handle, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(c->handle, MYSQL_OPT_READ_TIMEOUT, &timeout);
    mysql_options(c->handle, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
    MYSQL* const connected = over_socket ? mysql_real_connect(c->handle, "localhost", user.c_str(), password.c_str(),
                                                              nullptr, 0, s.socket.c_str(), 0)
                                         : mysql_real_connect(c->handle, "127.0.0.1", user.c_str(), password.c_str(),
                                                              nullptr, s.port, nullptr, 0);
    if (connected != nullptr) break;
    const unsigned err = mysql_errno(c->handle);
    if (attempt < 3 && (err == 2013 || err == 2006)) {  // CR_SERVER_LOST, CR_SERVER_GONE_ERROR
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
      continue;
    }
    throw std::runtime_error("connect to MariaDB " + s.name + ": " + mysql_error(c->handle));
  }
  Connection& conn = *c;
  if (mysql_query(conn.handle, sql.c_str()) != 0) {
    throw std::runtime_error("MariaDB " + s.name + ": " + sql + ": " + mysql_error(conn.handle));
  }
  MYSQL_RES* res = mysql_store_result(conn.handle);
  if (res == nullptr) return "";
  std::string value;
  const unsigned fields = mysql_num_fields(res);
  MYSQL_FIELD* field_info = mysql_fetch_fields(res);
  if (MYSQL_ROW row = mysql_fetch_row(res)) {
    for (unsigned i = 0; i < fields; ++i) {
      if (column.empty() ? i == 0 : column == field_info[i].name) {
        value = row[i] != nullptr ? row[i] : "NULL";
        break;
      }
    }
  }
  mysql_free_result(res);
  return value;
}

std::string MariadbPair::query(Node n, const std::string& sql) const { return queryColumn(n, sql, ""); }

void MariadbPair::install(Server& s) {
  s.base = dir_.makeSubdir(s.name);
  dir_.makeSubdir(s.name + "/data");
  s.socket = s.base + "/mysqld.sock";
  // Server options only under [mariadbd]: server options under [client] break the client library.
  s.defaults_file = dir_.writeFile(s.name + ".cnf",
                                   "[mariadbd]\n"
                                   "user=mysql\n"
                                   "datadir=" +
                                       s.base +
                                       "/data\n"
                                       "socket=" +
                                       s.socket +
                                       "\n"
                                       "pid-file=" +
                                       s.base +
                                       "/mysqld.pid\n"
                                       "port=" +
                                       std::to_string(s.port) +
                                       "\n"
                                       "bind-address=127.0.0.1\n"
                                       "server-id=" +
                                       std::to_string(s.server_id) +
                                       "\n"
                                       "log-bin=" +
                                       s.base +
                                       "/binlog\n"
                                       "log-slave-updates=ON\n"
                                       "binlog-format=ROW\n"
                                       "read-only=" +
                                       (s.read_only ? "ON" : "OFF") +
                                       "\n"
                                       "skip-name-resolve\n"
                                       "innodb-buffer-pool-size=32M\n"
                                       "innodb-log-file-size=16M\n"
                                       // Written (not synced) at each commit: a killed server
                                       // keeps acknowledged writes, the drills count lost ones.
                                       "innodb-flush-log-at-trx-commit=2\n"
                                       "sync-binlog=0\n"
                                       "performance-schema=OFF\n"
                                       "log-error=" +
                                       s.base + "/error.log\n");
  // Twice at most: the bootstrap server has been seen to die once under the suite's full load ("cat: write
  // error: Broken pipe"), on an empty data directory that a second run fills fine.
  std::string failures;
  for (int attempt = 1; attempt <= 2; ++attempt) {
    const CommandResult r =
        runCommand(SpawnOptions{.argv = {"mariadb-install-db", "--defaults-file=" + s.defaults_file,
                                         "--auth-root-authentication-method=normal", "--skip-test-db"}},
                   seconds{120});
    if (r.exit_code == 0) return;
    std::ifstream log(s.base + "/error.log");
    const std::string error_log((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    failures += "attempt " + std::to_string(attempt) + ":\n" + r.output + "\nerror.log:\n" +
                error_log.substr(error_log.size() > 3000 ? error_log.size() - 3000 : 0) + "\n";
    std::filesystem::remove_all(s.base + "/data");
    dir_.makeSubdir(s.name + "/data");
  }
  throw std::runtime_error("mariadb-install-db (" + s.name + ") failed twice:\n" + failures);
}

void MariadbPair::launch(Server& s) {
  // Started as mysql directly (not as root dropping privileges), so the death signal survives.
  s.process = std::make_unique<ChildProcess>(SpawnOptions{
      .argv = {"/usr/sbin/mariadbd", "--defaults-file=" + s.defaults_file},
      .run_as = "mysql",
      .log_path = s.base + "/stdout.log",
  });
}

void MariadbPair::waitReady(Server& s) {
  const Node n = &s == primary_.get() ? Node::primary : Node::replica;
  const bool ready = waitFor(
      [&] {
        if (!s.process->running()) return true;
        try {
          return query(n, "SELECT 1") == "1";
        } catch (const std::runtime_error&) {
          return false;
        }
      },
      seconds{60}, milliseconds{25});
  if (!ready || !s.process->running()) {
    ChildProcess& p = *s.process;
    throw std::runtime_error("MariaDB " + s.name + " did not start:\n" + p.logTail() + "\n(error log: " + s.base +
                             "/error.log)");
  }
}

void MariadbPair::start() {
  for (Server* s : {primary_.get(), replica_.get()}) {
    s->port = freeLoopbackPort();
    install(*s);
    launch(*s);
    waitReady(*s);
  }
  const std::string user = std::string("'") + kUser + "'@'%'";
  query(Node::primary, "CREATE USER 'repl'@'%' IDENTIFIED BY 'repl-pw'");
  query(Node::primary, "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%'");
  query(Node::primary, "CREATE USER " + user + " IDENTIFIED BY '" + kPassword + "'");
  query(Node::primary, "GRANT ALL PRIVILEGES ON *.* TO " + user + " WITH GRANT OPTION");
  query(Node::primary, "CREATE DATABASE hale_test");
  query(Node::replica, "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=" + std::to_string(primary_->port) +
                           ", MASTER_USER='repl', MASTER_PASSWORD='repl-pw', MASTER_USE_GTID=slave_pos, "
                           "MASTER_CONNECT_RETRY=1");
  query(Node::replica, "START SLAVE");
  // Verified end to end: the replica's threads run and the primary's last GTID has been applied.
  const std::string gtid = query(Node::primary, "SELECT @@gtid_binlog_pos");
  const std::string waited = query(Node::replica, "SELECT MASTER_GTID_WAIT('" + gtid + "', 30)");
  if (waited != "0" || queryColumn(Node::replica, "SHOW SLAVE STATUS", "Slave_IO_Running") != "Yes" ||
      queryColumn(Node::replica, "SHOW SLAVE STATUS", "Slave_SQL_Running") != "Yes") {
    throw std::runtime_error(
        "MariaDB replica is not replicating: " + queryColumn(Node::replica, "SHOW SLAVE STATUS", "Last_Error") + " " +
        queryColumn(Node::replica, "SHOW SLAVE STATUS", "Last_IO_Error"));
  }
}

void MariadbPair::stop(Node n) {
  Server& s = server(n);
  if (s.process) s.process->stop(SIGTERM, seconds{20});
}

void MariadbPair::restart(Node n) {
  Server& s = server(n);
  stop(n);
  launch(s);
  waitReady(s);
}

void MariadbPair::kill(Node n) {
  Server& s = server(n);
  if (s.process) s.process->stop(SIGKILL, seconds{5});
}

void MariadbPair::rejoinAsReplica(Node n) {
  Server& s = server(n);
  const Node source = n == Node::primary ? Node::replica : Node::primary;
  if (s.process && s.process->running()) stop(n);
  launch(s);
  waitReady(s);
  query(n, "SET GLOBAL read_only = ON");
  // Its own history is where replication resumes: the other node has it too (log-slave-updates).
  query(n, "SET GLOBAL gtid_slave_pos = @@gtid_binlog_pos");
  query(n, "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=" + std::to_string(server(source).port) +
               ", MASTER_USER='repl', MASTER_PASSWORD='repl-pw', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1");
  query(n, "START SLAVE");
  const std::string gtid = query(source, "SELECT @@gtid_binlog_pos");
  if (query(n, "SELECT MASTER_GTID_WAIT('" + gtid + "', 30)") != "0") {
    throw std::runtime_error("MariaDB " + s.name +
                             " did not catch up: " + queryColumn(n, "SHOW SLAVE STATUS", "Last_IO_Error") + " " +
                             queryColumn(n, "SHOW SLAVE STATUS", "Last_SQL_Error"));
  }
}

void MariadbPair::freeze(Node n) { server(n).process->freeze(); }
void MariadbPair::thaw(Node n) { server(n).process->thaw(); }
bool MariadbPair::running(Node n) { return server(n).process && server(n).process->running(); }

pid_t MariadbPair::pid(Node n) const { return server(n).process ? server(n).process->pid() : -1; }

}  // namespace hale::test
