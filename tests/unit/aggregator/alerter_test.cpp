// The alerter: the key every observer's copy of one alert carries (a pager folds copies by it and pairs an
// end with its start), and what it does with alerts a slow pager leaves waiting.

#include <gtest/gtest.h>

#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>

#include "alerter.h"
#include "clock.h"
#include "journal.h"
#include "process.h"
#include "stderr_capture.h"
#include "temp_dir.h"

namespace hale::aggregator {
namespace {

TEST(AlertKey, IsTheClusterTheEventWithoutItsSignAndTheSubjectOrTheObserver) {
  EXPECT_EQ(alertKey("prod", "us", {"+split-brain", "eu-1", "fenced"}), "prod/split-brain/eu-1");
  EXPECT_EQ(alertKey("prod", "us", {"-split-brain", "eu-1", "unfenced"}), "prod/split-brain/eu-1");
  EXPECT_EQ(alertKey("prod", "us", {"+node-failed", "eu-2", ""}), "prod/node-failed/eu-2");
  EXPECT_EQ(alertKey("prod", "us", {"+node-failed", "eu-2", ""}), alertKey("prod", "eu", {"+node-failed", "eu-2", ""}));
  // The aggregator's own events are each observer's own; deciding alone there is one.
  EXPECT_EQ(alertKey("prod", "us", {"+tilt", "", "the clock jumped"}), "prod/tilt/us");
  EXPECT_NE(alertKey("prod", "us", {"+tilt", "", ""}), alertKey("prod", "eu", {"+tilt", "", ""}));
  EXPECT_EQ(alertKey("prod", "", {"+tilt", "", ""}), "prod/tilt");
  EXPECT_NE(alertKey("prod", "us", {"+split-brain", "eu-1", ""}), alertKey("test", "us", {"+split-brain", "eu-1", ""}));
  EXPECT_NE(alertKey("prod", "us", {"+split-brain", "eu-1", ""}), alertKey("prod", "us", {"+split-brain", "eu-2", ""}));
}

// A pager that takes each alert and holds it until released (or the alerter stops).
class HeldPager final : public Action {
 public:
  ActionResult execute(const ActionRequest& r) override {
    std::unique_lock lock(mu_);
    ++taken_;
    cv_.notify_all();
    // The cancel flag comes with no notification: it is polled, as real actions do between attempts.
    while (!cv_.wait_for(lock, std::chrono::milliseconds{5}, [&] { return released_ || r.cancel->load(); })) {
    }
    return released_ ? ActionResult{ActionStatus::applied, "paged"}
                     : ActionResult{ActionStatus::retryable, "cancelled"};
  }
  void release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  int taken() {
    std::lock_guard lock(mu_);
    return taken_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  int taken_ = 0;
};

class AlerterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto j = Journal::open(dir_.path() + "/journal.db");
    ASSERT_TRUE(j.ok()) << j.error().message;
    journal_ = std::move(j.value());
    actions_["page"] = {"page", "test", StepPolicy{std::chrono::seconds{60}, 1, std::chrono::milliseconds{10}}, pager_};
  }
  std::unique_ptr<Alerter> alerter() {
    AlertConfig config;
    config.actions = {"page"};
    config.events = {"+split-brain"};
    return std::make_unique<Alerter>(config, actions_, *journal_, clock_, "us", "prod");
  }
  static Event splitBrain(int i) { return {"+split-brain", "eu-" + std::to_string(i), "writable"}; }
  std::string log() const {
    std::ifstream in(dir_.path() + "/stderr");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  test::TempDir dir_{"alerter"};
  ManualClock clock_;
  std::unique_ptr<Journal> journal_;
  std::shared_ptr<HeldPager> pager_ = std::make_shared<HeldPager>();
  ActionTable actions_;
};

// A pager slower than the alerts: kMaxPending (256) wait behind the one being sent, the rest are dropped
// and counted, never queued without bound; once the pager answers, every kept one is sent, in order.
TEST_F(AlerterTest, AtMost256WaitBehindASlowPagerAndTheRestAreDroppedAndCounted) {
  static_assert(Alerter::kMaxPending == 256);
  auto a = alerter();
  a->start();
  a->notify(splitBrain(0));
  ASSERT_TRUE(test::waitFor([&] { return pager_->taken() == 1; }, std::chrono::milliseconds{5000}));
  a->notify({"+node-failed", "eu-1", ""});  // not an alerting event: neither kept nor dropped
  for (int i = 1; i <= 300; ++i) a->notify(splitBrain(i));
  EXPECT_EQ(a->dropped(), 300u - 256u);
  EXPECT_EQ(a->sent(), 0u);
  pager_->release();
  ASSERT_TRUE(test::waitFor([&] { return a->sent() == 257u; }, std::chrono::milliseconds{10000})) << a->sent();
  // Counted before journaled: the stop lets the last journal write end (nothing waits, so nothing drops).
  a->stop();
  EXPECT_EQ(pager_->taken(), 257);
  EXPECT_EQ(a->failed(), 0u);
  EXPECT_EQ(a->dropped(), 44u);
  auto events = journal_->events(1000);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events.value().size(), 257u);
  // The kept ones are the first 256 after the one in flight, sent in the order they came.
  std::vector<std::string> subjects;
  for (const auto& e : events.value()) {
    EXPECT_EQ(e.name, "+alert-sent");
    subjects.push_back(e.subject);
  }
  std::vector<std::string> expected;
  for (int i = 0; i <= 256; ++i) expected.push_back("eu-" + std::to_string(i));
  EXPECT_EQ(subjects, expected);
}

// A stop does not wait for a slow pager: the alert being sent is cancelled, those still waiting are
// dropped, counted and logged once (-alerts-dropped), and nothing more is sent.
TEST_F(AlerterTest, AStopDropsTheWaitingAlertsCountsAndLogsThem) {
  auto a = alerter();
  a->start();
  a->notify(splitBrain(0));
  ASSERT_TRUE(test::waitFor([&] { return pager_->taken() == 1; }, std::chrono::milliseconds{5000}));
  for (int i = 1; i <= 10; ++i) a->notify(splitBrain(i));
  {
    test::StderrToFile capture(dir_.path() + "/stderr");
    a->stop();
  }
  EXPECT_EQ(a->dropped(), 10u);
  EXPECT_EQ(a->sent(), 0u);
  EXPECT_EQ(a->failed(), 1u);  // the one cancelled mid-send, journaled as failed
  EXPECT_EQ(pager_->taken(), 1);
  const std::string said = log();
  EXPECT_NE(said.find("-alerts-dropped 10 alerts waiting to be sent are dropped at stop"), std::string::npos) << said;
  EXPECT_EQ(test::occurrences(said, "-alerts-dropped"), 1u) << said;
  a->notify(splitBrain(11));  // after the stop: nothing would send it, so it is counted dropped
  a->stop();
  EXPECT_EQ(a->dropped(), 11u);
  EXPECT_EQ(pager_->taken(), 1);
}

}  // namespace
}  // namespace hale::aggregator
