// The invariant checker must see what it is there to see: two databases taking writes at once, and an
// acknowledged write the survivor lacks. Fake sessions stand in for the databases.

#include "invariants.h"

#include <gtest/gtest.h>

#include "clock.h"

namespace hale::drill {
namespace {

using std::chrono::milliseconds;

// Takes writes while `*writable`; records the ids of the rows it committed.
class FakeSession : public SqlSession {
 public:
  FakeSession(const std::atomic<bool>* writable, const std::atomic<bool>* silent, std::set<int64_t>* rows,
              std::mutex* mu, std::atomic<int>* oks, const std::atomic<int>* delay = nullptr)
      : writable_(writable), silent_(silent), rows_(rows), mu_(mu), oks_(oks), delay_(delay) {}
  Answer run(const std::vector<std::string>& statements) override {
    // Decided when sent; with a delay set, the answer reaches the client that much later.
    const bool writable = *writable_;
    if (delay_ != nullptr && *delay_ > 0) std::this_thread::sleep_for(milliseconds{delay_->load()});
    if (!writable) return *silent_ ? Answer::no_answer : Answer::refused;
    ++*oks_;
    const std::string& s = statements.front();
    if (s.rfind("INSERT INTO writes VALUES (", 0) == 0) {
      std::lock_guard lock(*mu_);
      rows_->insert(std::stoll(s.substr(27)));
    }
    return Answer::ok;
  }

 private:
  const std::atomic<bool>* writable_;
  const std::atomic<bool>* silent_;  // not writable means no answer, rather than a refusal
  std::set<int64_t>* rows_;
  std::mutex* mu_;
  std::atomic<int>* oks_;          // answers ok so far
  const std::atomic<int>* delay_;  // ms each answer takes to arrive (none if null)
};

struct FakePair {
  std::atomic<bool> eu_writable{true};
  std::atomic<bool> us_writable{false};
  std::atomic<bool> dns_at_us{false};
  std::atomic<bool> eu_silent{false};
  std::atomic<bool> us_silent{false};
  std::atomic<int> eu_oks{0};
  std::atomic<int> us_oks{0};
  std::atomic<int> eu_delay_ms{0};
  std::mutex mu;
  std::set<int64_t> eu_rows;
  std::set<int64_t> us_rows;

