// mysql_promote: makes a MySQL / MariaDB replica the primary, safely.
//   replica_host = "10.0.2.6"   replica_port = 3306           (or replica_socket)
//   old_primary_host = "10.0.1.6"   old_primary_port = 3306    (optional: fenced first)
//   user = "hale"   password_file = "mysql-admin"              (the same account on both)
//   max_lag = "30s"        RPO gate: refuse a replica further behind (or whose lag is unknown), unless forced;
//                          with its IO thread down, how long its SQL thread has had nothing to apply
//   fence_timeout = "2s"
//   lease = "main"         optional: wait for the old primary's lease to lapse and name the new primary in
//                          etcd first (primary_handover.h)
// Steps: no replication configured and writable -> already_applied (idempotent no-op). The old primary,
// when reachable, gets read_only (and super_read_only where the server has it) so its last writes are
// final; when it is reachable and that fails, nothing is promoted, forced or not (permanent: it would be a
// second writable primary); the replica then applies what it already received (MariaDB: MASTER_GTID_WAIT on
// gtid_io_pos), stops and forgets replication, and turns read_only off. verify() checks it is writable and replicates
// from nobody.

#include <cstdlib>
#include <optional>

#include "action_registry.h"
#include "mysql_client.h"
#include "primary_handover.h"
#include "secret_file.h"

namespace hale::aggregator {
namespace {

constexpr unsigned kErrUnknownSystemVariable = 1193;

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", s);
  return buf;
}

class MysqlPromoteAction final : public Action {
 public:
  struct Options {
    MysqlTarget replica;
    MysqlTarget old_primary;  // host empty: none configured
    std::chrono::milliseconds max_lag{30000};
    std::chrono::milliseconds fence_timeout{2000};
  };
  MysqlPromoteAction(Options o, std::optional<PrimaryHandover> handover)
      : o_(std::move(o)), handover_(std::move(handover)) {}

  // The RPO gate before the plan's first step: the replica answers and is within max_lag (no side effect).
  ActionResult gate(const ActionRequest& r) override {
    auto replica = MysqlConnection::connect(o_.replica, remaining(r));
    if (!replica) return {ActionStatus::retryable, "replica: " + replica.error().message};
    const LagGate g = lagGate(replica.value(), r.forced);
    return g.refused ? *g.refused : ActionResult{ActionStatus::applied, g.detail};
  }

  ActionResult execute(const ActionRequest& r) override {
    auto replica = MysqlConnection::connect(o_.replica, remaining(r));
    if (!replica) return {ActionStatus::retryable, "replica: " + replica.error().message};
    const LagGate g = lagGate(replica.value(), r.forced);
    if (g.refused) return *g.refused;
    std::string detail = g.detail;
    // What can refuse without waiting is asked before the old primary is touched.
    if (handover_ && !g.primary) {
      const ActionResult pre = handover_->precheck(r);
      if (pre.status != ActionStatus::applied) return {pre.status, pre.detail + (detail.empty() ? "" : "; " + detail)};
    }
    if (!g.primary) {
      const Fence fenced = fence(r);
      if (fenced.refused) return {ActionStatus::permanent, fenced.detail + (detail.empty() ? "" : "; " + detail)};
      detail += (detail.empty() ? "" : "; ") + fenced.detail;
    }
    // After the fence: a reachable old primary, now read-only, gives its lease back (a planned switchover).
    if (handover_) {
      const ActionResult claimed = handover_->claim(r);
      if (claimed.status != ActionStatus::applied)
        return {claimed.status, claimed.detail + (detail.empty() ? "" : "; " + detail)};
      detail += (detail.empty() ? "" : "; ") + claimed.detail;
    }
    if (g.primary) return {ActionStatus::already_applied, detail};

    // Apply what was already received before cutting replication (MariaDB; elsewhere the query fails and
    // the replica's SQL thread had its chance while the fence was applied).
    (void)replica.value().query("SELECT MASTER_GTID_WAIT(@@global.gtid_io_pos, " +
                                std::to_string(std::max<int64_t>(1, remaining(r).count() / 2000)) + ")");
    for (const char* sql : {"STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only = OFF"}) {
      if (auto step = replica.value().query(sql); !step) {
        return {ActionStatus::retryable, std::string(sql) + ": " + step.error().message + "; " + detail};
      }
    }
    auto super = replica.value().query("SET GLOBAL super_read_only = OFF");  // MySQL only
    if (!super && replica.value().errorNumber() != kErrUnknownSystemVariable) {
      return {ActionStatus::retryable, "super_read_only: " + super.error().message + "; " + detail};
    }
    return {ActionStatus::applied, "promoted; " + detail};
  }

