#include "journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "clock.h"
#include "log.h"
#include "secret_file.h"

namespace hale::aggregator {
namespace {

// One write's busy timeout; the connection's usual one is put back however the write ends (an exception
// included), so later writes never inherit a shorter wait.
class ScopedBusyTimeout {
 public:
  ScopedBusyTimeout(sqlite3* db, int ms, int usual_ms) : db_(db), usual_ms_(usual_ms) { sqlite3_busy_timeout(db_, ms); }
  ~ScopedBusyTimeout() { sqlite3_busy_timeout(db_, usual_ms_); }
  ScopedBusyTimeout(const ScopedBusyTimeout&) = delete;
  ScopedBusyTimeout& operator=(const ScopedBusyTimeout&) = delete;

 private:
  sqlite3* db_;
  int usual_ms_;
};

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL, name TEXT NOT NULL,
  subject TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '', plan_id INTEGER, step INTEGER);
CREATE INDEX IF NOT EXISTS events_plan ON events (plan_id);
CREATE TABLE IF NOT EXISTS plans (
  id INTEGER PRIMARY KEY AUTOINCREMENT, created_ms INTEGER NOT NULL, kind TEXT NOT NULL,
  from_region TEXT NOT NULL, to_region TEXT NOT NULL, reason TEXT NOT NULL, state TEXT NOT NULL,
  forced INTEGER NOT NULL, operator INTEGER NOT NULL, dry_run INTEGER NOT NULL, finished_ms INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS steps (
  plan_id INTEGER NOT NULL, idx INTEGER NOT NULL, action TEXT NOT NULL, state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, started_ms INTEGER NOT NULL DEFAULT 0, finished_ms INTEGER NOT NULL DEFAULT 0,
  detail TEXT NOT NULL DEFAULT '', PRIMARY KEY (plan_id, idx));
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '1');
)sql";

// A prepared statement that finalizes itself.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) { rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool ok() const { return rc_ == SQLITE_OK; }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  int step() { return sqlite3_step(s_); }
  void reset() { sqlite3_reset(s_); }  // for the next row; every parameter is bound again
  int64_t i64(int c) const { return sqlite3_column_int64(s_, c); }
  std::string text(int c) const {
    const auto* p = sqlite3_column_text(s_, c);
    return p != nullptr ? reinterpret_cast<const char*>(p) : "";
  }
  Error error() const { return makeError("journal", sqlite3_errmsg(db_)); }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  int rc_;
};

// BEGIN IMMEDIATE .. COMMIT, rolled back unless committed. A caller stops at once when begun() fails:
// statements run after a failed BEGIN would each commit on their own, leaving a half-written plan.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {
    ok_ = sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
    if (!ok_) why_ = sqlite3_errmsg(db);
  }
  Result<void> begun() const {
    if (ok_) return {};
    return makeError("journal", "cannot begin a transaction: " + why_);
  }
  ~Transaction() {
    if (ok_ && !committed_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Result<void> commit() {
    if (!ok_ || sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return makeError("journal", std::string("commit failed: ") + sqlite3_errmsg(db_));
    }
    committed_ = true;
    return {};
  }

 private:
  sqlite3* db_;
  bool ok_ = false;
  bool committed_ = false;
  std::string why_;
};

}  // namespace

bool journaled(const Result<void>& r, const std::string& what) {
  if (!r) logError("-journal-write-failed", what + ": " + r.error().message);
  return r.ok();
}

bool journaled(const Result<int64_t>& r, const std::string& what) {
  if (!r) logError("-journal-write-failed", what + ": " + r.error().message);
  return r.ok();
}

