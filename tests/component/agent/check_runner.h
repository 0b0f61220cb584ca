#pragma once

// Builds one check from TOML text through the agent's own config loader and runs it once, as the
// scheduler would, timing the run.

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>

#include "agent_config.h"

namespace hale::agent::test {

struct Run {
  CheckResult result;
  std::chrono::milliseconds elapsed{0};
};

inline std::shared_ptr<Check> makeCheck(const std::string& body) {
  auto config = parseAgentConfig("region = \"t\"\n[[check]]\nname = \"c\"\n" + body, "test.toml");
  if (!config) {
    ADD_FAILURE() << config.error().message;
    return nullptr;
  }
  return config.value().checks.at(0).check;
}

inline Run runCheck(Check& check, std::chrono::milliseconds timeout) {
  static std::atomic<bool> never{false};
  const Clock& clock = SystemClock::instance();
  const auto t0 = clock.steadyNow();
  const CheckContext ctx{t0 + timeout, &never, &clock};
  Run r;
  r.result = check.run(ctx);
  r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock.steadyNow() - t0);
  return r;
}

inline Run runCheck(const std::string& body, std::chrono::milliseconds timeout = std::chrono::milliseconds{2000}) {
  auto check = makeCheck(body);
  if (!check) return {};
  return runCheck(*check, timeout);
}

inline const char* name(Outcome o) {
  switch (o) {
    case Outcome::pass: return "pass";
    case Outcome::warn: return "warn";
    case Outcome::fail: return "fail";
    case Outcome::error: return "error";
  }
  return "?";
}

#define EXPECT_OUTCOME(run, expected)                                                                \
  EXPECT_STREQ(::hale::agent::test::name((run).result.outcome), ::hale::agent::test::name(expected)) \
      << (run).result.message

}  // namespace hale::agent::test