  ActionResult verify(const ActionRequest& r) override {
    auto replica = MysqlConnection::connect(o_.replica, remaining(r));
    if (!replica) return {ActionStatus::retryable, "replica: " + replica.error().message};
    auto status = replicationStatus(replica.value());
    auto ro = replica.value().query("SELECT @@global.read_only AS ro");
    if (!status || !ro || ro.value().empty()) return {ActionStatus::retryable, "replica did not answer"};
    if (!status.value().empty()) return {ActionStatus::retryable, "replication is still configured"};
    if (ro.value()[0]["ro"] != "0") return {ActionStatus::retryable, "read_only is still on"};
    return {ActionStatus::applied, "writable primary"};
  }

 private:
  static std::chrono::milliseconds remaining(const ActionRequest& r) {
    return std::max(std::chrono::milliseconds{1000},
                    std::chrono::duration_cast<std::chrono::milliseconds>(r.deadline - r.clock->steadyNow()));
  }

  struct LagGate {
    std::string detail;
    bool primary = false;                 // already a writable primary: nothing to gate
    std::optional<ActionResult> refused;  // set: do not promote (permanent), or cannot tell (retryable)
  };

  // Seconds since the SQL thread applied its last event and began waiting for more (MariaDB's processlist
  // time is the time in the current state, whatever @TIMESTAMP the thread replays), or why it cannot be
  // told: MySQL has no TIME_MS, a role without PROCESS sees no system thread, multi-source replication
  // has several. A heuristic (see the README): a restart, START SLAVE or FLUSH RELAY LOGS starts it anew,
  // and a backlog applied after the cut is not counted.
  static Result<double> sqlThreadIdleSeconds(MysqlConnection& replica) {
    auto rows = replica.query(
        "SELECT TIME_MS AS idle_ms FROM information_schema.PROCESSLIST WHERE COMMAND = 'Slave_SQL' "
        "AND STATE LIKE '%has read all relay log%'");
    if (!rows) return Error{"query", "its SQL thread's idle time: " + rows.error().message};
    if (rows.value().size() != 1) {
      return Error{"unknown", "its SQL thread's idle time: " + std::to_string(rows.value().size()) +
                                  " waiting SQL threads visible (needs MariaDB, PROCESS, one source)"};
    }
    const std::string& ms = rows.value()[0]["idle_ms"];
    char* end = nullptr;
    const double v = std::strtod(ms.c_str(), &end);
    if (ms.empty() || end == nullptr || *end != '\0' || v < 0) {
      return Error{"unknown", "its SQL thread's idle time: unexpected \"" + ms + "\""};
    }
    return v / 1000.0;
  }

  LagGate lagGate(MysqlConnection& replica, bool forced) const {
    auto status = replicationStatus(replica);
    if (!status) return {"", false, ActionResult{ActionStatus::retryable, "replica: " + status.error().message}};
    auto ro = replica.query("SELECT @@global.read_only AS ro");
    if (!ro || ro.value().empty())
      return {"", false, ActionResult{ActionStatus::retryable, "replica: cannot read read_only"}};
    if (status.value().empty() && ro.value()[0]["ro"] == "0")
      return {"replica is already a writable primary", true, std::nullopt};
    if (status.value().empty()) return {"", false, std::nullopt};
    const MysqlRow& s = status.value()[0];
    const std::string behind = replicationColumn(s, "Seconds_Behind_Master", "Seconds_Behind_Source");
    bool known = !behind.empty() && behind != "NULL";
    double lag_s = known ? static_cast<double>(std::atol(behind.c_str())) : 0.0;
    std::string detail =
        known ? "replica lag " + std::to_string(std::atol(behind.c_str())) + "s" : "replica lag unknown";
    // With the primary gone the IO thread cannot connect and Seconds_Behind_Master is NULL. A replica whose
    // SQL thread applied everything it received lacks at most what the primary committed after the last
    // event it received, so how long the SQL thread has had nothing to apply bounds its lag: the same bound
    // as PostgreSQL's (pg_replication.h). "Applied everything" alone says nothing about a replica cut off
    // long ago.
    const bool caught_up = replicationColumn(s, "Slave_SQL_Running", "Replica_SQL_Running") == "Yes" &&
                           replicationColumn(s, "Read_Master_Log_Pos", "Read_Source_Log_Pos") ==
                               replicationColumn(s, "Exec_Master_Log_Pos", "Exec_Source_Log_Pos") &&
                           replicationColumn(s, "Master_Log_File", "Source_Log_File") ==
                               replicationColumn(s, "Relay_Master_Log_File", "Relay_Source_Log_File");
    if (!known && caught_up) {
      detail = "replica applied everything it received (IO thread " +
               replicationColumn(s, "Slave_IO_Running", "Replica_IO_Running") + ")";
      const Result<double> idle_s = sqlThreadIdleSeconds(replica);
      if (idle_s) {
        known = true;
        lag_s = idle_s.value();
        detail += ", its last event applied " + seconds(lag_s) + " ago bounds its lag";
      } else {
        detail += " but not since when (" + idle_s.error().message + "): lag unknown";
      }
    }
    const bool over = !known || lag_s * 1000.0 > static_cast<double>(o_.max_lag.count());
    if (over && !forced) {
      return {detail, false,
              ActionResult{ActionStatus::permanent, "refused: " + detail + (known ? ", which exceeds" : " against") +
                                                        " max_lag " + std::to_string(o_.max_lag.count() / 1000) +
                                                        "s (RPO gate); a forced decision overrides it"}};
    }
    if (over) detail += " over max_lag, promoted anyway (forced)";
    return {detail, false, std::nullopt};
  }

