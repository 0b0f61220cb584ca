// mysql: MySQL or MariaDB (MariaDB Connector/C): connect, read read_only and the replication status.
//   host = "127.0.0.1"   port = 3306   (or socket = "/run/mysqld/mysqld.sock")
//   user = "hale"        password_file = "/etc/hale/secrets/mysql"   (optional)
//   expected_role = "primary" | "standby" | "any"   (default any)
//   max_lag = "10s"                                  (optional; standby only)
// A server with replication configured is a standby, otherwise a primary. A primary with read_only on,
// a standby whose replication threads stopped, or lag over the limit fail definitively; connection
// problems are transient errors.
//   session_lifetime = "10s"   (default; 0s, or no longer than interval: a session per probe)
// One session is kept across probes and replaced as kept_session.h says; its read time-out is the
// check's time-out, in whole seconds.

#include <cstdlib>

#include "check_util.h"
#include "factories.h"
#include "fencer.h"
#include "kept_session.h"
#include "mysql_client.h"
#include "secret_file.h"

namespace hale::agent {
namespace {

class MysqlCheck final : public Check {
 public:
  struct Options {
    MysqlTarget target;
    std::string expected_role = "any";
    std::chrono::milliseconds max_lag{0};
    std::chrono::milliseconds session_lifetime = kDefaultSessionLifetime;
    std::chrono::milliseconds interval{5000};  // the check's
  };
  explicit MysqlCheck(Options o) : o_(std::move(o)), session_(o_.session_lifetime, o_.interval) {}

  CheckResult run(const CheckContext& ctx) noexcept override {
    const MysqlThreadScope thread_state;  // each check thread needs the library's per-thread state
    CheckResult r;
    try {
      r = probe(ctx);
      if (r.outcome == Outcome::error) r.role = DbRole::none;
    } catch (const std::exception& e) {
      r = {Outcome::error, e.what()};
    }
    session_.probeEnded();
    return r;
  }

  std::unique_ptr<Fencer> makeFencer() const override { return makeMysqlFencer(o_.target); }

 private:
  CheckResult probe(const CheckContext& ctx) {
    auto conn =
        session_.acquire(ctx.clock->steadyNow(), [&] { return MysqlConnection::connect(o_.target, ctx.remaining()); });
    if (!conn) return {Outcome::error, conn.error().message};
    // A failed query that left the session unusable is replaced by the next probe (reusable()).
    MysqlConnection& c = *conn.value();
    auto ro = c.query("SELECT @@global.read_only AS ro");
    if (!ro || ro.value().empty()) return {Outcome::error, ro ? "no answer to SELECT @@read_only" : ro.error().message};
    const bool read_only = ro.value()[0]["ro"] == "1";
    // Connector/C bounds each statement by whole seconds only: no second statement past the deadline.
    if (ctx.expired()) return {Outcome::error, "no answer within the timeout"};
    auto status = replicationStatus(c);
    if (!status) return {Outcome::error, status.error().message};
    const bool standby = !status.value().empty();
    const std::string role = standby ? "standby" : "primary";
    CheckResult r = judge(status.value(), standby, role, read_only);
    r.role = standby ? DbRole::standby : read_only ? DbRole::read_only_primary : DbRole::writable_primary;
    return r;
  }

  CheckResult judge(const std::vector<MysqlRow>& status, bool standby, const std::string& role, bool read_only) const {
    if (o_.expected_role != "any" && o_.expected_role != role) {
      return {Outcome::fail, "role is " + role + ", expected " + o_.expected_role};
    }
    if (!standby) {
      if (read_only && o_.expected_role == "primary") return {Outcome::fail, "primary has read_only on"};
      return {Outcome::pass, read_only ? "primary (read_only on)" : "primary"};
    }
    const MysqlRow& repl = status[0];
    const std::string io = replicationColumn(repl, "Slave_IO_Running", "Replica_IO_Running");
    const std::string sql = replicationColumn(repl, "Slave_SQL_Running", "Replica_SQL_Running");
    const std::string behind = replicationColumn(repl, "Seconds_Behind_Master", "Seconds_Behind_Source");
    if (sql != "Yes") {
      const std::string err = replicationColumn(repl, "Last_SQL_Error", "Last_SQL_Error");
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
  KeptSession<MysqlConnection> session_;  // run() is called from one thread at a time
};

}  // namespace

std::unique_ptr<Check> makeMysqlCheck(ConfigTable& t, const CheckSettings& settings) {
  MysqlCheck::Options o;
  o.interval = settings.interval;
  bool ok = true;
  if (auto driver = requireMysqlDriver(); !driver) {
    t.error("type", driver.error().message);
    ok = false;
  }
  t.get("host", o.target.host);
  int64_t port = o.target.port;
  if (t.get("port", port, Presence::optional, 1, 65535)) o.target.port = static_cast<uint16_t>(port);
  t.get("socket", o.target.socket);
  ok &= t.get("user", o.target.user, Presence::required);
  std::string password_file;
  if (t.get("password_file", password_file)) {
    auto secret = readSecretFile(password_file);
    if (secret) {
      o.target.password = secret.value();
    } else {
      t.error("password_file", secret.error().message);
      ok = false;
    }
  }
  t.getEnum("expected_role", o.expected_role, {"primary", "standby", "any"});
  t.getDuration("max_lag", o.max_lag, Presence::optional, std::chrono::seconds{1}, std::chrono::hours{24});
  t.getDuration("session_lifetime", o.session_lifetime, Presence::optional, std::chrono::milliseconds{0},
                std::chrono::hours{1});
  if (!ok) return nullptr;
  return std::make_unique<MysqlCheck>(std::move(o));
}

}  // namespace hale::agent
