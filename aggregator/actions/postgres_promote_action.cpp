// postgres_promote: makes a streaming standby the primary, safely.
//   standby = "host=10.0.2.5 port=5432 user=postgres dbname=postgres"   (the server to promote)
//   standby_password_file = "pg-standby"                              (optional)
//   old_primary = "host=10.0.1.5 port=5432 user=postgres dbname=postgres"  (optional: fenced first)
//   old_primary_password_file = "pg-primary"                          (optional)
//   max_lag = "30s"          RPO gate: refuse to promote a standby further behind, unless forced
//                            (pg_replication.h: with its WAL receiver down, the age of its last replayed commit;
//                            streaming and caught up, the time since it last heard from its primary)
//   fence_timeout = "2s"     how long to try reaching the old primary (it is usually down)
//   lease = "main"           optional: wait for the old primary's lease to lapse and name the new primary in
//                            etcd first (primary_handover.h)
// Steps: the standby already primary -> already_applied (idempotent no-op). Lag over max_lag (or unknown)
// and not forced -> permanent, unless the old primary, reachable, says the standby has all it flushed, or its
// last published position shows the standby has it. The old
// primary, when reachable and still primary, is fenced: default_transaction_read_only = on, reloaded, its client
// sessions ended so they reconnect read-only; the standby then replays the fenced primary's WAL to its end (a planned
// switchover loses no commit). A reachable old primary that cannot be fenced stops the promotion, forced or not: it
// would be a second writable primary (permanent; retryable when it answered the connection but not the question). Then
// pg_promote(), and verify() checks pg_is_in_recovery() is false.

#include <cstdlib>
#include <optional>

#include "action_registry.h"
#include "db_lease.h"
#include "pg_client.h"
#include "pg_replication.h"
#include "primary_handover.h"
#include "secret_file.h"

namespace hale::aggregator {
namespace {

// In recovery, the receiver's status, the last replayed commit's age, the receiver's silence, replay
// caught up with what was received, and what was received caught up with what the sender reported.
const std::string kLagQuery = std::string("SELECT pg_is_in_recovery(), ") + kPgReceiverStatusSql + ", " +
                              kPgLastReplayAgeSql + ", " + kPgReceiverSilenceSql + ", " + kPgReplayCaughtUpSql + ", " +
                              kPgReceivedAllReportedSql;

// Three statements sent one by one: ALTER SYSTEM refuses to run inside the implicit transaction of a
// multi-statement query. The last ends other client sessions so they come back under the new default;
// replication and background processes are left alone.
constexpr const char* kEndClientSessions =
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
    "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()";
constexpr const char* kFence[] = {"ALTER SYSTEM SET default_transaction_read_only = on", "SELECT pg_reload_conf()",
                                  kEndClientSessions};

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", s);
  return buf;
}

class PostgresPromoteAction final : public Action {
 public:
  struct Options {
    std::string standby;
    std::string standby_password;
    std::string old_primary;
    std::string old_primary_password;
    std::chrono::milliseconds max_lag{30000};
    std::chrono::milliseconds fence_timeout{2000};
  };
  PostgresPromoteAction(Options o, std::optional<PrimaryHandover> handover)
      : o_(std::move(o)), handover_(std::move(handover)) {}

  // The RPO gate before the plan's first step: the standby answers and is within max_lag (no side effect).
  ActionResult gate(const ActionRequest& r) override {
    const PgDeadline d{r.deadline, r.cancel, r.clock};
    auto standby = PgConnection::connect(o_.standby, o_.standby_password, d, "hale-aggregator");
    if (!standby) return {ActionStatus::retryable, "standby: " + standby.error().message};
    const LagGate g = judgeLag(standby.value(), d, r);
    if (g.refused) return *g.refused;
    if (g.primary || !handover_ || g.position_judged) return {ActionStatus::applied, g.detail};
    const ActionResult p = positionGate(standby.value(), d, r);
    return {p.status, g.detail + (p.detail.empty() ? "" : "; " + p.detail)};
  }

