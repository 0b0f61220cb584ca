// mysql: MySQL or MariaDB (MariaDB Connector/C): connect, read read_only and the replication status.
//   host = "127.0.0.1"   port = 3306   (or socket = "/run/mysqld/mysqld.sock")
//   user = "hale"        password_file = "/etc/hale/secrets/mysql"   (optional)
//   expected_role = "primary" | "standby" | "any"   (default any)
//   max_lag = "10s"                                  (optional; standby only)
// A server with replication configured is a standby, otherwise a primary. A primary with read_only on,
// a standby whose replication threads stopped, or lag over the limit fail definitively; connection
// problems are transient errors.

#include <mysql.h>

#include <cmath>
#include <map>

#include "check_util.h"
#include "factories.h"
#include "secret_file.h"

namespace hale::agent {
namespace {

constexpr unsigned kErrParse = 1064;  // ER_PARSE_ERROR: the server does not know SHOW REPLICA STATUS

struct Handle {
  MYSQL* m = mysql_init(nullptr);
  ~Handle() {
    if (m != nullptr) mysql_close(m);
  }
};

// The first row of `sql` as column name -> value ("NULL" for NULL); empty when no row.
bool queryRow(MYSQL* m, const char* sql, std::map<std::string, std::string>& row) {
  row.clear();
  if (mysql_query(m, sql) != 0) return false;
  MYSQL_RES* res = mysql_store_result(m);
  if (res == nullptr) return mysql_field_count(m) == 0;
  const unsigned n = mysql_num_fields(res);
  MYSQL_FIELD* fields = mysql_fetch_fields(res);
  if (MYSQL_ROW r = mysql_fetch_row(res)) {
    for (unsigned i = 0; i < n; ++i) row[fields[i].name] = r[i] != nullptr ? r[i] : "NULL";
  }
  mysql_free_result(res);
  return true;
}

// MySQL 8 renamed the columns (Replica_*, *_Source); MariaDB kept the Slave_* names.
std::string column(const std::map<std::string, std::string>& row, const char* old_name, const char* new_name) {
  if (auto it = row.find(old_name); it != row.end()) return it->second;
  if (auto it = row.find(new_name); it != row.end()) return it->second;
  return "";
}

class MysqlCheck final : public Check {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    uint16_t port = 3306;
    std::string socket;
    std::string user;
    std::string password;
    std::string expected_role = "any";
    std::chrono::milliseconds max_lag{0};
  };
  explicit MysqlCheck(Options o) : o_(std::move(o)) {}

  CheckResult run(const CheckContext& ctx) noexcept override {
    mysql_thread_init();  // each check thread needs the library's per-thread state
    CheckResult r = probe(ctx);
    mysql_thread_end();
    return r;
  }

 private:
  CheckResult probe(const CheckContext& ctx) const {
    Handle h;
    if (h.m == nullptr) return {Outcome::error, "out of memory"};
    // Connector/C counts whole seconds; the scheduler's watchdog covers the remainder.
    const unsigned secs = static_cast<unsigned>(std::max<int64_t>(1, (ctx.remaining().count() + 999) / 1000));
    mysql_options(h.m, MYSQL_OPT_CONNECT_TIMEOUT, &secs);
    mysql_options(h.m, MYSQL_OPT_READ_TIMEOUT, &secs);
    mysql_options(h.m, MYSQL_OPT_WRITE_TIMEOUT, &secs);
    const char* socket = o_.socket.empty() ? nullptr : o_.socket.c_str();
    const char* host = o_.socket.empty() ? o_.host.c_str() : "localhost";
    if (mysql_real_connect(h.m, host, o_.user.c_str(), o_.password.empty() ? nullptr : o_.password.c_str(), nullptr,
                           o_.port, socket, 0) == nullptr) {
      return {Outcome::error, firstLine(mysql_error(h.m))};
    }
    std::map<std::string, std::string> row;
    if (!queryRow(h.m, "SELECT @@global.read_only AS ro", row)) return {Outcome::error, firstLine(mysql_error(h.m))};
    const bool read_only = row["ro"] == "1";
    std::map<std::string, std::string> repl;
    if (!queryRow(h.m, "SHOW REPLICA STATUS", repl)) {
      if (mysql_errno(h.m) != kErrParse || !queryRow(h.m, "SHOW SLAVE STATUS", repl)) {
        return {Outcome::error, firstLine(mysql_error(h.m))};
      }
    }
    const bool standby = !repl.empty();
    const std::string role = standby ? "standby" : "primary";
    if (o_.expected_role != "any" && o_.expected_role != role) {
      return {Outcome::fail, "role is " + role + ", expected " + o_.expected_role};
    }
    if (!standby) {
      if (read_only && o_.expected_role == "primary") return {Outcome::fail, "primary has read_only on"};
      return {Outcome::pass, read_only ? "primary (read_only on)" : "primary"};
    }
    const std::string io = column(repl, "Slave_IO_Running", "Replica_IO_Running");
    const std::string sql = column(repl, "Slave_SQL_Running", "Replica_SQL_Running");
    const std::string behind = column(repl, "Seconds_Behind_Master", "Seconds_Behind_Source");
    if (sql != "Yes") {
      const std::string err = column(repl, "Last_SQL_Error", "Last_SQL_Error");
      return {Outcome::fail, "replication SQL thread stopped" + (err.empty() ? "" : ": " + firstLine(err, 150))};
    }
    if (behind == "NULL" || behind.empty()) {
      if (o_.max_lag.count() > 0) return {Outcome::fail, "replica lag unknown (IO thread " + io + ")"};
      return {Outcome::warn, "standby, lag unknown (IO thread " + io + ")"};
    }
    const long lag_s = std::atol(behind.c_str());
    const std::string msg = "standby, lag " + std::to_string(lag_s) + "s";
    if (o_.max_lag.count() > 0 && lag_s * 1000 > o_.max_lag.count()) {
      return {Outcome::fail, msg + " over the " + humanDuration(o_.max_lag) + " limit"};
    }
    if (io != "Yes") return {Outcome::warn, msg + ", IO thread " + io};
    return {Outcome::pass, msg};
  }

  Options o_;
};

}  // namespace

std::unique_ptr<Check> makeMysqlCheck(ConfigTable& t, const CheckSettings&) {
  MysqlCheck::Options o;
  bool ok = true;
  t.get("host", o.host);
  int64_t port = o.port;
  if (t.get("port", port, Presence::optional, 1, 65535)) o.port = static_cast<uint16_t>(port);
  t.get("socket", o.socket);
  ok &= t.get("user", o.user, Presence::required);
  std::string password_file;
  if (t.get("password_file", password_file)) {
    auto secret = readSecretFile(password_file);
    if (secret) {
      o.password = secret.value();
    } else {
      t.error("password_file", secret.error().message);
      ok = false;
    }
  }
  t.getEnum("expected_role", o.expected_role, {"primary", "standby", "any"});
  t.getDuration("max_lag", o.max_lag, Presence::optional, std::chrono::seconds{1}, std::chrono::hours{24});
  if (!ok) return nullptr;
  return std::make_unique<MysqlCheck>(std::move(o));
}

}  // namespace hale::agent
