#pragma once

// hale-aggregator's runtime. Threads and what they may do:
//   ingest    ZeroMQ SUB -> decode -> de-duplicate -> observer; never waits on actions nor on event writes
//   tick      advances the observer (silence, TILT, fail static, verdicts), journals events, asks the policy
//   executor  runs one plan at a time (plan_runner), then records the outcome
//   control   the control socket's commands (engine_commands.cpp)
//   coordination (coordination = "etcd" only) publishes our verdicts, campaigns, reads the others back
// The pure core (observer, policy state) is guarded by one mutex, held for in-memory work and while a
// decision taken alone, or a pause or resume, is journaled (so two decisions cannot interleave). With etcd,
// only the leader decides and runs plans; every aggregator adopts the shared plan and state from the store.

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "aggregator_config.h"
#include "control_server.h"
#include "coordination.h"
#include "curve_gate.h"
#include "http_server.h"
#include "ingest_counters.h"
#include "journal.h"
#include "log_limiter.h"
#include "observer.h"
#include "plan_runner.h"
#include "policy.h"
#include "rejected_senders.h"
#include "resource_board.h"
#include "sequence_guard.h"

namespace hale::aggregator {

struct EngineCounters {
  std::atomic<uint64_t> decisions{0};
  StepCounters steps;
  std::atomic<uint64_t> plans_done{0};
  std::atomic<uint64_t> plans_failed{0};
  std::atomic<uint64_t> journal_errors{0};
  std::atomic<uint64_t> journal_events_waiting{0};  // events the journal has not taken yet (a gauge)
  std::atomic<uint64_t> journal_events_dropped{0};  // beyond the waiting bound: only logged
};

class Engine {
 public:
  Engine(AggregatorConfig config, const Clock& clock = SystemClock::instance());
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Opens the journal, restores state, resumes an unfinished plan, binds the sockets, starts the threads.
  Result<void> start();
  void stop();

  // The control socket's commands (also callable directly, e.g. from tests).
  nlohmann::json status() const;
  nlohmann::json regions() const;
  nlohmann::json nodes(const std::string& region) const;
  // The senders refused for who they say they are, newest first (rejected_senders.h).
  nlohmann::json unknownSenders() const;
  // "" when `name` is empty or a configured region; else an error naming the regions there are.
  std::string unknownRegion(const std::string& name) const;
  Result<nlohmann::json> journalEvents(size_t limit) const;
  Result<nlohmann::json> plans(size_t limit) const;
  // The operator's levers; `by` (the control socket's caller, "alice (uid 1000)") goes into the journal.
  Result<nlohmann::json> requestFailover(const std::string& to, bool force, const std::string& by = "an operator");
  Result<nlohmann::json> requestFailback(bool force, const std::string& by = "an operator");
  Result<nlohmann::json> approve(int64_t plan_id, const std::string& by = "an operator");
  Result<nlohmann::json> setPaused(bool paused, const std::string& by = "an operator");
  // Refuses a plan awaiting approval: no failover between those regions for this outage.
  Result<nlohmann::json> reject(int64_t plan_id, const std::string& by = "an operator");
  // With etcd: the coordination view (for halectl and /metrics); nullopt without.
  std::optional<CoordinationView> coordination() const;

  const IngestCounters& ingestCounters() const { return ingest_; }
  uint16_t httpPort() const { return http_ ? http_->port() : 0; }
  std::string metrics() const;

