#pragma once

// Several aggregators, one decision, through etcd (DESIGN §9; aggregator/README.md "Coordination").
//
// Every aggregator is an observer: it publishes its own per-region verdicts under a key bound to its own
// lease, so a dead observer's verdicts vanish with it. One of them leads: the holder of the election key
// (put-if-absent, on its lease). Its epoch is the key's create revision, unique per leadership. The shared
// plan and the shared policy state (active region, pause, last failover, a failed plan) live in the store,
// and the leader writes them only in transactions that compare the election key's create revision with its
// epoch, so a deposed leader's late write fails instead of landing.
//
// Keys, under /hale/<cluster>/:  leader  observers/<name>  plan  state  plan_seq
//
// One thread per aggregator renews the lease, publishes, campaigns and reads everything back in one
// transaction every publish_interval. Nothing here decides: the engine tallies the reports (core/quorum)
// and asks whether it leads.
//
// A leader whose own reports have not changed for a lease TTL, while this observer has reached etcd for a
// while, is dead or cut off: its key is deleted (compared on its epoch and on the report seen), rather
// than waited out. etcd extends every lease when its own leader changes, so a region dying with both its
// aggregator and etcd's leader would otherwise hold the election for seconds more. Deleting the key is
// safe: every step's intent is written under the epoch first, so an evicted leader that is alive after all
// cannot start another attempt, and a new leader waits out an attempt in flight (takeover wait).

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "clock.h"
#include "etcd_client.h"
#include "plan_runner.h"
#include "quorum.h"
#include "result.h"

namespace hale::aggregator {

struct CoordinationConfig {
  enum class Mode { none, etcd };
  Mode mode = Mode::none;
  std::string cluster = "hale";
  std::string name;     // this aggregator, as an observer
  QuorumConfig quorum;  // observers, quorum, fresh_within
  etcd::Options store;
  std::string password_file;  // read at start; the password never reaches a log or an answer
  std::chrono::milliseconds lease_ttl{3000};
  std::chrono::milliseconds publish_interval{250};
};

struct SharedStep {
  std::string action;
  std::string state = "pending";  // pending, started, done, failed
  int64_t bound_ms = 0;           // while started: the longest the attempt may run, as its leader configured it
};

// The plan as the store holds it: the one every leader resumes.
struct SharedPlan {
  int64_t id = 0;
  int64_t epoch = 0;  // of the leader that last wrote it
  int64_t created_ms = 0;
  std::string kind;
  std::string from;
  std::string to;
  std::string reason;
  bool forced = false;
  bool operator_requested = false;
  std::string status;  // running, awaiting_approval, done, failed, dry_run
  std::vector<SharedStep> steps;
};

// The policy state every aggregator adopts from the store.
struct SharedState {
  std::string active_region;
  bool paused = false;
  int64_t last_failover_ms = 0;
  std::string blocked_by_failed_plan;
  std::string rejected;  // "from>to" rejected by an operator for the current outage
};

struct CoordinationView {
  bool reachable = false;
  std::string error;  // why not, when not
  std::string leader;
  int64_t epoch = 0;           // the current leader's
  bool leading = false;        // we hold the election key and our lease is valid by our own clock
  SteadyTime leading_since{};  // by our clock, when this leadership (epoch) was first seen: times takeover waits
  std::string unfit;           // why this observer does not campaign now ("" when it does)
  // Since start: rounds that could not reach etcd, leaderships this observer won, and gave up.
  uint64_t etcd_errors = 0;
  uint64_t terms_won = 0;
  uint64_t resignations = 0;
  uint64_t evictions = 0;  // dead leaders' keys this observer deleted
  std::vector<ObserverReport> reports;
  std::optional<SharedPlan> plan;
  bool plan_unreadable = false;  // a plan is there but cannot be read: treated as running (nothing decided)
  int64_t plan_revision = 0;
  std::optional<SharedState> state;
  int64_t state_revision = 0;
};

class Coordinator {
 public:
  // What this observer publishes, asked on the coordinator's thread every round: its own verdicts, and
  // why it may not lead now ("" when it may: an isolated or TILTed observer, or one whose journal fails,
  // does not campaign, and resigns if it leads).
  struct Standing {
    std::vector<std::pair<std::string, Verdict>> verdicts;
    std::string unfit;
    std::vector<std::string> paged{};  // alert keys paged lately, so the others know they need not
  };
  // The most alert keys a report carries, and the longest key read from one (more is not read).
  static constexpr size_t kMaxReportedPages = 64;
  static constexpr size_t kMaxAlertKey = 512;
  static constexpr size_t kMaxReportBytes = size_t{64} << 10;
  using VerdictSource = std::function<Standing()>;
  Coordinator(CoordinationConfig config, const Clock& clock, VerdictSource verdicts);
  ~Coordinator();
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  void start();
  // Revokes the lease: our verdicts and leadership go at once instead of at expiry.
  void stop();