  ActionResult execute(const ActionRequest& r) override {
    const PgDeadline d{r.deadline, r.cancel, r.clock};
    auto standby = PgConnection::connect(o_.standby, o_.standby_password, d, "hale-aggregator");
    if (!standby) return {ActionStatus::retryable, "standby: " + standby.error().message};
    const LagGate g = judgeLag(standby.value(), d, r);
    if (g.refused) return *g.refused;
    std::string last_lsn;
    std::string detail = g.detail;
    // Everything that can refuse without waiting is asked before the old primary is touched: a fence
    // followed by a refusal would leave no writable primary at all.
    if (handover_ && !g.primary) {
      const ActionResult pre = handover_->precheck(r);
      if (pre.status != ActionStatus::applied) return {pre.status, pre.detail + "; " + detail};
      if (!g.position_judged) {
        const ActionResult early = positionGate(standby.value(), d, r);
        if (early.status != ActionStatus::applied) return {early.status, early.detail + "; " + detail};
      }
    }
    bool fenced_here = false;
    if (!g.primary) {
      const Fence fenced = fence(r);
      if (fenced.refused) return {*fenced.refused, fenced.detail + "; " + detail};
      detail += "; " + fenced.detail;
      last_lsn = fenced.last_lsn;
      fenced_here = !fenced.last_lsn.empty();
    }
    // After the fence: a reachable old primary, now read-only, gives its lease back instead of holding it
    // until the attempt ends (a planned switchover). Once the lease is gone, the old primary's last
    // published position is final: the RPO gate judges it again before the record moves.
    if (handover_) {
      const ActionResult claimed = handover_->claim(r, [&] {
        return g.primary ? ActionResult{ActionStatus::applied, ""} : positionGate(standby.value(), d, r);
      });
      if (claimed.status != ActionStatus::applied) {
        // Refused after our own fence: lift it, so the old primary is not left read-only with nothing
        // promoted (its agent retakes the lease; a new decision fences again if it must).
        if (fenced_here) detail += "; " + liftFence(r);
        return {claimed.status, claimed.detail + "; " + detail};
      }
      detail += "; " + claimed.detail;
    }
    if (g.primary) return {ActionStatus::already_applied, detail};

    // A reachable old primary is fenced, so its WAL ends here: let the standby replay all of it first, so a
    // planned switchover loses nothing.
    if (!last_lsn.empty()) {
      // Forced: the operator has accepted losing what the standby lacks; wait briefly, then go on.
      ActionRequest wait = r;
      if (r.forced) wait.deadline = std::min(r.deadline, r.clock->steadyNow() + std::chrono::seconds{2});
      if (auto waited = waitForReplay(standby.value(), last_lsn, d, wait); !waited.empty()) {
        if (!r.forced) return {ActionStatus::retryable, waited + "; " + detail};
        detail += "; " + waited + ", promoted anyway (forced)";
      } else {
        detail += "; standby replayed the old primary's WAL to " + last_lsn;
      }
    }
    auto promoted = standby.value().query(
        "SELECT pg_promote(wait => true, wait_seconds => " +
            std::to_string(std::max<int64_t>(
                1, std::chrono::duration_cast<std::chrono::seconds>(r.deadline - r.clock->steadyNow()).count())) +
            ")",
        d);
    if (!promoted) return {ActionStatus::retryable, "pg_promote: " + promoted.error().message + "; " + detail};
    if (promoted.value().values.at(0).at(0) != "t")
      return {ActionStatus::retryable, "pg_promote did not finish in time; " + detail};
    return {ActionStatus::applied, "promoted; " + detail};
  }

  ActionResult verify(const ActionRequest& r) override {
    const PgDeadline d{r.clock->steadyNow() + std::chrono::seconds{5}, r.cancel, r.clock};
    auto standby = PgConnection::connect(o_.standby, o_.standby_password, d, "hale-aggregator");
    if (!standby) return {ActionStatus::retryable, "standby: " + standby.error().message};
    auto rows = standby.value().query("SELECT pg_is_in_recovery()", d);
    if (!rows) return {ActionStatus::retryable, rows.error().message};
    return rows.value().values.at(0).at(0) == "f" ? ActionResult{ActionStatus::applied, "is primary"}
                                                  : ActionResult{ActionStatus::retryable, "still in recovery"};
  }