 private:
  void ingestLoop();
  void tickLoop();
  void executorLoop();
  // Counts and remembers a sender refused for who it says it is, and returns what to log (rate-limited),
  // to be logged once no lock is held. `other`: the key's own node (impersonation) or the region the node
  // is listed in (wrong_region).
  struct RefusalLog {
    const char* event = nullptr;  // nullptr: nothing to say about this one
    std::string text;
    std::string summary;  // lines held back since the last one, when any
  };
  RefusalLog refuseSender(IngestReject reason, std::string_view node, std::string_view region, std::string_view other);
  static void logRefusal(const RefusalLog& r);
  // Records where a done step of `action` put its resource (none for an action that moves nothing).
  void placeResource(const std::string& action, ResourcePlacement p);
  // One received frame; `speaker` is the node its CURVE key speaks for ("" in insecure mode).
  void handleFrame(std::string_view frame, std::string_view speaker, heartbeat::Heartbeat& hb,
                   heartbeat::Decoder& decoder);
  // An authenticated heartbeat sent outside max_clock_skew: counted, logged once a minute per node.
  void noteSkewed(const heartbeat::Heartbeat& hb, SteadyTime now);
  // What the policy sees now: our own view, or with etcd the quorum's. Called with mu_ held.
  Observations seenNow(SteadyTime now, const CoordinationView* shared) const;
  // With etcd: adopts the shared state and plan (called with mu_ held), and resumes a running shared plan
  // when we lead and nobody runs it here (called without it).
  void adoptShared(const CoordinationView& v);
  void resumeSharedPlan(const CoordinationView& v);
  Coordinator::Standing standing();  // on the coordinator's thread
  // Why a plan awaiting approval no longer matches what would be decided now ("" when it does), mu_ held.
  // Without etcd: plan `plan_id` from the journal, when it awaits approval.
  Result<std::optional<PlanRecord>> localAwaiting(int64_t plan_id);
  // With etcd: the shared plan `plan_id` awaiting approval, read now, when this aggregator leads.
  Result<Coordinator::SharedRead> sharedAwaiting(const CoordinationView& v, int64_t plan_id);
  std::string staleApproval(const std::string& kind, const std::string& from, const std::string& to,
                            const CoordinationView* shared) const;
  // Journals a failover hold when it starts, changes or clears (with mu_ held).
  void noteHold(const std::string& held, std::vector<Event>& events);
  // Takes the journal's health (as of its last write) and any events still waiting to be written into the
  // state decisions read, logging a change (with mu_ held).
  void noteJournalHealth(const JournalHealth& journal);
  // Sends the tick's alert events through the alerter when this observer pages (tick thread).
  void page(const std::vector<Event>& events, const std::optional<CoordinationView>& shared, SteadyTime now);
  // Whether this observer pages: it leads, or it sees no live leader; not known yet just after a start.
  // `report`: the leader's in `v` (nullptr when none).
  enum class Paging { yes, no, unknown };
  Paging paging(const CoordinationView& v, const ObserverReport* report, SteadyTime now) const;
  void writeUnjournaled(int64_t at_ms);  // tick thread: the waiting events, in one transaction
  Result<void> appendUnjournaled(int64_t at_ms, std::chrono::milliseconds wait);
  void writeUnjournaledAtStop();  // once every thread that decides, leads or writes has ended
  // How long a new leader still waits before running again a step another leadership started.
  std::chrono::milliseconds takeoverWait(const SharedPlan& plan, const CoordinationView& v) const;
  // Decides once more and enacts what acts (serialized by enact_mu_); the error when nothing was enacted.
  Result<nlohmann::json> decideAndEnact(const std::optional<OperatorRequest>& request);
  Result<int64_t> enactShared(const Decision& d, const CoordinationView& v);
  // Journals decision `d` as plan `p` (id 0: a local id) written under `epoch` (0: no coordination).
  Result<void> journalDecision(PlanRecord& p, const Decision& d, int64_t epoch);
  // What a journaled decision changes in memory: a dry run noted, an approval awaited, or the plan queued.
  // Called with mu_ held.
  void noteDecided(const Decision& d, int64_t id, int64_t epoch);
  // The shared state plan `p`'s end leaves, from the store's state `now`.
  SharedState finalState(const PlanRecord& p, const std::string& outcome, const std::optional<SharedState>& now);
  // Logs and journals the tick's events (called without the lock), after any earlier ones the journal has
  // not taken yet; events that have to wait are logged at info level at least.
  void publish(const std::vector<Event>& events);
  // Turns an acting decision into a journaled plan and, unless dry-run or awaiting approval, runs it.
  // Called with mu_ held; journal writes happen under it so no two decisions interleave.
  Result<int64_t> enact(const Decision& d);
  void persistState();
  void appendCoordinationMetrics(std::string& out, SteadyTime now) const;  // with mu_ held
  nlohmann::json coordinationStatus(SteadyTime now) const;                 // with mu_ held
  bool coordinated() const { return coordinator_ != nullptr; }
  void registerCommands();
  int64_t nowMs() const { return toUnixMillis(clock_.wallNow()); }

  AggregatorConfig config_;
  const Clock& clock_;
  std::unique_ptr<Journal> journal_;
  IngestCounters ingest_;
  EngineCounters counters_;

