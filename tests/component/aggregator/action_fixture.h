#pragma once

// Shared by the action and provider tests: an action built from its config text through the aggregator's
// own config loader (as in production), and a request for it.

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>

#include "aggregator_config.h"
#include "plan_runner.h"
#include "temp_dir.h"

namespace hale::aggregator::test {

// `body` holds the action's keys (type included); the action is named "a".
inline std::shared_ptr<Action> actionFromConfig(const std::string& body) {
  auto c = parseAggregatorConfig(
      "coordination = \"none\"\ninsecure = true\nlisten = [\"tcp://127.0.0.1:1\"]\n[[region]]\nname = \"eu\"\nrole = "
      "\"active\"\nnodes "
      "= [\"x\"]\n"
      "[[action]]\nname = \"a\"\n" +
          body,
      "test.toml");
  if (!c) {
    ADD_FAILURE() << c.error().message;
    return nullptr;
  }
  return c.value().actions.at("a").action;
}

// Plan 7, step 2, a failover from eu to us.
inline ActionRequest actionRequest(std::chrono::milliseconds timeout = std::chrono::seconds{20}, bool forced = false) {
  static std::atomic<bool> never{false};
  ActionRequest r;
  r.request_id = "7.2";
  r.plan_id = 7;
  r.step = 2;
  r.event = "failover";
  r.from = "eu";
  r.to = "us";
  r.reason = "region eu down";
  r.forced = forced;
  r.clock = &SystemClock::instance();
  r.deadline = r.clock->steadyNow() + timeout;
  r.cancel = &never;
  return r;
}

// Runs `action` as the single step of a journaled plan through the real PlanRunner (retries, backoff,
// Retry-After, deadline) and returns the step as journaled.
inline StepRecord runAsPlanStep(std::shared_ptr<Action> action, StepPolicy policy, std::string* plan_state = nullptr) {
  hale::test::TempDir dir("plan-step");
  auto journal = Journal::open(dir.path() + "/journal.db");
  if (!journal) {
    ADD_FAILURE() << journal.error().message;
    return {};
  }
  ActionTable actions;
  actions["a"] = ConfiguredAction{"a", "test", policy, std::move(action)};
  PlanRecord plan;
  plan.kind = "failover";
  plan.from = "eu";
  plan.to = "us";
  plan.reason = "test";
  plan.state = "running";
  plan.steps.push_back({0, "a"});
  EXPECT_TRUE(journal.value()->createPlan(plan, {0, 1, "+decision", "", ""}).ok());
  StepCounters counters;
  std::atomic<bool> cancel{false};
  PlanRunner runner(*journal.value(), actions, SystemClock::instance(), counters);
  const std::string state = runner.run(*journal.value()->plan(plan.id).value(), cancel);
  if (plan_state != nullptr) *plan_state = state;
  return journal.value()->plan(plan.id).value()->steps.at(0);
}

}  // namespace hale::aggregator::test
