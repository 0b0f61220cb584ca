// postgres: connect, run one query, check the role and (on a standby) the replay lag.
//   conninfo = "host=127.0.0.1 port=5432 dbname=app user=hale"   (libpq syntax; no password here)
//   password_file = "/etc/hale/secrets/pg"                         (optional)
//   expected_role = "primary" | "standby" | "any"                  (default any)
//   max_lag = "10s"                                                (optional; standby only)
// Connection problems are transient errors; a wrong role or too much lag is a definitive failure; a
// standby whose WAL receiver is not streaming is degraded (warn) while its lag bound (pg_replication.h: the
// age of its last replayed commit) is within max_lag, and failed beyond it or when unknown: the bound the
// promotion's RPO gate judges. A primary with default_transaction_read_only
// on (fenced: fencer.h) is a read-only primary, which fails expected_role = "primary".
//   session_lifetime = "10s"                                       (default; 0s, or <= interval: a session per probe)
// One session is kept across probes and replaced as kept_session.h says: so a postmaster that hangs
// while open sessions still answer fails a probe within session_lifetime plus the timeout, and the check
// once `fall` probes in a row have failed ((fall - 1) intervals later).

#include <cstdio>
#include <cstdlib>

#include "check_util.h"
#include "factories.h"
#include "fencer.h"
#include "kept_session.h"
#include "pg_client.h"
#include "pg_replication.h"
#include "secret_file.h"

namespace hale::agent {
namespace {

const std::string kQuery = std::string("SELECT pg_is_in_recovery(), ") + kPgStandbyLagSql + ", " +
                           kPgReceiverStatusSql +
                           ", current_setting('default_transaction_read_only'), "
                           "CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_flush_lsn()::text END";

class PostgresCheck final : public Check {
 public:
  PostgresCheck(std::string conninfo, std::string password, std::string expected_role,
                std::chrono::milliseconds max_lag, std::chrono::milliseconds session_lifetime,
                std::chrono::milliseconds interval)
      : conninfo_(std::move(conninfo)),
        password_(std::move(password)),
        expected_role_(std::move(expected_role)),
        max_lag_(max_lag),
        session_(session_lifetime, interval) {}

  CheckResult run(const CheckContext& ctx) noexcept override {
    CheckResult r;
    try {
      r = probe(ctx);
    } catch (const std::exception& e) {
      r = {Outcome::error, e.what()};
    }
    session_.probeEnded();
    return r;
  }

  std::unique_ptr<Fencer> makeFencer() const override { return makePostgresFencer(conninfo_, password_); }

 private:
  CheckResult probe(const CheckContext& ctx) {
    const PgDeadline d{ctx.deadline, ctx.stopping, ctx.clock};
    auto conn = session_.acquire(ctx.clock->steadyNow(),
                                 [&] { return PgConnection::connect(conninfo_, password_, d, "hale-agent"); });
    if (!conn) return {Outcome::error, conn.error().message};
    // A failure leaves the session mid-query or broken: the next probe replaces it (reusable()).
    auto rows = conn.value()->query(kQuery, d);
    if (!rows) return {Outcome::error, rows.error().message};
    return evaluate(rows.value());
  }

  CheckResult evaluate(const PgRows& rows) const {
    if (rows.values.size() != 1 || rows.values[0].size() != 5) return {Outcome::error, "unexpected answer"};
    const auto& row = rows.values[0];
    const bool standby = row[0] == "t";
    const std::string role = standby ? "standby" : "primary";
    const bool read_only = row[3] == "on";
    const DbRole db_role = standby ? DbRole::standby : read_only ? DbRole::read_only_primary : DbRole::writable_primary;
    CheckResult r = judge(rows, standby, role);
    r.role = db_role;
    if (!rows.null[0][4]) r.position = row[4];
    if (!standby && read_only && r.outcome == Outcome::pass) {
      r = {expected_role_ == "primary" ? Outcome::fail : Outcome::pass,
           "primary, read-only (default_transaction_read_only on)", db_role};
    }
    return r;
  }

  CheckResult judge(const PgRows& rows, bool standby, const std::string& role) const {
    const auto& row = rows.values[0];
    const bool lag_known = !rows.null[0][1];
    const double lag_s = lag_known ? std::atof(row[1].c_str()) : 0.0;
    const std::string receiver = rows.null[0][2] ? "" : row[2];
    bool receiver_hidden = false;
    if (expected_role_ != "any" && expected_role_ != role) {
      return {Outcome::fail, "role is " + role + ", expected " + expected_role_};
    }
    if (!standby) return {Outcome::pass, "primary"};
    if (receiver == "hidden") receiver_hidden = true;
    const std::string receiver_state = receiver == "streaming" || receiver_hidden
                                           ? ""
                                           : ", WAL receiver " + (receiver.empty() ? "not running" : receiver);
    if (!lag_known) {
      const std::string msg = receiver_state.empty()
                                  ? "standby replaying behind what it received, lag unknown (no commit replayed yet)"
                                  : "standby" + receiver_state + ", lag unknown (no commit replayed yet)";
      return {max_lag_.count() > 0 ? Outcome::fail : Outcome::warn, msg};
    }
    char figure[32];
    std::snprintf(figure, sizeof figure, "%.1fs", lag_s);
    const std::string lag =
        (receiver_state.empty() ? "standby, replay lag " : "standby, lag at most ") + std::string(figure);
    if (max_lag_.count() > 0 && lag_s * 1000.0 > static_cast<double>(max_lag_.count())) {
      return {Outcome::fail, lag + receiver_state + ", over the " + humanDuration(max_lag_) + " limit"};
    }
    if (!receiver_state.empty()) return {Outcome::warn, lag + receiver_state};
    if (receiver_hidden) {
      return {Outcome::pass, lag + " (this role cannot see whether the WAL receiver streams: grant pg_monitor)"};
    }
    return {Outcome::pass, lag};
  }

  std::string conninfo_;
  std::string password_;
  std::string expected_role_;
  std::chrono::milliseconds max_lag_;
  KeptSession<PgConnection> session_;  // run() is called from one thread at a time
};

}  // namespace

std::unique_ptr<Check> makePostgresCheck(ConfigTable& t, const CheckSettings& settings) {
  std::string conninfo;
  std::string password_file;
  std::string role = "any";
  std::chrono::milliseconds max_lag{0};
  bool ok = t.get("conninfo", conninfo, Presence::required);
  if (auto driver = requirePgDriver(); !driver) {
    t.error("type", driver.error().message);
    ok = false;
  } else if (ok) {
    if (const std::string problem = checkConninfo(conninfo); !problem.empty()) {
      t.error("conninfo", problem);
      ok = false;
    }
  }
  std::string password;
  if (t.get("password_file", password_file)) {
    auto secret = readSecretFile(password_file);
    if (secret) {
      password = secret.value();
    } else {
      t.error("password_file", secret.error().message);
      ok = false;
    }
  }
  t.getEnum("expected_role", role, {"primary", "standby", "any"});
  t.getDuration("max_lag", max_lag, Presence::optional, std::chrono::milliseconds{1}, std::chrono::hours{24});
  std::chrono::milliseconds lifetime = kDefaultSessionLifetime;
  t.getDuration("session_lifetime", lifetime, Presence::optional, std::chrono::milliseconds{0}, std::chrono::hours{1});
  if (!ok) return nullptr;
  return std::make_unique<PostgresCheck>(conninfo, password, role, max_lag, lifetime, settings.interval);
}

}  // namespace hale::agent
