// Scheduler: each check on its own thread, and a watchdog that reports a probe ignoring its deadline as a
// timeout and discards the probe's late result. Real threads and the real clock; nothing here is bounded
// by a wall-clock figure: only the order of what is recorded.

#include "scheduler.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "process.h"

namespace hale::agent {
namespace {

using std::chrono::milliseconds;

// A probe that does not honour its deadline: it answers "pass" only when the test lets it go.
class StuckCheck final : public Check {
 public:
  CheckResult run(const CheckContext&) noexcept override {
    std::unique_lock lock(mu_);
    ++started_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_; });
    return {Outcome::pass, "late answer"};
  }
  void release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  int started() {
    std::lock_guard lock(mu_);
    return started_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  int started_ = 0;
};

class PassCheck final : public Check {
 public:
  CheckResult run(const CheckContext&) noexcept override { return {Outcome::pass, "ok"}; }
};

ConfiguredCheck configured(const std::string& name, std::shared_ptr<Check> check, milliseconds interval,
                           milliseconds timeout) {
  ConfiguredCheck c;
  c.settings.name = name;
  c.settings.type = "test";
  c.settings.interval = interval;
  c.settings.timeout = timeout;
  c.check = std::move(check);
  return c;
}

TEST(Scheduler, AProbePastItsDeadlineIsReportedAsATimeoutAndItsLateResultDiscarded) {
  auto stuck = std::make_shared<StuckCheck>();
  const std::vector<ConfiguredCheck> checks{
      configured("stuck", stuck, milliseconds{5000}, milliseconds{100}),
      configured("fine", std::make_shared<PassCheck>(), milliseconds{50}, milliseconds{40})};
  auto board = std::make_shared<HealthBoard>("n1", "eu", checks);
  Scheduler scheduler(checks, board, SystemClock::instance());
  scheduler.start();
  // The watchdog sleeps until the stuck run's deadline: it reports it although nothing else wakes it
  // for that run.
  ASSERT_TRUE(test::waitFor([&] { return board->snapshot()->checks[0].timeouts == 1; }, milliseconds{10000}));
  CheckView view = board->snapshot()->checks[0];
  EXPECT_EQ(view.last_outcome, Outcome::error);
  EXPECT_EQ(view.message, "timed out after 100ms");
  // The other check was never held up by it.
  EXPECT_GT(board->snapshot()->checks[1].runs, 0u);
  // Its late answer is not recorded.
  stuck->release();
  ASSERT_TRUE(test::waitFor([&] { return board->snapshot()->checks[1].runs > 5; }, milliseconds{10000}));
  view = board->snapshot()->checks[0];
  EXPECT_EQ(view.runs, 1u);
  EXPECT_EQ(view.last_outcome, Outcome::error);
  EXPECT_EQ(view.timeouts, 1u);
  EXPECT_TRUE(scheduler.stop());
}

// Thousands of short runs, each one woken for and watched: none is ever taken for a hang (the watchdog
// judges each run by its own deadline, set with its running flag in one step).
TEST(Scheduler, RunsThatAnswerInTimeAreNeverReportedHung) {
  const std::vector<ConfiguredCheck> checks{
      configured("a", std::make_shared<PassCheck>(), milliseconds{1}, milliseconds{2000}),
      configured("b", std::make_shared<PassCheck>(), milliseconds{1}, milliseconds{2000})};
  auto board = std::make_shared<HealthBoard>("n1", "eu", checks);
  Scheduler scheduler(checks, board, SystemClock::instance());
  scheduler.start();
  ASSERT_TRUE(test::waitFor(
      [&] {
        auto s = board->snapshot();
        return s->checks[0].runs > 2000 && s->checks[1].runs > 2000;
      },
      milliseconds{30000}));
  EXPECT_TRUE(scheduler.stop());
  auto s = board->snapshot();
  EXPECT_EQ(s->checks[0].timeouts + s->checks[1].timeouts, 0u);
  EXPECT_EQ(s->checks[0].last_outcome, Outcome::pass);
}

}  // namespace
}  // namespace hale::agent