  mutable std::mutex mu_;  // guards everything below up to the threads
  Observer observer_;
  PolicyState state_;
  ResourceBoard resources_;  // where each resource was last put, step by step (under mu_)
  SequenceGuard sequences_;
  std::vector<Event> pending_events_;
  // Why events wait to be written ("" when none do): no automatic decision follows events not on disk.
  // Written by the tick thread only.
  std::string unjournaled_reason_;
  std::deque<int64_t> plan_queue_;
  std::map<int64_t, int64_t> plan_epoch_;  // with etcd: the epoch a queued plan runs under
  int64_t executing_ = 0;                  // the plan the executor runs now
  // The coordinator thread's view of journal health: a failed write makes us unfit to lead for a while.
  static constexpr std::chrono::seconds kJournalUnfitFor{10};
  uint64_t journal_errors_seen_ = 0;
  SteadyTime last_journal_probe_{};  // tick thread only
  // Events the journal has not taken yet, oldest first, written before the next tick's (tick thread only).
  // Bounded: beyond kMaxUnjournaled they are only logged, and counted; the journal then says so.
  static constexpr size_t kMaxUnjournaled = 100000;
  std::vector<JournalEvent> unjournaled_;
  uint64_t unjournaled_dropped_ = 0;
  std::string unjournaled_error_;  // the last write's error, logged once per distinct error
  // Alert events of the last lease, verdict_fresh and a leader eviction's grace that this observer left to
  // the leader: settled when the leader's report lists them as paged, paged here when it does not in time
  // (it does not see them) or once this observer pages (it takes the lead, or the leader goes stale).
  // Deferred: seen while it could not tell yet whether it pages (tick thread only).
  struct UnpagedAlert {
    SteadyTime at;
    Event event;
    bool deferred = false;
  };
  static constexpr size_t kMaxUnpagedAlerts = 256;
  // How much later than another observer one may notice the same event (a heartbeat interval or so).
  static constexpr std::chrono::seconds kDetectionSkew{1};
  std::deque<UnpagedAlert> unpaged_alerts_;
  bool unpaged_full_logged_ = false;
  // Alert keys known paged (sent by this observer's actions, or listed by the leader) whose end this observer
  // has not seen, newest last, at most Coordinator::kMaxReportedPages: published in its report, so an
  // observer that left one to it (or restarts during it) need not page it again. Written by the tick and
  // alerts threads, read by the coordinator's.
  mutable std::mutex paged_mu_;
  std::deque<std::string> known_paged_;
  void notePaged(const std::string& key);  // tick and alerts threads
  // Keys whose end this observer saw while the leader's list still held them (tick thread): that listing is
  // the old episode's (a leader that missed the end), not proof of the next one, until the list drops it.
  std::deque<std::string> distrusted_;
  std::string alertObserver() const;  // the sender named in alerts: the etcd name, or none deciding alone
  std::string alertKeyOf(const Event& e) const;
  std::chrono::milliseconds keepWindow() const;
  static constexpr std::chrono::seconds kJournalProbeEvery{2};
  // How long a write of the waiting events waits for another process's lock: a tick, and at stop.
  static constexpr std::chrono::milliseconds kEventWriteWait{1000};
  // At stop, longer than a tick but well inside the unit's TimeoutStopSec (10 s) with the other steps.
  static constexpr std::chrono::milliseconds kStopWriteWait{2000};
  SteadyTime journal_failed_at_{};
  // A decision awaiting approval expires after approval_timeout (tick thread).
  void expireStaleApproval(SteadyTime now, const std::optional<CoordinationView>& shared);
  std::string awaiting_;  // the awaiting plan id first seen at awaiting_since_, by our clock (under mu_)
  SteadyTime awaiting_since_{};
  std::string hold_;  // the failover hold last journaled ("" none); written by the tick thread under mu_
  int64_t takeover_wait_logged_ = 0;  // the shared plan whose takeover wait was last logged
  int64_t finished_shared_ = 0;       // the last shared plan whose end was written to the store
  std::condition_variable plan_cv_;
  bool stopping_ = false;

  std::mutex enact_mu_;  // one decision enacted at a time (held without mu_ around store writes)
  std::unique_ptr<Coordinator> coordinator_;
  std::atomic<bool> cancel_{false};
  zmq::context_t zmq_{1};
  std::unique_ptr<zmq::socket_t> sub_;
  std::unique_ptr<CurveGate> gate_;  // after zmq_: closed before the context
  // Senders refused for who they say they are (unknown node, wrong region, impersonation): remembered for
  // `halectl nodes --unknown`, logged by name once a minute each (10 lines a minute at most).
  mutable std::mutex senders_mu_;
  RejectedSenders rejected_senders_;                           // under senders_mu_
  LogLimiter sender_log_{std::chrono::minutes{1}, 10};         // under senders_mu_: unknown node, wrong region
  LogLimiter impersonation_log_{std::chrono::minutes{1}, 10};  // under senders_mu_: by the key's node
  LogLimiter skew_log_{std::chrono::minutes{1}, 10};           // under mu_: a node's clock skew, once a minute each
  std::unique_ptr<control::ControlServer> control_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<Alerter> alerter_;
  std::thread ingest_thread_;
  std::thread tick_thread_;
  std::thread executor_thread_;
};

}  // namespace hale::aggregator
