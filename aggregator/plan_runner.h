#pragma once

// Runs a failover plan's steps in order. For each step, from the first one not done: the intent is
// journaled before each attempt (+plan-step-start), the result after (+plan-step-done, -plan-step-failed).
// Retryable outcomes are retried with doubling backoff (and a server's Retry-After) within the step's
// attempts; a permanent outcome, or running out of attempts, stops the plan: no later step runs. A step
// journaled as started but not finished (the aggregator died during it) is run again with the same request
// id, which idempotent actions turn into already_applied.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "action.h"
#include "journal.h"

namespace hale::aggregator {

struct ConfiguredAction {
  std::string name;
  std::string type;
  StepPolicy policy;
  std::shared_ptr<Action> action;
  std::string resource = {};  // what a done step changes (ActionType::resource, or the action's `resource` key)
};

using ActionTable = std::map<std::string, ConfiguredAction>;

struct StepCounters {
  std::atomic<uint64_t> done{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> retried{0};
  std::atomic<uint64_t> exceptions{0};  // an action threw: a bug or an answer it did not expect
};

// Lets a plan go on only while this aggregator may act on it: with several aggregators, the fencing epoch
// of the leader (coordination.h). Each call returns an error whose code is "deposed" (another leader took
// over: stop, and never retry under this epoch) or anything else (the coordination store could not be
// asked: stop before acting; the plan resumes when this aggregator leads again).
class StepFence {
 public:
  virtual ~StepFence() = default;
  // `bound`: how long the attempt may run at most (shared, so a next leader waits it out).
  virtual Result<void> beforeAttempt(const PlanRecord& plan, int step, std::chrono::milliseconds bound) = 0;
  virtual Result<void> afterStep(const PlanRecord& plan, int step, bool done) = 0;
  virtual Result<void> finish(const PlanRecord& plan, const std::string& outcome) = 0;  // "done", "failed"
  // The epoch actions write under (ActionRequest::epoch).
  virtual int64_t epoch() const { return 0; }
};

class PlanRunner {
 public:
  // `max_retry_after`: the longest a server's Retry-After is honoured ([guards] max_retry_after).
  PlanRunner(Journal& journal, const ActionTable& actions, const Clock& clock, StepCounters& counters,
             std::chrono::milliseconds max_retry_after = std::chrono::seconds{60});

  // Runs `plan` to its end; returns "done" or "failed" (also journaled as the plan's state), "" when
  // `cancel` stopped it (the plan stays running and resumes on the next start), and with a fence
  // "deposed" (journaled, the plan's local state too) or "held" (journaled; the plan stays running).
  // When the plan ends failed (a step failed, or a gate refused it), each `on_failure` action runs once,
  // best effort, journaled (+plan-on-failure), with request id "<plan>.failure.<i>" and event "failure".
  std::string run(const PlanRecord& plan, const std::atomic<bool>& cancel, StepFence* fence = nullptr,
                  const std::vector<std::string>& on_failure = {});
  // Called after each step's completion is journaled (resource_board.h), with its Unix ms.
  void onStepDone(std::function<void(const PlanRecord&, const StepRecord&, int64_t)> f) {
    on_step_done_ = std::move(f);
  }

 private:
  enum class StepEnd { done, failed, halted };
  // Every step's gate, before a fresh plan's first step; "" when all pass, else why the plan cannot run.
  std::string gates(const PlanRecord& plan, const std::atomic<bool>& cancel);
  std::string runSteps(const PlanRecord& plan, const std::atomic<bool>& cancel, StepFence* fence);
  void runOnFailure(const PlanRecord& plan, const std::vector<std::string>& actions, const std::atomic<bool>& cancel);
  ActionRequest request(const PlanRecord& plan, const StepRecord& step, const std::atomic<bool>& cancel) const;
  StepEnd runStep(const PlanRecord& plan, const StepRecord& step, const std::atomic<bool>& cancel, StepFence* fence,
                  std::string& detail);
  std::string halt(const PlanRecord& plan, int step, const Error& why);
  ActionResult guarded(const std::function<ActionResult()>& call);
  int64_t nowMs() const { return toUnixMillis(clock_.wallNow()); }

  Journal& journal_;
  const ActionTable& actions_;
  const Clock& clock_;
  StepCounters& counters_;
  std::chrono::milliseconds max_retry_after_;
  Error halt_;  // why the last step halted
  std::function<void(const PlanRecord&, const StepRecord&, int64_t)> on_step_done_;
};

}  // namespace hale::aggregator
