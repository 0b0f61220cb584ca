#pragma once

// The aggregator's journal: SQLite in WAL mode. Every decision, plan, step start and step result, and
// every named state change, is written here before (intent) and after (result) it happens, so an incident
// can be reconstructed and a restarted aggregator resumes an unfinished plan at its first unfinished step.
// Secrets never reach it: providers keep them out of the details they return, and every detail written
// has the secrets this process read redacted (common/secret_file.h), in case a server echoed one.
// Thread-safe: one connection behind a mutex; each call is one transaction.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "result.h"

struct sqlite3;

namespace hale::aggregator {

struct JournalEvent {
  int64_t id = 0;
  int64_t ts_ms = 0;    // Unix milliseconds
  std::string name;     // "+decision", "+plan-step-start", "+region-down", ...
  std::string subject;  // node, region or empty
  std::string detail;
  int64_t plan_id = 0;  // 0: not about a plan
  int step = -1;        // -1: not about a step
  int64_t epoch = -1;   // the leadership epoch in force (0: no leader, or no coordination); -1: the journal's
};

struct StepRecord {
  int idx = 0;
  std::string action;
  std::string state = "pending";  // pending, started, done, failed, skipped
  int attempts = 0;
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  std::string detail;
};

// A step that completed (done), with its plan's target region: what a resource was last changed to.
struct DoneStep {
  std::string action;
  std::string region;  // the plan's target
  int64_t plan_id = 0;
  int idx = 0;
  int64_t finished_ms = 0;
};

struct PlanRecord {
  int64_t id = 0;
  int64_t created_ms = 0;
  std::string kind;  // failover, failback
  std::string from;
  std::string to;
  std::string reason;
  std::string state;  // awaiting_approval, running, done, failed, dry_run
  bool forced = false;
  bool operator_requested = false;
  bool dry_run = false;
  int64_t finished_ms = 0;
  std::vector<StepRecord> steps;
};

// For a journal write that failed after the fact (what it records already happened and cannot be undone):
// logs it loudly, so the log holds what the journal could not. Returns whether the write succeeded.
bool journaled(const Result<void>& r, const std::string& what);
bool journaled(const Result<int64_t>& r, const std::string& what);

// Whether the last write succeeded: a journal that cannot be written holds every new decision (nothing acts
// on what is not on disk), and says so in `halectl raw status` and /metrics.
struct JournalHealth {
  bool writable = true;
  std::string error;             // the last failed write's error
  int64_t failing_since_ms = 0;  // Unix ms of the first failure since the last success
};

class Journal {
 public:
  static Result<std::unique_ptr<Journal>> open(const std::string& path);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  Result<int64_t> event(const JournalEvent& e);
  // Several events in one transaction (one sync to disk): all of them, in order, or none. A tick's events
  // (10 000 nodes going silent at once are 10 000 events) are written so, or the tick thread would wait
  // for a sync per event before deciding.
  // Waits `wait` at most for another process's write lock (the tick thread's events: 1 s).
  Result<void> appendEvents(std::span<const JournalEvent> batch,
                            std::chrono::milliseconds wait = std::chrono::milliseconds{kEventBusyTimeoutMs});
  // The newest `limit` events (of one plan when plan_id != 0), oldest first.
  Result<std::vector<JournalEvent>> events(size_t limit, int64_t plan_id = 0) const;

  // Inserts the plan, its steps and the decision event in one transaction. A plan whose id is 0 gets the
  // next local id; a nonzero id (allocated cluster-wide by the coordination store) is kept.
  Result<void> createPlan(PlanRecord& plan, JournalEvent decision);
  // Takes over a plan another aggregator started (ids are cluster-wide): inserts it when absent, marks the
  // steps the store says are done as done, and sets it running, with `e` in the same transaction.
  Result<void> adoptPlan(const PlanRecord& plan, JournalEvent e);
  Result<void> setPlanState(int64_t plan_id, const std::string& state, JournalEvent e);
  // Step intent (before running it) and result (after), each with its event, each one transaction.
  Result<void> stepStarted(int64_t plan_id, int idx, int attempt, JournalEvent e);
  Result<void> stepFinished(int64_t plan_id, int idx, const std::string& state, JournalEvent e);

  Result<std::optional<PlanRecord>> plan(int64_t id) const;
  Result<std::vector<PlanRecord>> plansInState(const std::string& state) const;
  Result<std::vector<PlanRecord>> recentPlans(size_t limit) const;
  // The highest plan id written here (0: none), which a shared plan's id must pass.
  Result<int64_t> lastPlanId() const;
  // Every done step of a plan that was not a dry run, oldest first.
  Result<std::vector<DoneStep>> doneSteps() const;

  // Every event written from now on carries `epoch` (the leadership epoch this aggregator acts under, or
  // the leader's it follows).
  void setEpoch(int64_t epoch) { epoch_.store(epoch); }
  int64_t epoch() const { return epoch_.load(); }

  Result<void> setMeta(const std::string& key, const std::string& value);
  // Several keys in one transaction: all of them or none.
  Result<void> setMetas(const std::vector<std::pair<std::string, std::string>>& values);
  Result<std::optional<std::string>> meta(const std::string& key) const;

  JournalHealth health() const;
  // A small real write (a meta key), to learn whether a journal that failed can be written again; it does
  // not wait for another process's lock.
  Result<void> probe();

 private:
  template <typename T>
  Result<T> noted(Result<T> r);
  Result<int64_t> eventUnnoted(const JournalEvent& e);
  Result<void> appendEventsUnnoted(std::span<const JournalEvent> batch, std::chrono::milliseconds wait);
  Result<void> createPlanUnnoted(PlanRecord& plan, JournalEvent decision);
  Result<void> adoptPlanUnnoted(const PlanRecord& plan, JournalEvent e);
  Result<void> setPlanStateUnnoted(int64_t plan_id, const std::string& state, JournalEvent e);
  Result<void> stepStartedUnnoted(int64_t plan_id, int idx, int attempt, JournalEvent e);
  Result<void> stepFinishedUnnoted(int64_t plan_id, int idx, const std::string& state, JournalEvent e);
  Result<void> setMetasUnnoted(const std::vector<std::pair<std::string, std::string>>& values);

  explicit Journal(sqlite3* db) : db_(db) {}
  Result<void> exec(const char* sql) const;
  Result<int64_t> insertEvent(const JournalEvent& e) const;
  Result<std::vector<PlanRecord>> loadPlans(const std::string& where, const std::string& arg, size_t limit) const;

  mutable std::mutex mu_;
  static constexpr int kBusyTimeoutMs = 5000;       // plans, steps, state: worth waiting for
  static constexpr int kEventBusyTimeoutMs = 1000;  // events: the tick thread writes them
  mutable std::mutex health_mu_;
  JournalHealth health_;
  sqlite3* db_;
  std::atomic<int64_t> epoch_{0};
};

}  // namespace hale::aggregator