Result<std::unique_ptr<Journal>> Journal::open(const std::string& path) {
  // 0600 from the start (SQLite gives its -wal and -shm files the database file's mode): who asked for
  // what, and the plans, are for the aggregator's user and root. A wider existing file is narrowed.
  if (const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600); fd >= 0) {
    struct stat st {};
    if (::fstat(fd, &st) == 0 && (st.st_mode & 077) != 0) ::fchmod(fd, 0600);
    ::close(fd);
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) !=
      SQLITE_OK) {
    const std::string why = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return makeError("journal", "cannot open journal " + path + ": " + why);
  }
  std::unique_ptr<Journal> j(new Journal(db));
  // A write lock held by another process (a backup, an operator's sqlite3 shell) is waited for up to
  // kBusyTimeoutMs, the schema's own writes below included; events, written by the tick thread, wait less
  // (kEventBusyTimeoutMs), so a lock cannot stall it past tilt_threshold.
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  // WAL: readers never block the writer. synchronous=FULL: a decision or step result that returned is on
  // disk, also across a power loss, which is what "never repeat a finished step" needs.
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON", kSchema}) {
    if (auto r = j->exec(sql); !r) return makeError("journal", path + ": " + r.error().message);
  }
  // Added after the first release: the leadership epoch of each event (0 for events written before).
  if (!j->exec("SELECT epoch FROM events LIMIT 0")) {
    if (auto r = j->exec("ALTER TABLE events ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0"); !r)
      return makeError("journal", path + ": " + r.error().message);
  }
  auto version = j->meta("schema_version");
  if (!version || !version.value() || *version.value() != "1") {
    return makeError("journal", path + ": unsupported journal schema version");
  }
  return j;
}

Journal::~Journal() { sqlite3_close(db_); }

Result<void> Journal::exec(const char* sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string why = err != nullptr ? err : "unknown error";
    sqlite3_free(err);
    return makeError("journal", why);
  }
  return {};
}

namespace {

constexpr const char* kInsertEvent =
    "INSERT INTO events (ts_ms, name, subject, detail, plan_id, step, epoch) VALUES (?, ?, ?, ?, NULLIF(?, 0), "
    "NULLIF(?, -1), ?)";

// One row through `s` (kInsertEvent, prepared once for a whole batch: preparing costs as much as the insert).
Result<int64_t> insertEventWith(Stmt& s, sqlite3* db, const JournalEvent& e, int64_t epoch) {
  if (!s.ok()) return s.error();
  s.reset();
  s.bind(1, e.ts_ms)
      .bind(2, e.name)
      .bind(3, e.subject)
      .bind(4, redactSecrets(e.detail))
      .bind(5, e.plan_id)
      .bind(6, int64_t{e.step});
  s.bind(7, e.epoch >= 0 ? e.epoch : epoch);
  if (s.step() != SQLITE_DONE) return s.error();
  return sqlite3_last_insert_rowid(db);
}

}  // namespace

Result<int64_t> Journal::insertEvent(const JournalEvent& e) const {
  Stmt s(db_, kInsertEvent);
  return insertEventWith(s, db_, e, epoch_.load());
}

Result<int64_t> Journal::eventUnnoted(const JournalEvent& e) {
  std::lock_guard lock(mu_);
  const ScopedBusyTimeout wait(db_, kEventBusyTimeoutMs, kBusyTimeoutMs);
  return insertEvent(e);
}

Result<void> Journal::appendEventsUnnoted(std::span<const JournalEvent> batch, std::chrono::milliseconds wait) {
  std::lock_guard lock(mu_);
  const ScopedBusyTimeout waiting(db_, static_cast<int>(wait.count()), kBusyTimeoutMs);
  Transaction tx(db_);
  if (auto b = tx.begun(); !b) return b;
  Stmt s(db_, kInsertEvent);
  const int64_t epoch = epoch_.load();
  for (const JournalEvent& e : batch) {
    if (auto inserted = insertEventWith(s, db_, e, epoch); !inserted) return inserted.error();
  }
  return tx.commit();
}

Result<std::vector<JournalEvent>> Journal::events(size_t limit, int64_t plan_id) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, plan_id != 0
                  ? "SELECT id, ts_ms, name, subject, detail, COALESCE(plan_id, 0), COALESCE(step, -1), epoch FROM "
                    "events WHERE plan_id = ?2 ORDER BY id DESC LIMIT ?1"
                  : "SELECT id, ts_ms, name, subject, detail, COALESCE(plan_id, 0), COALESCE(step, -1), epoch FROM "
                    "events ORDER BY id DESC LIMIT ?1");
  if (!s.ok()) return s.error();
  s.bind(1, static_cast<int64_t>(limit));
  if (plan_id != 0) s.bind(2, plan_id);
  std::vector<JournalEvent> out;
  for (int rc; (rc = s.step()) == SQLITE_ROW;) {
    out.push_back(
        {s.i64(0), s.i64(1), s.text(2), s.text(3), s.text(4), s.i64(5), static_cast<int>(s.i64(6)), s.i64(7)});
  }
  return std::vector<JournalEvent>(out.rbegin(), out.rend());
}

