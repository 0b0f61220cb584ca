// Scheduler: each check on its own thread, and a watchdog that reports a probe ignoring its deadline as a
// timeout and discards the probe's late result. Real threads and the real clock; nothing here is bounded
// by a wall-clock figure: only the order of what is recorded.

#include "scheduler.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

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
  // The stuck check alone: nothing but the watchdog's own timed wake can report it.
  auto stuck = std::make_shared<StuckCheck>();
  const std::vector<ConfiguredCheck> checks{configured("stuck", stuck, milliseconds{5000}, milliseconds{100})};
  auto board = std::make_shared<HealthBoard>("n1", "eu", checks);
  Scheduler scheduler(checks, board, SystemClock::instance());
  scheduler.start();
  ASSERT_TRUE(test::waitFor([&] { return board->snapshot()->checks[0].timeouts == 1; }, milliseconds{10000}));
  CheckView view = board->snapshot()->checks[0];
  EXPECT_EQ(view.last_outcome, Outcome::error);
  EXPECT_EQ(view.message, "timed out after 100ms");
  // Its late answer is not recorded.
  stuck->release();
  std::this_thread::sleep_for(milliseconds{300});
  view = board->snapshot()->checks[0];
  EXPECT_EQ(view.runs, 1u);
  EXPECT_EQ(view.last_outcome, Outcome::error);
  EXPECT_EQ(view.timeouts, 1u);
  EXPECT_TRUE(scheduler.stop());
}

TEST(Scheduler, AHungCheckDoesNotHoldUpAnother) {
  auto stuck = std::make_shared<StuckCheck>();
  const std::vector<ConfiguredCheck> checks{
      configured("stuck", stuck, milliseconds{5000}, milliseconds{100}),
      configured("fine", std::make_shared<PassCheck>(), milliseconds{50}, milliseconds{40})};
  auto board = std::make_shared<HealthBoard>("n1", "eu", checks);
  Scheduler scheduler(checks, board, SystemClock::instance());
  scheduler.start();
  ASSERT_TRUE(test::waitFor([&] { return stuck->started() == 1; }, milliseconds{10000}));
  ASSERT_TRUE(test::waitFor([&] { return board->snapshot()->checks[1].runs > 5; }, milliseconds{10000}));
  EXPECT_NE(board->snapshot()->checks[0].last_outcome, Outcome::pass);  // stuck, or timed out
  stuck->release();
  EXPECT_TRUE(scheduler.stop());
}

// Each run is judged by its own deadline: runs that start after the previous run's deadline and grace
// have passed (interval 200 ms > timeout 30 ms + 100 ms) and answer in time are never reported hung.
TEST(Scheduler, RunsThatAnswerInTimeAreNeverReportedHung) {
  const std::vector<ConfiguredCheck> checks{
      configured("a", std::make_shared<PassCheck>(), milliseconds{200}, milliseconds{30}),
      configured("b", std::make_shared<PassCheck>(), milliseconds{200}, milliseconds{30})};
  auto board = std::make_shared<HealthBoard>("n1", "eu", checks);
  Scheduler scheduler(checks, board, SystemClock::instance());
  scheduler.start();
  ASSERT_TRUE(test::waitFor(
      [&] {
        auto s = board->snapshot();
        return s->checks[0].runs >= 15 && s->checks[1].runs >= 15;
      },
      milliseconds{30000}));
  EXPECT_TRUE(scheduler.stop());
  auto s = board->snapshot();
  EXPECT_EQ(s->checks[0].timeouts + s->checks[1].timeouts, 0u);
  EXPECT_EQ(s->checks[0].last_outcome, Outcome::pass);
}

}  // namespace
}  // namespace hale::agent
