#include "plan_runner.h"

#include <algorithm>
#include <thread>

#include "log.h"

namespace hale::aggregator {
namespace {

constexpr std::chrono::milliseconds kMaxBackoff{30000};

// Sleeps up to `d`, waking early on cancel. False when cancelled.
bool sleepFor(std::chrono::milliseconds d, const std::atomic<bool>& cancel) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    if (cancel.load()) return false;
    std::this_thread::sleep_for(std::min(std::chrono::milliseconds{20}, d));
  }
  return !cancel.load();
}

}  // namespace

PlanRunner::PlanRunner(Journal& journal, const ActionTable& actions, const Clock& clock, StepCounters& counters,
                       std::chrono::milliseconds max_retry_after)
    : journal_(journal), actions_(actions), clock_(clock), counters_(counters), max_retry_after_(max_retry_after) {}

ActionRequest PlanRunner::request(const PlanRecord& plan, const StepRecord& step,
                                  const std::atomic<bool>& cancel) const {
  ActionRequest req;
  req.request_id = std::to_string(plan.id) + "." + std::to_string(step.idx);
  req.plan_id = plan.id;
  req.step = step.idx;
  req.event = plan.kind;
  req.from = plan.from;
  req.to = plan.to;
  req.reason = plan.reason;
  req.forced = plan.forced;
  req.cancel = &cancel;
  req.clock = &clock_;
  return req;
}