 private:
  // The RPO gate against the old primary's last known position (its agent publishes it with each lease
  // renewal): "replay caught up with what was received" says nothing about a standby cut off from the
  // primary long ago. The standby must have received that position, or be behind it by at most max_lag
  // (from its last replayed commit to when the primary had flushed it); unknown is refused unless forced.
  // `replayed_only`: judge what the standby replayed, not what it received (received WAL a standby may
  // not replay quickly is lag the position cannot excuse; after a restart its receive position even
  // falls back to a segment's start).
  ActionResult positionGate(PgConnection& standby, const PgDeadline& d, const ActionRequest& r,
                            bool replayed_only = false) const {
    auto last = handover_->lastPosition();
    if (!last) return {ActionStatus::retryable, "old primary's position: " + last.error().message};
    if (!last.value()) return {ActionStatus::applied, ""};  // none published (an agent without one)
    const dblease::PositionRecord& p = *last.value();
    const std::string held =
        replayed_only ? "pg_last_wal_replay_lsn()" : "GREATEST(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())";
    auto rows = standby.query("SELECT " + held + " >= '" + p.position +
                                  "'::pg_lsn, (EXTRACT(EPOCH FROM pg_last_xact_replay_timestamp()) * 1000)::bigint",
                              d);
    if (!rows || rows.value().values.empty()) {
      return {ActionStatus::retryable, "standby: " + (rows ? std::string("no answer") : rows.error().message)};
    }
    const auto& row = rows.value().values[0];
    if (row[0] == "t") {
      return {ActionStatus::applied, std::string(replayed_only ? "standby replayed" : "standby has") +
                                         " the old primary's last known position " + p.position};
    }
    const bool known = !rows.value().null[0][1];
    const double behind_s = known ? static_cast<double>(p.at_ms - std::atoll(row[1].c_str())) / 1000.0 : 0.0;
    const std::string what = "standby lacks WAL the old primary had flushed (its position " + p.position +
                             (known ? ", about " + seconds(std::max(0.0, behind_s)) + " of commits" : "") + ")";
    if (!known || behind_s * 1000.0 > static_cast<double>(o_.max_lag.count())) {
      if (r.forced) return {ActionStatus::applied, what + ", promoted anyway (forced)"};
      return {ActionStatus::permanent, "refused: " + what + (known ? " exceeds" : ", unknown against") + " max_lag " +
                                           seconds(static_cast<double>(o_.max_lag.count()) / 1000.0) +
                                           " (RPO gate); a forced decision overrides it"};
    }
    return {ActionStatus::applied, what + ", within max_lag"};
  }

  struct LagGate {
    std::string detail;
    bool primary = false;                 // the standby is already the primary: nothing to gate
    std::optional<ActionResult> refused;  // set: do not promote (permanent), or cannot tell (retryable)
    // The WAL receiver is not streaming, or has been silent for longer than max_lag: the lag is a coarse
    // bound, which the old primary (asked, or its published position against what the standby replayed)
    // may replace.
    bool coarse = false;
    bool position_judged = false;  // judgeLag asked the position gate already
  };

  // The lag gate, where the coarse bound of a standby cut off from its primary (pg_replication.h) gives way
  // to the precise one when there is one: the old primary's last published position, held by the standby.
  LagGate judgeLag(PgConnection& standby, const PgDeadline& d, const ActionRequest& r) const {
    LagGate g = lagGate(standby, d, r);
    if (!g.refused || !g.coarse || g.refused->status != ActionStatus::permanent) return g;
    if (auto asked = askOldPrimary(standby, d, r)) return {g.detail + "; " + *asked, false, std::nullopt, false};
    if (!handover_) return g;
    const ActionResult precise = positionGate(standby, d, r, /*replayed_only=*/true);
    if (precise.status == ActionStatus::applied && !precise.detail.empty()) {
      return {g.detail + "; " + precise.detail, false, std::nullopt, true, true};
    }
    if (precise.status == ActionStatus::applied) return g;  // no position published: the coarse bound stands
    return {g.detail, false, ActionResult{precise.status, precise.detail + "; " + g.detail}, true, true};
  }