Result<void> Journal::createPlanUnnoted(PlanRecord& plan, JournalEvent decision) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto b = tx.begun(); !b) return b;
  Stmt p(db_,
         "INSERT INTO plans (created_ms, kind, from_region, to_region, reason, state, forced, operator, dry_run, id) "
         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULLIF(?, 0))");
  if (!p.ok()) return p.error();
  p.bind(10, plan.id);
  p.bind(1, plan.created_ms)
      .bind(2, plan.kind)
      .bind(3, plan.from)
      .bind(4, plan.to)
      .bind(5, plan.reason)
      .bind(6, plan.state);
  p.bind(7, int64_t{plan.forced}).bind(8, int64_t{plan.operator_requested}).bind(9, int64_t{plan.dry_run});
  if (p.step() != SQLITE_DONE) return p.error();
  plan.id = sqlite3_last_insert_rowid(db_);
  for (const StepRecord& step : plan.steps) {
    Stmt s(db_, "INSERT INTO steps (plan_id, idx, action, state) VALUES (?, ?, ?, ?)");
    s.bind(1, plan.id).bind(2, int64_t{step.idx}).bind(3, step.action).bind(4, step.state);
    if (s.step() != SQLITE_DONE) return s.error();
  }
  decision.plan_id = plan.id;
  if (auto r = insertEvent(decision); !r) return r.error();
  return tx.commit();
}

Result<void> Journal::adoptPlanUnnoted(const PlanRecord& plan, JournalEvent e) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto b = tx.begun(); !b) return b;
  Stmt p(db_,
         "INSERT OR IGNORE INTO plans (id, created_ms, kind, from_region, to_region, reason, state, forced, operator, "
         "dry_run) VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, 0)");
  if (!p.ok()) return p.error();
  p.bind(1, plan.id).bind(2, plan.created_ms).bind(3, plan.kind).bind(4, plan.from).bind(5, plan.to);
  p.bind(6, plan.reason).bind(7, int64_t{plan.forced}).bind(8, int64_t{plan.operator_requested});
  if (p.step() != SQLITE_DONE) return p.error();
  // An id this journal already holds must be the same plan: a local plan of the same number (from before
  // coordination, or a store that was wiped) is another plan, and adopting it would run the wrong steps.
  Stmt same(db_, "SELECT kind, from_region, to_region, created_ms FROM plans WHERE id = ?");
  same.bind(1, plan.id);
  if (same.step() != SQLITE_ROW) return same.error();
  if (same.text(0) != plan.kind || same.text(1) != plan.from || same.text(2) != plan.to ||
      same.i64(3) != plan.created_ms) {
    return makeError("conflict", "plan id " + std::to_string(plan.id) + " in this journal is another plan (" +
                                     same.text(0) + " " + same.text(1) + " -> " + same.text(2) +
                                     "); not adopting the shared plan under it");
  }
  Stmt r(db_, "UPDATE plans SET state = 'running' WHERE id = ?");
  r.bind(1, plan.id);
  if (r.step() != SQLITE_DONE) return r.error();
  for (const StepRecord& step : plan.steps) {
    // A step done anywhere is done here; a step this journal saw started stays started (resumed).
    Stmt s(db_,
           "INSERT INTO steps (plan_id, idx, action, state) VALUES (?, ?, ?, ?) ON CONFLICT (plan_id, idx) DO UPDATE "
           "SET state = CASE WHEN excluded.state IN ('done', 'failed') THEN excluded.state ELSE steps.state END");
    s.bind(1, plan.id).bind(2, int64_t{step.idx}).bind(3, step.action).bind(4, step.state);
    if (s.step() != SQLITE_DONE) return s.error();
  }
  e.plan_id = plan.id;
  if (auto ev = insertEvent(e); !ev) return ev.error();
  return tx.commit();
}

Result<void> Journal::setPlanStateUnnoted(int64_t plan_id, const std::string& state, JournalEvent e) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto b = tx.begun(); !b) return b;
  const bool final =
      state == "done" || state == "failed" || state == "deposed" || state == "rejected" || state == "expired";
  Stmt s(db_, "UPDATE plans SET state = ?, finished_ms = CASE WHEN ? THEN ? ELSE finished_ms END WHERE id = ?");
  s.bind(1, state).bind(2, int64_t{final}).bind(3, e.ts_ms).bind(4, plan_id);
  if (s.step() != SQLITE_DONE) return s.error();
  if (sqlite3_changes(db_) != 1) return makeError("not_found", "no plan " + std::to_string(plan_id));
  e.plan_id = plan_id;
  if (auto r = insertEvent(e); !r) return r.error();
  return tx.commit();
}

