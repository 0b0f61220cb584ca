#pragma once

// A MySQL / MariaDB connection (MariaDB Connector/C) with connect, read and write timeouts, for the
// agent's mysql check and the aggregator's promotion action. Connector/C counts whole seconds: callers
// that need sub-second bounds rely on their own watchdog.

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "result.h"

struct st_mysql;

namespace hale {

struct MysqlTarget {
  std::string host = "127.0.0.1";
  uint16_t port = 3306;
  std::string socket;  // used instead of host/port when set
  std::string user;
  std::string password;
};

// Loads Connector/C now (driver_library.h), so a check or action configured for MySQL reports a missing
// package when it is built, not at its first probe. connect() loads it too.
Result<void> requireMysqlDriver();

// Connector/C keeps state per thread: a thread that talks to MySQL holds one of these around its work.
class MysqlThreadScope {
 public:
  MysqlThreadScope();
  ~MysqlThreadScope();
  MysqlThreadScope(const MysqlThreadScope&) = delete;
  MysqlThreadScope& operator=(const MysqlThreadScope&) = delete;

 private:
  bool attached_;
};

using MysqlRow = std::map<std::string, std::string>;  // column -> value, "NULL" for NULL

class MysqlConnection {
 public:
  // Error code "connect" with the server's message.
  static Result<MysqlConnection> connect(const MysqlTarget& target, std::chrono::milliseconds timeout);
  MysqlConnection(MysqlConnection&& o) noexcept : m_(o.m_) { o.m_ = nullptr; }
  MysqlConnection& operator=(MysqlConnection&&) = delete;
  MysqlConnection(const MysqlConnection&) = delete;
  MysqlConnection& operator=(const MysqlConnection&) = delete;
  ~MysqlConnection();

  // All rows of `sql`. Error code "query"; errorNumber() tells which error.
  Result<std::vector<MysqlRow>> query(const std::string& sql);
  unsigned errorNumber() const;
  // Whether this connection can take another query: the last error (if any) was the server refusing a
  // statement, not a lost or timed-out connection, and the server has not closed it while it was idle (a
  // restart, wait_timeout, KILL: an idle client is sent nothing else). Never blocks. For callers that keep
  // a connection; the read and write time-outs stay those given to connect().
  bool reusable() const;

 private:
  explicit MysqlConnection(st_mysql* m) : m_(m) {}
  st_mysql* m_;
};

// The replication status: SHOW REPLICA STATUS where the server knows it (MariaDB 10.5+, MySQL 8.0.22+),
// else SHOW SLAVE STATUS. No row: replication is not configured.
Result<std::vector<MysqlRow>> replicationStatus(MysqlConnection& c);
// A column under its old (Slave_*, *_Master) or new (Replica_*, *_Source) name.
std::string replicationColumn(const MysqlRow& row, const char* old_name, const char* new_name);

}  // namespace hale
