// postgres: connect, run one query, check the role and (on a standby) the replay lag.
//   conninfo = "host=127.0.0.1 port=5432 dbname=app user=hale"   (libpq syntax; no password here)
//   password_file = "/etc/hale/secrets/pg"                         (optional)
//   expected_role = "primary" | "standby" | "any"                  (default any)
//   max_lag = "10s"                                                (optional; standby only)
// Connection problems are transient errors; a wrong role or too much lag is a definitive failure; a
// standby whose WAL receiver is not streaming is degraded (warn).

#include <libpq-fe.h>
#include <poll.h>

#include <cmath>
#include <cstdio>

#include "check_util.h"
#include "factories.h"
#include "secret_file.h"

namespace hale::agent {
namespace {

// Lag is zero when replay has caught up with what was received: an idle primary is not "lag". When replay
// is behind, lag is the age of the last replayed commit, NULL (unknown) if none was ever replayed.
constexpr const char* kQuery =
    "SELECT pg_is_in_recovery(), "
    "CASE WHEN NOT pg_is_in_recovery() THEN 0 "
    "     WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0 "
    "     ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END, "
    "(SELECT status FROM pg_stat_wal_receiver LIMIT 1)";

struct Conn {
  PGconn* c = nullptr;
  ~Conn() {
    if (c != nullptr) PQfinish(c);
  }
};

std::string pqError(PGconn* c) { return firstLine(PQerrorMessage(c)); }

class PostgresCheck final : public Check {
 public:
  PostgresCheck(std::string conninfo, std::string password, std::string expected_role,
                std::chrono::milliseconds max_lag)
      : conninfo_(std::move(conninfo)),
        password_(std::move(password)),
        expected_role_(std::move(expected_role)),
        max_lag_(max_lag) {}

  CheckResult run(const CheckContext& ctx) noexcept override {
    const char* keys[] = {"dbname", "password", "application_name", nullptr};
    const char* values[] = {conninfo_.c_str(), password_.empty() ? nullptr : password_.c_str(), "hale-agent", nullptr};
    Conn conn;
    conn.c = PQconnectStartParams(keys, values, /*expand_dbname=*/1);
    if (conn.c == nullptr) return {Outcome::error, "out of memory"};
    if (PQstatus(conn.c) == CONNECTION_BAD) return {Outcome::error, pqError(conn.c)};

    // The handshake, step by step, never blocking past the deadline.
    for (PostgresPollingStatusType st = PGRES_POLLING_WRITING;;) {
      if (st == PGRES_POLLING_OK) break;
      if (st == PGRES_POLLING_FAILED) return {Outcome::error, pqError(conn.c)};
      if (pollUntil(PQsocket(conn.c), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, ctx) == 0) {
        return {Outcome::error, "no answer within the timeout (connecting)"};
      }
      st = PQconnectPoll(conn.c);
    }
    if (PQsetnonblocking(conn.c, 1) != 0 || PQsendQuery(conn.c, kQuery) == 0) return {Outcome::error, pqError(conn.c)};
    while (PQflush(conn.c) == 1) {
      if (pollUntil(PQsocket(conn.c), POLLOUT, ctx) == 0)
        return {Outcome::error, "no answer within the timeout (query)"};
    }
    while (PQisBusy(conn.c) != 0) {
      if (pollUntil(PQsocket(conn.c), POLLIN, ctx) == 0)
        return {Outcome::error, "no answer within the timeout (query)"};
      if (PQconsumeInput(conn.c) == 0) return {Outcome::error, pqError(conn.c)};
    }
    PGresult* res = PQgetResult(conn.c);
    CheckResult out = evaluate(res);
    PQclear(res);
    while ((res = PQgetResult(conn.c)) != nullptr) PQclear(res);
    return out;
  }

 private:
  CheckResult evaluate(PGresult* res) const {
    if (res == nullptr || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
      return {Outcome::error, res != nullptr ? firstLine(PQresultErrorMessage(res)) : "no result"};
    }
    const bool standby = std::string_view(PQgetvalue(res, 0, 0)) == "t";
    const bool lag_known = PQgetisnull(res, 0, 1) == 0;
    const double lag_s = lag_known ? std::atof(PQgetvalue(res, 0, 1)) : 0.0;
    const std::string receiver = PQgetisnull(res, 0, 2) != 0 ? "" : PQgetvalue(res, 0, 2);
    const std::string role = standby ? "standby" : "primary";
    if (expected_role_ != "any" && expected_role_ != role) {
      return {Outcome::fail, "role is " + role + ", expected " + expected_role_};
    }
    if (!standby) return {Outcome::pass, "primary"};
    if (!lag_known) {
      const std::string msg = "standby replaying behind what it received, lag unknown (no commit replayed yet)";
      return {max_lag_.count() > 0 ? Outcome::fail : Outcome::warn, msg};
    }
    char lag[64];
    std::snprintf(lag, sizeof lag, "standby, replay lag %.1fs", lag_s);
    if (max_lag_.count() > 0 && lag_s * 1000.0 > static_cast<double>(max_lag_.count())) {
      return {Outcome::fail, std::string(lag) + " over the " + humanDuration(max_lag_) + " limit"};
    }
    if (receiver != "streaming") {
      return {Outcome::warn, std::string(lag) + ", WAL receiver " + (receiver.empty() ? "not running" : receiver)};
    }
    return {Outcome::pass, lag};
  }

  std::string conninfo_;
  std::string password_;
  std::string expected_role_;
  std::chrono::milliseconds max_lag_;
};

}  // namespace

std::unique_ptr<Check> makePostgresCheck(ConfigTable& t, const CheckSettings&) {
  std::string conninfo;
  std::string password_file;
  std::string role = "any";
  std::chrono::milliseconds max_lag{0};
  bool ok = t.get("conninfo", conninfo, Presence::required);
  if (ok) {
    char* err = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &err);
    if (parsed == nullptr) {
      t.error("conninfo", "not a libpq connection string: " + firstLine(err != nullptr ? err : "parse error"));
      ok = false;
    } else {
      for (PQconninfoOption* o = parsed; o->keyword != nullptr; ++o) {
        if (std::string_view(o->keyword) == "password" && o->val != nullptr) {
          t.error("conninfo", "must not hold a password; use password_file");
          ok = false;
        }
      }
      PQconninfoFree(parsed);
    }
    if (err != nullptr) PQfreemem(err);
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
  if (!ok) return nullptr;
  return std::make_unique<PostgresCheck>(conninfo, password, role, max_lag);
}

}  // namespace hale::agent