  // The precise answer when the old primary still answers (a quiet primary, a standby whose receiver
  // restarted): what it has flushed, held by the standby, is no loss at all. A read, no side effect; set
  // only when it proves the standby current.
  std::optional<std::string> askOldPrimary(PgConnection& standby, const PgDeadline& standby_deadline,
                                           const ActionRequest& r) const {
    if (o_.old_primary.empty()) return std::nullopt;
    const PgDeadline d{std::min(r.deadline, r.clock->steadyNow() + o_.fence_timeout), r.cancel, r.clock};
    auto old = PgConnection::connect(o_.old_primary, o_.old_primary_password, d, "hale-aggregator");
    if (!old) return std::nullopt;
    // The same cluster (a floating or stale address could name another): its system identifier.
    auto flushed = old.value().query(
        "SELECT pg_is_in_recovery(), pg_current_wal_flush_lsn(), (SELECT system_identifier FROM pg_control_system())",
        d);
    if (!flushed || flushed.value().values.empty() || flushed.value().values[0].at(0) != "f") return std::nullopt;
    const std::string lsn = flushed.value().values[0].at(1);
    const std::string system = flushed.value().values[0].at(2);
    if (!dblease::validLsn(lsn) || system.empty() || system.find_first_not_of("0123456789") != std::string::npos)
      return std::nullopt;
    // Replayed, not only received: received WAL a standby does not replay (paused, conflicting) is lag.
    auto held = standby.query("SELECT pg_last_wal_replay_lsn() >= '" + lsn +
                                  "'::pg_lsn AND (SELECT system_identifier FROM pg_control_system()) = " + system,
                              standby_deadline);
    if (!held || held.value().values.empty() || held.value().values[0].at(0) != "t") return std::nullopt;
    return "the old primary, asked, had flushed " + lsn + " and the standby has replayed it";
  }