  CoordinationView view() const;
  // True while we lead with `epoch` and our lease is valid by our own clock (checked before every step).
  bool leads(int64_t epoch) const;

  // The leader's writes. Each is one transaction that holds only while the election key's create revision
  // is still `epoch` (error code "deposed" otherwise); "etcd_*" errors mean the store could not be asked.
  // Allocates a cluster-wide plan id (above `floor`, the highest id in the local journal) and writes the
  // plan, only if the shared plan and the shared state are still the ones the decision was made on (seen at
  // `plan_revision` and `state_revision`; 0: none yet): a pause set meanwhile is never decided over.
  Result<int64_t> createPlan(int64_t epoch, SharedPlan plan, int64_t floor, int64_t plan_revision,
                             int64_t state_revision);
  // With `plan_revision` >= 0, only if the shared plan is still the one read at that revision; with
  // `state_revision` >= 0 likewise for the shared state (0: none yet).
  Result<void> updatePlan(int64_t epoch, const SharedPlan& plan, const std::optional<SharedState>& state = {},
                          int64_t plan_revision = -1, int64_t state_revision = -1);
  // The shared plan and state as the store holds them now (not as of the last round), with their
  // revisions, for operator commands that must act on what is current.
  struct SharedRead {
    std::optional<SharedPlan> plan;
    int64_t plan_revision = 0;
    std::optional<SharedState> state;
    int64_t state_revision = 0;
  };
  Result<SharedRead> readShared();
  // An operator's change of the shared state (pause, resume), from any aggregator: compare-and-swap on the
  // revision read in `view()`, so it never overwrites a concurrent change unseen.
  Result<void> updateState(const SharedState& state, int64_t expected_revision);

  // The current leader's epoch as the store says now (0: nobody leads), read directly.
  Result<int64_t> currentEpoch();

  std::string key(const std::string& suffix) const { return prefix_ + suffix; }

 private:
  void loop();
  void round();
  void readBack(const etcd::TxnResult& r, SteadyTime now, const std::string& unfit);
  void resign(const std::string& why);
  void evictSilentLeader(SteadyTime now);
  void lost(const std::string& why);

  CoordinationConfig config_;
  const Clock& clock_;
  VerdictSource verdicts_;
  etcd::Client client_;
  std::string prefix_;
  std::string fingerprint_;  // of our quorum configuration, published with our verdicts

  // The coordinator thread's own state.
  int64_t lease_ = 0;
  std::chrono::milliseconds granted_ttl_{0};
  SteadyTime next_keepalive_{};
  uint64_t published_ = 0;
  struct Sighting {
    int64_t revision = 0;     // of the observer's key when last read
    SteadyTime first_seen{};  // when that revision was first read, by our clock
    SteadyTime sighted{};     // when any revision was first read, by our clock
  };
  std::map<std::string, Sighting> sightings_;  // by observer
  std::string conflict_;                       // a configuration conflict seen in the last round ("" when none)
  SteadyTime reachable_since_{};               // first successful round since etcd was last unreachable (by our clock)
  bool name_clash_ = false;
  std::set<std::string> unlisted_warned_;  // unlisted observers already logged

  mutable std::mutex mu_;
  CoordinationView view_;
  SteadyTime lease_valid_until_{};  // by our own clock: last renewal sent + granted TTL - margin

  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The plan runner's fence with several aggregators: before every attempt, this aggregator must still lead
// with `epoch` by its own clock and the store (else "deposed", or "unavailable" when it cannot tell), and the
// step's intent is written to the shared plan under that epoch; each result and the plan's end likewise.
class EpochFence final : public StepFence {
 public:
  // The shared state a plan's end leaves, from the state the store holds now (nullopt: none yet).
  using FinalState = std::function<SharedState(const std::string& outcome, const std::optional<SharedState>& now)>;
  EpochFence(Coordinator& coordinator, int64_t epoch, SharedPlan plan, FinalState final_state);

  Result<void> beforeAttempt(const PlanRecord& plan, int step, std::chrono::milliseconds bound) override;
  Result<void> afterStep(const PlanRecord& plan, int step, bool done) override;
  Result<void> finish(const PlanRecord& plan, const std::string& outcome) override;
  int64_t epoch() const override { return epoch_; }

 private:
  Coordinator& coordinator_;
  int64_t epoch_;
  SharedPlan plan_;
  FinalState final_state_;
};

// The shared form of a journaled plan, and back (a plan another aggregator started, to adopt).
SharedPlan sharedPlan(const PlanRecord& p, const std::string& status);
PlanRecord planRecord(const SharedPlan& p);

}  // namespace hale::aggregator
