#pragma once

// Shared by the action and provider tests: an action built from its config text through the aggregator's
// own config loader (as in production), and a request for it.

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>

#include "aggregator_config.h"

namespace hale::aggregator::test {

// `body` holds the action's keys (type included); the action is named "a".
inline std::shared_ptr<Action> actionFromConfig(const std::string& body) {
  auto c = parseAggregatorConfig(
      "listen = [\"tcp://127.0.0.1:1\"]\n[[region]]\nname = \"eu\"\nrole = \"active\"\nnodes = [\"x\"]\n"
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

}  // namespace hale::aggregator::test