std::string PlanRunner::gates(const PlanRecord& plan, const std::atomic<bool>& cancel) {
  for (const StepRecord& step : plan.steps) {
    const auto it = actions_.find(step.action);
    if (it == actions_.end())
      return "step " + std::to_string(step.idx) + ": action " + step.action + " is not configured";
    const ConfiguredAction& a = it->second;
    ActionRequest req = request(plan, step, cancel);
    auto backoff = a.policy.backoff;
    for (int attempt = 1;; ++attempt) {
      req.deadline = clock_.steadyNow() + a.policy.timeout;
      const ActionResult r = guarded([&] { return a.action->gate(req); });
      if (r.status == ActionStatus::applied || r.status == ActionStatus::already_applied) break;
      std::string why = "step " + std::to_string(step.idx) + " " + step.action + ": " + r.detail;
      if (r.status == ActionStatus::permanent || attempt >= a.policy.attempts) return why;
      if (!sleepFor(backoff, cancel)) return why + " (stopping)";
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  }
  return "";
}

PlanRunner::StepEnd PlanRunner::runStep(const PlanRecord& plan, const StepRecord& step, const std::atomic<bool>& cancel,
                                        StepFence* fence, std::string& detail) {
  const auto it = actions_.find(step.action);
  if (it == actions_.end()) {
    detail = "action " + step.action + " is not configured";
    return StepEnd::failed;
  }
  const ConfiguredAction& a = it->second;
  ActionRequest req = request(plan, step, cancel);
  req.epoch = fence != nullptr ? fence->epoch() : 0;
  if (auto pre = a.action->preflight(req); !pre) {
    detail = "preflight: " + pre.error().message;
    return StepEnd::failed;
  }
  auto backoff = a.policy.backoff;
  const bool bounded = a.policy.deadline.count() > 0;
  const SteadyTime step_deadline = clock_.steadyNow() + a.policy.deadline;
  for (int attempt = step.attempts + 1;; ++attempt) {
    const std::string resumed =
        step.state == "started" && attempt == step.attempts + 1 ? " (resumed after restart)" : "";
    const std::string intent =
        step.action + " attempt " + std::to_string(attempt) + "/" + std::to_string(a.policy.attempts) + resumed;
    // The attempt's bound counts from before the fence and the journal, so a slow store or disk never
    // stretches it: a new leader's takeover wait relies on it.
    const SteadyTime attempt_start = clock_.steadyNow();
    // With several aggregators, the epoch is checked (and the intent shared) before every attempt: a leader
    // deposed while it slept or retried acts no more.
    if (fence != nullptr) {
      auto bound = a.policy.timeout;
      if (bounded)
        bound = std::min(bound, std::chrono::duration_cast<std::chrono::milliseconds>(step_deadline - attempt_start));
      if (auto f = fence->beforeAttempt(plan, step.idx, bound); !f) {
        detail = f.error().code + ": " + f.error().message;
        halt_ = f.error();
        return StepEnd::halted;
      }
    }
    if (auto r =
            journal_.stepStarted(plan.id, step.idx, attempt, {0, nowMs(), "+plan-step-start", step.action, intent});
        !r) {
      detail = "journal: " + r.error().message;  // never act without the intent on disk
      return StepEnd::failed;
    }
    logInfo("+plan-step-start",
            "plan " + std::to_string(plan.id) + " step " + std::to_string(step.idx) + ": " + intent);
    req.deadline = attempt_start + a.policy.timeout;
    if (bounded) req.deadline = std::min(req.deadline, step_deadline);
    ActionResult result = guarded([&] { return a.action->execute(req); });
    if (result.status == ActionStatus::applied || result.status == ActionStatus::already_applied) {
      const ActionResult verified = guarded([&] { return a.action->verify(req); });
      if (verified.status == ActionStatus::applied || verified.status == ActionStatus::already_applied) {
        detail = std::string(toString(result.status)) + (result.detail.empty() ? "" : ": " + result.detail);
        return StepEnd::done;
      }
      result = {verified.status == ActionStatus::permanent ? ActionStatus::permanent : ActionStatus::retryable,
                "verify: " + verified.detail};
    }
    detail = std::string(toString(result.status)) + ": " + result.detail;
    if (result.status == ActionStatus::permanent || attempt >= a.policy.attempts) return StepEnd::failed;
    if (cancel.load()) return StepEnd::failed;
    // A server's Retry-After is honoured up to the global maximum (an API answering "in 11 days" must not
    // park the plan), and never past the step's deadline (checked next).
    const auto asked = result.retry_after;
    const auto wait = std::max(backoff, std::min(asked, max_retry_after_));
    const std::string capped = asked > max_retry_after_ ? " (the server asked for " + std::to_string(asked.count()) +
                                                              "ms; capped by max_retry_after)"
                                                        : "";
    if (bounded && clock_.steadyNow() + wait >= step_deadline) {
      detail += "; step deadline of " + std::to_string(a.policy.deadline.count()) + "ms reached";
      return StepEnd::failed;
    }
    counters_.retried.fetch_add(1, std::memory_order_relaxed);
    const std::string retry = detail + "; retrying in " + std::to_string(wait.count()) + "ms" + capped;
    journaled(journal_.event({0, nowMs(), "+plan-step-retry", step.action, retry, plan.id, step.idx}),
              "+plan-step-retry " + detail);
    logWarn("+plan-step-retry", "plan " + std::to_string(plan.id) + " step " + std::to_string(step.idx) + " (" +
                                    step.action + "): " + retry);
    if (!sleepFor(wait, cancel)) return StepEnd::failed;
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

ActionResult PlanRunner::guarded(const std::function<ActionResult()>& call) {
  // An action that throws fails this attempt (retryable, within its attempts), not the aggregator: a crash
  // here would resume into the same step and crash again.
  try {
    return call();
  } catch (const std::exception& e) {
    counters_.exceptions.fetch_add(1, std::memory_order_relaxed);
    return {ActionStatus::retryable, std::string("unexpected error: ") + e.what()};
  } catch (...) {
    counters_.exceptions.fetch_add(1, std::memory_order_relaxed);
    return {ActionStatus::retryable, "unexpected error"};
  }
}

std::string PlanRunner::halt(const PlanRecord& plan, int step, const Error& why) {
  const std::string pid = std::to_string(plan.id);
  if (why.code == "deposed") {
    // Another leader owns the plan now and resumes it at its first unfinished step; this aggregator never
    // acts on it again under the epoch it had.
    journaled(
        journal_.setPlanState(plan.id, "deposed",
                              {0, nowMs(), "-plan-deposed", plan.to,
                               "step " + std::to_string(step) + ": refused by epoch: " + why.message, plan.id, step}),
        "-plan-deposed " + pid);
    logError("-plan-deposed", "plan " + pid + " step " + std::to_string(step) + ": " + why.message);
    return "deposed";
  }
  journaled(journal_.event({0, nowMs(), "-plan-held", plan.to,
                            "step " + std::to_string(step) + ": coordination unavailable (" + why.message +
                                "); resumes when this aggregator leads again",
                            plan.id, step}),
            "-plan-held " + pid);
  logError("-plan-held", "plan " + pid + " step " + std::to_string(step) + ": " + why.message);
  return "held";
}

std::string PlanRunner::run(const PlanRecord& plan, const std::atomic<bool>& cancel, StepFence* fence,
                            const std::vector<std::string>& on_failure) {
  std::string outcome = runSteps(plan, cancel, fence);
  if (outcome == "failed" && !on_failure.empty()) runOnFailure(plan, on_failure, cancel);
  return outcome;
}

void PlanRunner::runOnFailure(const PlanRecord& plan, const std::vector<std::string>& names,
                              const std::atomic<bool>& cancel) {
  for (size_t i = 0; i < names.size() && !cancel.load(); ++i) {
    const auto it = actions_.find(names[i]);
    if (it == actions_.end()) continue;  // the config check names it
    StepRecord step;
    step.idx = static_cast<int>(i);
    step.action = names[i];
    ActionRequest req = request(plan, step, cancel);
    req.request_id = std::to_string(plan.id) + ".failure." + std::to_string(i);
    req.event = "failure";
    req.reason = plan.kind + " " + plan.from + " -> " + plan.to + " failed (plan " + std::to_string(plan.id) +
                 "; see halectl plans)";
    req.deadline = clock_.steadyNow() + it->second.policy.timeout;
    const ActionResult r = guarded([&] { return it->second.action->execute(req); });
    const bool ok = r.status == ActionStatus::applied || r.status == ActionStatus::already_applied;
    const std::string detail =
        names[i] + ": " + std::string(toString(r.status)) + (r.detail.empty() ? "" : ": " + r.detail);
    journaled(journal_.event({0, nowMs(), ok ? "+plan-on-failure" : "-plan-on-failure", plan.to, detail, plan.id}),
              "+plan-on-failure " + detail);
    if (ok) {
      logInfo("+plan-on-failure", "plan " + std::to_string(plan.id) + ": " + detail);
    } else {
      logError("-plan-on-failure", "plan " + std::to_string(plan.id) + ": " + detail);
    }
  }
}

std::string PlanRunner::runSteps(const PlanRecord& plan, const std::atomic<bool>& cancel, StepFence* fence) {
  // A fresh plan passes every step's gate before its first step acts: one that cannot promote does not
  // fence. A resumed plan has acted already; its remaining steps meet their gates as they run.
  const bool fresh = std::all_of(plan.steps.begin(), plan.steps.end(),
                                 [](const StepRecord& s) { return s.state == "pending" && s.attempts == 0; });
  if (fresh) {
    if (const std::string refused = gates(plan, cancel); !refused.empty()) {
      if (cancel.load()) return "";
      const std::string why = "refused before any step ran: " + refused;
      if (fence != nullptr) {
        if (auto f = fence->finish(plan, "failed"); !f) return halt(plan, 0, f.error());
      }
      journaled(journal_.setPlanState(plan.id, "failed", {0, nowMs(), "-plan-failed", plan.to, why}),
                "-plan-failed " + std::to_string(plan.id));
      logError("-plan-failed", "plan " + std::to_string(plan.id) + ": " + why);
      return "failed";
    }
  }
  for (const StepRecord& step : plan.steps) {
    if (step.state == "done" || step.state == "skipped") continue;  // finished before a restart: never again
    if (step.state == "failed") {
      // Failed under an earlier run (another leader's): a resumed plan never retries it; it ends failed, and
      // automation waits for an operator as after any failed plan.
      const std::string why =
          "step " + std::to_string(step.idx) + " " + step.action + " failed before the plan resumed";
      if (fence != nullptr) {
        if (auto f = fence->finish(plan, "failed"); !f) return halt(plan, step.idx, f.error());
      }
      journaled(journal_.setPlanState(plan.id, "failed", {0, nowMs(), "-plan-failed", plan.to, why}),
                "-plan-failed " + std::to_string(plan.id));
      logError("-plan-failed", "plan " + std::to_string(plan.id) + ": " + why);
      return "failed";
    }
    std::string detail;
    const StepEnd end = runStep(plan, step, cancel, fence, detail);
    if (end == StepEnd::halted) return halt(plan, step.idx, halt_);
    const bool ok = end == StepEnd::done;
    if (cancel.load() && !ok) return "";  // shutting down: the step stays "started", resumed next time
    const std::string pid = std::to_string(plan.id);
    if (!ok) {
      counters_.failed.fetch_add(1, std::memory_order_relaxed);
      journaled(
          journal_.stepFinished(plan.id, step.idx, "failed", {0, nowMs(), "-plan-step-failed", step.action, detail}),
          "-plan-step-failed " + detail);
      logError("-plan-step-failed",
               "plan " + pid + " step " + std::to_string(step.idx) + " (" + step.action + "): " + detail);
      if (fence != nullptr) {
        if (auto f = fence->afterStep(plan, step.idx, false); !f) return halt(plan, step.idx, f.error());
        if (auto f = fence->finish(plan, "failed"); !f) return halt(plan, step.idx, f.error());
      }
      const std::string why = "step " + std::to_string(step.idx) + " " + step.action + " failed: " + detail;
      journaled(journal_.setPlanState(plan.id, "failed", {0, nowMs(), "-plan-failed", plan.to, why}),
                "-plan-failed " + pid);
      logError("-plan-failed", "plan " + pid + ": " + why);
      return "failed";
    }
    const int64_t done_ms = nowMs();
    if (auto r = journal_.stepFinished(plan.id, step.idx, "done", {0, done_ms, "+plan-step-done", step.action, detail});
        !r) {
      logError("-journal-write-failed", r.error().message);
      return "failed";
    }
    counters_.done.fetch_add(1, std::memory_order_relaxed);
    if (on_step_done_) on_step_done_(plan, step, done_ms);
    logInfo("+plan-step-done",
            "plan " + pid + " step " + std::to_string(step.idx) + " (" + step.action + "): " + detail);
    if (fence != nullptr) {
      if (auto f = fence->afterStep(plan, step.idx, true); !f) return halt(plan, step.idx, f.error());
    }
  }
  if (fence != nullptr) {
    if (auto f = fence->finish(plan, "done"); !f) return halt(plan, static_cast<int>(plan.steps.size()), f.error());
  }
  journaled(journal_.setPlanState(
                plan.id, "done",
                {0, nowMs(), "+plan-done", plan.to, plan.kind + " " + plan.from + " -> " + plan.to + " complete"}),
            "+plan-done " + std::to_string(plan.id));
  logInfo("+plan-done", "plan " + std::to_string(plan.id) + ": " + plan.kind + " " + plan.from + " -> " + plan.to);
  return "done";
}

}  // namespace hale::aggregator