Result<void> Journal::stepStartedUnnoted(int64_t plan_id, int idx, int attempt, JournalEvent e) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto b = tx.begun(); !b) return b;
  Stmt s(db_,
         "UPDATE steps SET state = 'started', attempts = ?, started_ms = CASE WHEN started_ms = 0 THEN ? ELSE "
         "started_ms END "
         "WHERE plan_id = ? AND idx = ?");
  s.bind(1, int64_t{attempt}).bind(2, e.ts_ms).bind(3, plan_id).bind(4, int64_t{idx});
  if (s.step() != SQLITE_DONE) return s.error();
  e.plan_id = plan_id;
  e.step = idx;
  if (auto r = insertEvent(e); !r) return r.error();
  return tx.commit();
}

Result<void> Journal::stepFinishedUnnoted(int64_t plan_id, int idx, const std::string& state, JournalEvent e) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto b = tx.begun(); !b) return b;
  Stmt s(db_, "UPDATE steps SET state = ?, finished_ms = ?, detail = ? WHERE plan_id = ? AND idx = ?");
  s.bind(1, state).bind(2, e.ts_ms).bind(3, redactSecrets(e.detail)).bind(4, plan_id).bind(5, int64_t{idx});
  if (s.step() != SQLITE_DONE) return s.error();
  e.plan_id = plan_id;
  e.step = idx;
  if (auto r = insertEvent(e); !r) return r.error();
  return tx.commit();
}

Result<std::vector<PlanRecord>> Journal::loadPlans(const std::string& where, const std::string& arg,
                                                   size_t limit) const {
  const std::string sql =
      "SELECT id, created_ms, kind, from_region, to_region, reason, state, forced, operator, dry_run, finished_ms "
      "FROM plans " +
      where + " ORDER BY id DESC LIMIT " + std::to_string(limit);
  Stmt p(db_, sql.c_str());
  if (!p.ok()) return p.error();
  if (!arg.empty()) p.bind(1, arg);
  std::vector<PlanRecord> plans;
  // A read that fails part-way is an error, not fewer plans: a running plan missed at start is not resumed.
  int rc = SQLITE_ROW;
  while ((rc = p.step()) == SQLITE_ROW) {
    PlanRecord r;
    r.id = p.i64(0);
    r.created_ms = p.i64(1);
    r.kind = p.text(2);
    r.from = p.text(3);
    r.to = p.text(4);
    r.reason = p.text(5);
    r.state = p.text(6);
    r.forced = p.i64(7) != 0;
    r.operator_requested = p.i64(8) != 0;
    r.dry_run = p.i64(9) != 0;
    r.finished_ms = p.i64(10);
    plans.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return p.error();
  for (PlanRecord& r : plans) {
    Stmt s(db_,
           "SELECT idx, action, state, attempts, started_ms, finished_ms, detail FROM steps WHERE plan_id = ? ORDER BY "
           "idx");
    if (!s.ok()) return s.error();
    s.bind(1, r.id);
    while ((rc = s.step()) == SQLITE_ROW) {
      r.steps.push_back({static_cast<int>(s.i64(0)), s.text(1), s.text(2), static_cast<int>(s.i64(3)), s.i64(4),
                         s.i64(5), s.text(6)});
    }
    if (rc != SQLITE_DONE) return s.error();
  }
  return plans;
}

Result<std::optional<PlanRecord>> Journal::plan(int64_t id) const {
  std::lock_guard lock(mu_);
  auto plans = loadPlans("WHERE id = ?1", std::to_string(id), 1);
  if (!plans) return plans.error();
  if (plans.value().empty()) return std::optional<PlanRecord>();
  return std::optional<PlanRecord>(std::move(plans.value()[0]));
}

Result<std::vector<PlanRecord>> Journal::plansInState(const std::string& state) const {
  std::lock_guard lock(mu_);
  return loadPlans("WHERE state = ?1", state, 1000);
}

Result<std::vector<PlanRecord>> Journal::recentPlans(size_t limit) const {
  std::lock_guard lock(mu_);
  return loadPlans("", "", limit);
}

Result<int64_t> Journal::lastPlanId() const {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT COALESCE(MAX(id), 0) FROM plans");
  if (!s.ok()) return s.error();
  if (s.step() != SQLITE_ROW) return s.error();
  return s.i64(0);
}

Result<std::vector<DoneStep>> Journal::doneSteps() const {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "SELECT s.action, p.to_region, p.id, s.idx, s.finished_ms FROM steps s JOIN plans p ON p.id = s.plan_id "
         "WHERE s.state = 'done' AND p.dry_run = 0 ORDER BY s.finished_ms, p.id, s.idx");
  if (!s.ok()) return s.error();
  std::vector<DoneStep> out;
  while (s.step() == SQLITE_ROW) {
    out.push_back({s.text(0), s.text(1), s.i64(2), static_cast<int>(s.i64(3)), s.i64(4)});
  }
  return out;
}

