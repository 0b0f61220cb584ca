#pragma once

// The provider interface every failover step goes through. An action reads the current state, changes
// only what differs (idempotent for a given request id), and verifies. Outcomes tell the plan runner
// what to do next: applied / already_applied (go on), retryable (try again, within limits), permanent
// (stop the plan). Details go to the journal: never put a secret in them.

#include <atomic>
#include <chrono>
#include <string>

#include "clock.h"
#include "result.h"

namespace hale::aggregator {

struct ActionRequest {
  std::string request_id;  // "<plan>.<step>": the same on a retry or after a restart
  int64_t plan_id = 0;
  int step = 0;
  std::string event;  // failover, failback
  std::string from;
  std::string to;
  std::string reason;
  bool forced = false;  // the operator forced the decision (skips gates such as the RPO lag gate)
  // Alerts only ("" for plan steps): the aggregator sending this copy (its etcd observer name; "" deciding
  // alone), and a key every observer's copy of one alert shares, so a pager can fold them (alerter.h).
  std::string observer;
  std::string alert_key;
  int64_t epoch = 0;      // the leader's fencing epoch with etcd coordination; 0 without
  SteadyTime deadline{};  // this attempt must give up by then
  const std::atomic<bool>* cancel = nullptr;
  const Clock* clock = nullptr;
};

enum class ActionStatus { applied, already_applied, retryable, permanent };
std::string_view toString(ActionStatus s);

struct ActionResult {
  ActionStatus status = ActionStatus::permanent;
  std::string detail;
  std::chrono::milliseconds retry_after{0};  // a server's Retry-After, honoured by the runner
};

class Action {
 public:
  virtual ~Action() = default;
  // Checks without I/O that the request can be served (e.g. the target region is one this action knows).
  virtual Result<void> preflight(const ActionRequest&) const { return {}; }
  // Checks, with I/O but no side effect, that the action can succeed now (e.g. the RPO lag gate of a
  // promotion). Run for every step of a plan before its first step does anything, so a plan that could
  // not promote does not fence first. applied: passes; permanent: refuses; retryable: cannot tell yet.
  virtual ActionResult gate(const ActionRequest&) { return {ActionStatus::applied, ""}; }
  // Brings the world to the desired state. Must be safe to call again with the same request id.
  virtual ActionResult execute(const ActionRequest& request) = 0;
  // Confirms the desired state without side effects. Default: trust execute().
  virtual ActionResult verify(const ActionRequest&) { return {ActionStatus::applied, ""}; }
};

// For actions that poll (a change to propagate, a task to finish, a standby to replay): waits `interval`
// and returns true, or returns false at once when the attempt's deadline would pass first, or as soon as
// the request is cancelled.
bool pauseBeforePoll(const ActionRequest& r, std::chrono::milliseconds interval);

// Retry settings every action has, from its config table.
struct StepPolicy {
  std::chrono::milliseconds timeout{30000};  // per attempt
  int attempts = 3;
  std::chrono::milliseconds backoff{1000};  // doubles after each retryable failure, capped at 30 s
  // The whole step, attempts and backoff included; 0: no limit beyond attempts x timeout.
  std::chrono::milliseconds deadline{0};
};

}  // namespace hale::aggregator