  InvariantWatch watch() {
    return InvariantWatch(
        {{"eu", "192.0.2.10",
          [this] {
            return std::make_unique<FakeSession>(&eu_writable, &eu_silent, &eu_rows, &mu, &eu_oks, &eu_delay_ms);
          }},
         {"us", "198.51.100.10",
          [this] { return std::make_unique<FakeSession>(&us_writable, &us_silent, &us_rows, &mu, &us_oks); }}},
        [this] { return std::vector<std::string>{dns_at_us ? "198.51.100.10" : "192.0.2.10"}; });
  }
};

int64_t nowMs() { return toUnixMillis(SystemClock::instance().wallNow()); }

TEST(InvariantWatch, SeesTwoWritablePrimariesAndTheWritesTheSurvivorLacks) {
  FakePair p;
  InvariantWatch w = p.watch();
  w.start();
  std::this_thread::sleep_for(milliseconds{300});
  const int64_t fault = nowMs();
  p.us_writable = true;  // promoted while eu still takes writes: a split brain of about 400 ms
  std::this_thread::sleep_for(milliseconds{400});
  p.eu_writable = false;
  p.dns_at_us = true;
  std::this_thread::sleep_for(milliseconds{300});
  w.stop();
  // us never replicated eu's rows: every write eu acknowledged is missing from it.
  std::set<int64_t> us_rows;
  {
    std::lock_guard lock(p.mu);
    us_rows = p.us_rows;
  }
  const InvariantReport r = w.report(fault, "us", us_rows, "eu");
  EXPECT_GT(r.longest_two_writable_ms, 0);  // how long depends on the prober's scheduling: seen, is the point
  EXPECT_EQ(r.missing.size(), p.eu_rows.size());
  EXPECT_FALSE(r.missing.empty());
  EXPECT_GT(r.missing_after_fault, 0u) << "eu acknowledged writes during the split brain that us lacks";
  ASSERT_TRUE(r.writes_resumed_ms);
  EXPECT_GE(*r.writes_resumed_ms, 400);  // DNS named us only after the 400 ms
  EXPECT_TRUE(r.last_write_on_old_ms);   // eu took writes after the fault
  // The first of eu's lost post-fault writes came right after the fault, its last about 400 ms later.
  EXPECT_GE(r.oldest_missing_after_fault_before_end_ms, 200);
  EXPECT_NE(r.summary().find("ms before the old primary's last acknowledged write"), std::string::npos) << r.summary();
}

TEST(InvariantWatch, AFailoverWithoutOverlapOrLossReportsNone) {
  FakePair p;
  InvariantWatch w = p.watch();
  w.start();
  std::this_thread::sleep_for(milliseconds{300});
  const int64_t fault = nowMs();
  p.eu_writable = false;
  std::this_thread::sleep_for(milliseconds{200});
  p.us_writable = true;
  p.dns_at_us = true;
  std::this_thread::sleep_for(milliseconds{300});
  w.stop();
  std::set<int64_t> all;
  {
    std::lock_guard lock(p.mu);
    all = p.eu_rows;  // replicated: the survivor holds eu's rows and its own
    all.insert(p.us_rows.begin(), p.us_rows.end());
  }
  const InvariantReport r = w.report(fault, "us", all, "eu");
  EXPECT_EQ(r.longest_two_writable_ms, 0);
  EXPECT_GT(r.probe_rounds, 5u);
  EXPECT_GT(r.acknowledged, 5u);
  EXPECT_TRUE(r.missing.empty());

  // A write the survivor itself acknowledged after the fault and then lacks is never asynchronous
  // replication's loss: it is counted apart, whatever the old primary did.
  ASSERT_FALSE(p.us_rows.empty());
  all.erase(*p.us_rows.begin());
  const InvariantReport lost = w.report(fault, "us", all, "eu");
  EXPECT_EQ(lost.missing.size(), 1u);
  EXPECT_EQ(lost.missing_after_fault_elsewhere, 1u);
  EXPECT_EQ(lost.oldest_missing_after_fault_before_end_ms, 0);
}

// A database that stops answering is not taken for read-only: eu goes silent (a hang) while us is promoted,
// and the checker counts the overlap; eu's refusal afterwards ends it.
TEST(InvariantWatch, ADatabaseThatStopsAnsweringStillCountsAsWritable) {
  FakePair p;
  InvariantWatch w = p.watch();
  w.start();
  std::this_thread::sleep_for(milliseconds{300});
  const int64_t fault = nowMs();
  p.eu_silent = true;
  p.eu_writable = false;  // no answer from eu: proves nothing
  std::this_thread::sleep_for(milliseconds{200});
  p.us_writable = true;
  std::this_thread::sleep_for(milliseconds{300});
  p.eu_silent = false;  // eu's refusals come through: its writable span ends
  std::this_thread::sleep_for(milliseconds{300});
  w.stop();
  const InvariantReport r = w.report(fault, "us", {}, "eu");
  EXPECT_GT(r.longest_two_writable_ms, 0);
  EXPECT_TRUE(r.old_writable_before_fault);
  EXPECT_TRUE(r.survivor_writable_at_end);
}

// At the end, the survivor's last proven state counts: probes that time out as the watch stops (a loaded
// machine) prove nothing, a refusal before them does.
TEST(InvariantWatch, TheSurvivorsLastProvenStateCountsAtTheEnd) {
  for (const bool refused_first : {false, true}) {
    FakePair p;
    p.eu_writable = false;
    p.us_writable = true;
    InvariantWatch w = p.watch();
    w.start();
    std::this_thread::sleep_for(milliseconds{300});
    p.us_writable = false;
    if (refused_first) std::this_thread::sleep_for(milliseconds{300});  // refusals first
    p.us_silent = true;
    std::this_thread::sleep_for(milliseconds{300});
    w.stop();
    EXPECT_EQ(w.report(nowMs(), "us", {}, "eu").survivor_writable_at_end, !refused_first) << refused_first;
  }
}

// A server verified gone (the fence saw its process end) is not writable from then, whatever its probes
// still waiting on a time-out say later; a promotion after that instant is no overlap, one before it is.
TEST(InvariantWatch, AServerVerifiedGoneCountsAsRefusedFromThen) {
  for (const bool promoted_before_gone : {false, true}) {
    FakePair p;
    InvariantWatch w = p.watch();
    w.start();
    std::this_thread::sleep_for(milliseconds{300});
    const int64_t fault = nowMs();
    p.eu_silent = true;  // hung: its probes answer nothing from here to the end
    p.eu_writable = false;
    std::this_thread::sleep_for(milliseconds{200});
    int64_t gone = 0;
    if (!promoted_before_gone) gone = nowMs();
    std::this_thread::sleep_for(milliseconds{100});
    const int64_t promoted = nowMs();
    p.us_writable = true;
    // us answered ok (and, 100 ms on, that answer is recorded) before the mark: an overlap to see, however
    // late a loaded machine runs the probers.
    const auto us_answered = std::chrono::steady_clock::now() + std::chrono::seconds{5};
    while (p.us_oks == 0 && std::chrono::steady_clock::now() < us_answered) {
      std::this_thread::sleep_for(milliseconds{5});
    }
    ASSERT_GT(p.us_oks, 0);
    std::this_thread::sleep_for(milliseconds{100});
    if (promoted_before_gone) gone = nowMs();
    std::this_thread::sleep_for(milliseconds{200});
    w.stop();
    // Without the mark eu's silence keeps it writable to the end: two writable primaries either way.
    EXPECT_GT(w.report(fault, "us", {}, "eu").longest_two_writable_ms, 0) << promoted_before_gone;
    w.gone("eu", gone);
    w.gone("elsewhere", fault);  // a region not watched changes nothing
    const InvariantReport r = w.report(fault, "us", {}, "eu");
    if (promoted_before_gone) {
      // us's first ok came after its promotion and before the mark: the overlap is at most that stretch.
      EXPECT_GT(r.longest_two_writable_ms, 0);
      EXPECT_LE(r.longest_two_writable_ms, gone - promoted);
    } else {
      EXPECT_EQ(r.longest_two_writable_ms, 0);
    }
    EXPECT_TRUE(r.old_writable_before_fault);
    EXPECT_TRUE(r.survivor_writable_at_end);
  }
}

// A prober running late: eu took its probes' writes before it was verified gone, but their ok answers
// are recorded only after the mark and after us's promotion. They prove eu writable before the mark, not
// after it: no overlap.
TEST(InvariantWatch, AnOkSentBeforeTheMarkAndRecordedAfterItCountsAtTheMark) {
  FakePair p;
  InvariantWatch w = p.watch();
  w.start();
  std::this_thread::sleep_for(milliseconds{300});
  const int64_t fault = nowMs();
  p.eu_delay_ms = 400;                             // from here each eu answer arrives 400 ms after it was decided
  std::this_thread::sleep_for(milliseconds{100});  // probes sent meanwhile are taken: ok, still to arrive
  p.eu_writable = false;
  const int64_t gone = nowMs();
  std::this_thread::sleep_for(milliseconds{50});
  p.us_writable = true;
  const auto us_answered = std::chrono::steady_clock::now() + std::chrono::seconds{5};
  while (p.us_oks == 0 && std::chrono::steady_clock::now() < us_answered) {
    std::this_thread::sleep_for(milliseconds{5});
  }
  ASSERT_GT(p.us_oks, 0);
  std::this_thread::sleep_for(milliseconds{600});  // the late oks, then eu's refusals, arrive
  w.stop();
  w.gone("eu", gone);
  const InvariantReport r = w.report(fault, "us", {}, "eu");
  EXPECT_EQ(r.longest_two_writable_ms, 0);
  EXPECT_TRUE(r.old_writable_before_fault);
  EXPECT_TRUE(r.survivor_writable_at_end);
}

}  // namespace
}  // namespace hale::drill