Result<void> Journal::setMeta(const std::string& key, const std::string& value) { return setMetas({{key, value}}); }

Result<void> Journal::setMetasUnnoted(const std::vector<std::pair<std::string, std::string>>& values) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto b = tx.begun(); !b) return b;
  for (const auto& [key, value] : values) {
    Stmt s(db_, "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    s.bind(1, key).bind(2, value);
    if (s.step() != SQLITE_DONE) return s.error();
  }
  return tx.commit();
}

Result<std::optional<std::string>> Journal::meta(const std::string& key) const {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT value FROM meta WHERE key = ?");
  if (!s.ok()) return s.error();
  s.bind(1, key);
  if (s.step() == SQLITE_ROW) return std::optional<std::string>(s.text(0));
  return std::optional<std::string>();
}

// Every write goes through here: whether the journal can be written is known from the last write. Only
// the store's own errors count: a plan that is not here, or is another plan, says nothing about the disk.
template <typename T>
Result<T> Journal::noted(Result<T> r) {
  const int64_t now_ms = toUnixMillis(SystemClock::instance().wallNow());
  std::lock_guard lock(health_mu_);
  if (r.ok()) {
    health_ = JournalHealth{};
  } else if (r.error().code == "journal") {
    if (health_.writable) health_.failing_since_ms = now_ms;
    health_.writable = false;
    health_.error = r.error().message;
  }
  return r;
}

JournalHealth Journal::health() const {
  std::lock_guard lock(health_mu_);
  return health_;
}

Result<void> Journal::probe() {
  const std::string now = std::to_string(toUnixMillis(SystemClock::instance().wallNow()));
  Result<void> r;
  {
    // Without waiting for another process's lock: the caller is the tick thread.
    std::lock_guard lock(mu_);
    const ScopedBusyTimeout wait(db_, 0, kBusyTimeoutMs);
    Transaction tx(db_);
    if (r = tx.begun(); r.ok()) {
      Stmt s(db_,
             "INSERT INTO meta (key, value) VALUES ('journal_probe_ms', ?) "
             "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
      s.bind(1, now);
      r = s.step() == SQLITE_DONE ? tx.commit() : Result<void>(s.error());
    }
  }
  return noted(std::move(r));
}

Result<int64_t> Journal::event(const JournalEvent& e) { return noted(eventUnnoted(e)); }
Result<void> Journal::appendEvents(std::span<const JournalEvent> batch, std::chrono::milliseconds wait) {
  if (batch.empty()) return {};  // no write, so nothing learnt about the journal
  return noted(appendEventsUnnoted(batch, wait));
}
Result<void> Journal::createPlan(PlanRecord& plan, JournalEvent decision) {
  return noted(createPlanUnnoted(plan, std::move(decision)));
}
Result<void> Journal::adoptPlan(const PlanRecord& plan, JournalEvent e) {
  return noted(adoptPlanUnnoted(plan, std::move(e)));
}
Result<void> Journal::setPlanState(int64_t plan_id, const std::string& state, JournalEvent e) {
  return noted(setPlanStateUnnoted(plan_id, state, std::move(e)));
}
Result<void> Journal::stepStarted(int64_t plan_id, int idx, int attempt, JournalEvent e) {
  return noted(stepStartedUnnoted(plan_id, idx, attempt, std::move(e)));
}
Result<void> Journal::stepFinished(int64_t plan_id, int idx, const std::string& state, JournalEvent e) {
  return noted(stepFinishedUnnoted(plan_id, idx, state, std::move(e)));
}
Result<void> Journal::setMetas(const std::vector<std::pair<std::string, std::string>>& values) {
  return noted(setMetasUnnoted(values));
}

}  // namespace hale::aggregator