  struct Fence {
    std::string detail;  // what happened, for the journal
    bool refused = false;
  };

  // The old primary is usually down when this runs; when it is up, it is fenced or nothing is promoted.
  Fence fence(const ActionRequest& r) const {
    if (o_.old_primary.host.empty() && o_.old_primary.socket.empty()) return {"no old primary configured to fence"};
    auto old = MysqlConnection::connect(o_.old_primary, std::min(o_.fence_timeout, remaining(r)));
    if (!old) return {"old primary unreachable (" + old.error().message + "), not fenced"};
    if (auto ro = old.value().query("SET GLOBAL read_only = ON"); !ro) {
      return {"refused: fencing the reachable old primary failed (read_only: " + ro.error().message +
                  "); promoting would make two writable primaries",
              true};
    }
    auto super = old.value().query("SET GLOBAL super_read_only = ON");
    if (!super && old.value().errorNumber() != kErrUnknownSystemVariable) {
      return {"refused: the old primary is read_only but super_read_only failed (" + super.error().message +
                  "), so privileged sessions could still write; promoting would make two writable primaries",
              true};
    }
    return {"old primary fenced (read_only on)"};
  }

  Options o_;
  std::optional<PrimaryHandover> handover_;
};

}  // namespace

std::unique_ptr<Action> makeMysqlPromoteAction(ConfigTable& t, const ActionEnvironment& env) {
  MysqlPromoteAction::Options o;
  bool ok = true;
  o.old_primary.host.clear();
  t.get("replica_host", o.replica.host);
  t.get("replica_socket", o.replica.socket);
  int64_t port = 3306;
  if (t.get("replica_port", port, Presence::optional, 1, 65535)) o.replica.port = static_cast<uint16_t>(port);
  t.get("old_primary_host", o.old_primary.host);
  t.get("old_primary_socket", o.old_primary.socket);
  port = 3306;
  if (t.get("old_primary_port", port, Presence::optional, 1, 65535)) o.old_primary.port = static_cast<uint16_t>(port);
  ok &= t.get("user", o.replica.user, Presence::required);
  std::string password_file;
  if (t.get("password_file", password_file)) {
    auto secret = readSecretFile(password_file);
    if (secret) {
      o.replica.password = secret.value();
    } else {
      t.error("password_file", secret.error().message);
      ok = false;
    }
  }
  o.old_primary.user = o.replica.user;
  o.old_primary.password = o.replica.password;
  t.getDuration("max_lag", o.max_lag, Presence::optional, std::chrono::milliseconds{0}, std::chrono::hours{24});
  t.getDuration("fence_timeout", o.fence_timeout, Presence::optional, std::chrono::milliseconds{100},
                std::chrono::minutes{1});
  auto handover = PrimaryHandover::fromConfig(t, env, ok);
  if (!ok) return nullptr;
  return std::make_unique<MysqlPromoteAction>(std::move(o), std::move(handover));
}

}  // namespace hale::aggregator