  LagGate lagGate(PgConnection& standby, const PgDeadline& d, const ActionRequest& r) const {
    const bool forced = r.forced;
    auto state = standby.query(kLagQuery, d);
    // WAL received but not yet flushed reads as "not all the sender reported" for a moment: a receiver
    // that is behind its sender gets up to a second to catch up before that is called a backlog.
    const auto behindSender = [&] {
      const auto& v = state.value().values.at(0);
      return v.at(0) == "t" && !state.value().null.at(0).at(1) && v.at(1) == "streaming" && v.at(4) == "t" &&
             v.at(5) == "f";
    };
    for (int tries = 0; state && behindSender() && tries < 20 && pauseBeforePoll(r, std::chrono::milliseconds{50});
         ++tries) {
      state = standby.query(kLagQuery, d);
    }
    if (!state) return {"", false, ActionResult{ActionStatus::retryable, "standby: " + state.error().message}};
    const auto& row = state.value().values.at(0);
    const auto& null = state.value().null.at(0);
    if (row.at(0) != "t") return {"standby is already the primary", true, std::nullopt};
    // Not streaming, or this role cannot see (no guess here): the coarse bound, the last commit's age.
    const bool hidden = !null.at(1) && row[1] == "hidden";
    const bool cut_off = null.at(1) || row[1] != "streaming";
    bool lag_known = !null.at(2);
    double lag_s = lag_known ? std::atof(row[2].c_str()) : 0.0;
    const bool replay_caught_up = row.at(4) == "t";
    // Streaming, everything received replayed, and everything the sender reported received: whatever it
    // lacks came after it last heard from the primary; a receiver silent for longer than max_lag may have
    // been cut off silently. The silence is the standby's own clock (no min with the last commit's age,
    // the primary's clock: one running ahead would shrink it). A sender with a backlog (the standby has
    // not received all the primary reported) is bounded by the last commit's age, coarsely.
    bool silent = false;
    bool backlog = false;
    if (!cut_off && replay_caught_up) {
      if (row.at(5) == "t" && !null.at(3)) {
        lag_known = true;
        lag_s = std::atof(row[3].c_str());
        silent = lag_s * 1000.0 > static_cast<double>(o_.max_lag.count());
      } else {
        backlog = true;
      }
    }
    const bool over = !lag_known || lag_s * 1000.0 > static_cast<double>(o_.max_lag.count());
    std::string detail = lag_known ? "standby lag " + seconds(lag_s) : "standby lag unknown";
    const std::string commit_bound = lag_known ? ", its last replayed commit " + seconds(lag_s) + " old bounds its lag"
                                               : " and it has replayed no commit since it started: lag unknown";
    if (silent) {
      detail = "standby's WAL receiver says 'streaming' but has heard nothing from its primary for " + seconds(lag_s) +
               ", which bounds its lag";
    } else if (backlog) {
      detail = "standby's WAL receiver is streaming but has not received all the primary reported" + commit_bound;
    } else if (cut_off) {
      detail = "standby's WAL receiver is " +
               (null[1]  ? std::string("not running")
                : hidden ? std::string("hidden from this role (grant it pg_monitor)")
                         : "'" + row[1] + "'") +
               commit_bound;
    }
    const bool coarse = cut_off || silent || backlog;
    if (over && !forced) {
      return {detail, false,
              ActionResult{ActionStatus::permanent, "refused: " + detail +
                                                        (!lag_known ? " against"
                                                         : coarse   ? ", which exceeds"
                                                                    : " exceeds") +
                                                        " max_lag " +
                                                        seconds(static_cast<double>(o_.max_lag.count()) / 1000.0) +
                                                        " (RPO gate); a forced decision overrides it"},
              coarse};
    }
    if (over) detail += " over max_lag, promoted anyway (forced)";
    return {detail, false, std::nullopt, coarse};
  }

  struct Fence {
    std::string detail;    // what happened, for the journal
    std::string last_lsn;  // the fenced old primary's WAL end; empty when it was not fenced
    std::optional<ActionStatus> refused = std::nullopt;  // set: do not promote
  };

  // Undoes fence() after a refusal; best effort, says what happened.
  std::string liftFence(const ActionRequest& r) const {
    const PgDeadline d{std::min(r.deadline, r.clock->steadyNow() + o_.fence_timeout), r.cancel, r.clock};
    auto old = PgConnection::connect(o_.old_primary, o_.old_primary_password, d, "hale-aggregator");
    if (!old) return "the old primary's fence could not be lifted (" + old.error().message + ")";
    for (const char* sql : {"ALTER SYSTEM RESET default_transaction_read_only", "SELECT pg_reload_conf()"}) {
      if (auto step = old.value().query(sql, d); !step)
        return "the old primary's fence could not be lifted (" + step.error().message + ")";
    }
    return "the old primary's fence was lifted again";
  }

  // Best effort: the old primary is usually down when this runs.
  Fence fence(const ActionRequest& r) const {
    if (o_.old_primary.empty()) return {"no old primary configured to fence", ""};
    const PgDeadline d{std::min(r.deadline, r.clock->steadyNow() + o_.fence_timeout), r.cancel, r.clock};
    auto old = PgConnection::connect(o_.old_primary, o_.old_primary_password, d, "hale-aggregator");
    if (!old) return {"old primary unreachable (" + old.error().message + "), not fenced", ""};
    auto role = old.value().query("SELECT pg_is_in_recovery()", d);
    if (!role) {
      return {"refused: the old primary is reachable but did not say whether it is a primary (" + role.error().message +
                  "); not promoting while it may take writes",
              "", ActionStatus::retryable};
    }
    if (role.value().values.at(0).at(0) == "t") return {"old primary is a standby, nothing to fence", ""};
    std::string ended = "0";
    for (const char* sql : kFence) {
      auto step = old.value().query(sql, d);
      if (!step) {
        return {"refused: fencing the reachable, writable old primary failed (" + step.error().message +
                    "); promoting would make two writable primaries",
                "", ActionStatus::permanent};
      }
      if (!step.value().values.empty()) ended = step.value().values[0][0];
    }
    // The end of a record written now, after everything the fenced primary took: past any commit (with
    // synchronous_commit off one can be ahead of the flush; the WAL writer flushes and the walsender ships
    // it shortly). Not pg_current_wal_insert_lsn(): right after a page or segment switch it points past the
    // next page's header, which the standby's replay position only passes when another record comes, up
    // to 15 s later on an idle server. A logical message is allowed in a read-only transaction.
    auto lsn = old.value().query("SELECT pg_logical_emit_message(false, 'hale', 'fenced')", d);
    if (!lsn) lsn = old.value().query("SELECT pg_current_wal_insert_lsn()", d);
    // It goes into the standby's SQL: only a well-formed LSN, whatever the server answered.
    const std::string end = lsn && !lsn.value().values.empty() ? lsn.value().values[0][0] : "";
    if (!dblease::validLsn(end)) {
      return {"refused: the old primary was fenced but gave no valid WAL end (\"" + end.substr(0, 40) +
                  "\"); the standby cannot be shown to have its last commits",
              "", ActionStatus::retryable};
    }
    return {"old primary fenced read-only (" + ended + " sessions ended)", end};
  }

  // Polls until the standby has replayed up to `lsn`, until `wait`'s deadline; "" when it has, else why
  // not. Each query is bounded by the step's deadline `d`, not the wait's: a query cut short would leave the
  // connection busy for the pg_promote that follows.
  static std::string waitForReplay(PgConnection& standby, const std::string& lsn, const PgDeadline& d,
                                   const ActionRequest& wait) {
    const std::string sql = "SELECT pg_last_wal_replay_lsn() >= '" + lsn + "'::pg_lsn";
    for (;;) {
      auto caught_up = standby.query(sql, d);
      if (!caught_up) return "standby: " + caught_up.error().message;
      if (caught_up.value().values.at(0).at(0) == "t") return "";
      if (!pauseBeforePoll(wait, std::chrono::milliseconds{20}))
        return "standby has not replayed the old primary's WAL up to " + lsn + " yet";
    }
  }

  Options o_;
  std::optional<PrimaryHandover> handover_;
};

bool readPassword(ConfigTable& t, const char* key, std::string& out) {
  std::string file;
  if (!t.get(key, file)) return true;
  auto secret = readSecretFile(file);
  if (!secret) {
    t.error(key, secret.error().message);
    return false;
  }
  out = secret.value();
  return true;
}

}  // namespace

std::unique_ptr<Action> makePostgresPromoteAction(ConfigTable& t, const ActionEnvironment& env) {
  PostgresPromoteAction::Options o;
  bool ok = t.get("standby", o.standby, Presence::required);
  t.get("old_primary", o.old_primary);
  for (const char* key : {"standby", "old_primary"}) {
    std::string value;
    if (t.has(key) && t.get(key, value)) {
      if (const std::string problem = checkConninfo(value); !problem.empty()) {
        t.error(key, problem);
        ok = false;
      }
    }
  }
  ok &= readPassword(t, "standby_password_file", o.standby_password);
  ok &= readPassword(t, "old_primary_password_file", o.old_primary_password);
  t.getDuration("max_lag", o.max_lag, Presence::optional, std::chrono::milliseconds{0}, std::chrono::hours{24});
  t.getDuration("fence_timeout", o.fence_timeout, Presence::optional, std::chrono::milliseconds{100},
                std::chrono::minutes{1});
  auto handover = PrimaryHandover::fromConfig(t, env, ok);
  if (!ok) return nullptr;
  return std::make_unique<PostgresPromoteAction>(std::move(o), std::move(handover));
}

}  // namespace hale::aggregator
