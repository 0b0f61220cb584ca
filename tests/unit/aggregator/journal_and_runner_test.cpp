// The journal on a real SQLite file and the plan runner over it, with the record action.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include <future>
#include <thread>

#include <fstream>

#include "aggregator_config.h"
#include "journal.h"
#include "plan_runner.h"
#include "temp_dir.h"

namespace hale::aggregator {
namespace {

PlanRecord planOf(const std::vector<std::string>& actions) {
  PlanRecord p;
  p.created_ms = 1000;
  p.kind = "failover";
  p.from = "eu";
  p.to = "us";
  p.reason = "test";
  p.state = "running";
  for (size_t i = 0; i < actions.size(); ++i) p.steps.push_back({static_cast<int>(i), actions[i]});
  return p;
}

std::vector<std::string> lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// Actions come from config text, as in production.
ActionTable actionsFrom(const std::string& dir, const std::string& extra = "") {
  auto c = parseAggregatorConfig(
      "coordination = \"none\"\ninsecure = true\nlisten = [\"tcp://127.0.0.1:1\"]\n[[region]]\nname = \"eu\"\nrole = "
      "\"active\"\nnodes "
      "= [\"a\"]\n"
      "[[action]]\nname = \"one\"\ntype = \"record\"\npath = \"" +
          dir +
          "/record\"\nlabel = \"one\"\n"
          "[[action]]\nname = \"two\"\ntype = \"record\"\npath = \"" +
          dir +
          "/record\"\nlabel = \"two\"\n"
          "[[action]]\nname = \"flaky\"\ntype = \"record\"\npath = \"" +
          dir +
          "/record\"\nlabel = \"flaky\"\n"
          "fail_first = 2\nbackoff = \"10ms\"\n"
          "[[action]]\nname = \"broken\"\ntype = \"record\"\npath = \"" +
          dir + "/record\"\nfail = \"permanent\"\n" + extra,
      "t.toml");
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
  return c.ok() ? std::move(c.value().actions) : ActionTable{};
}

TEST(Journal, PersistsPlansStepsEventsAndMetaAcrossReopen) {
  test::TempDir dir("journal");
  const std::string path = dir.path() + "/j.db";
  int64_t id = 0;
  {
    auto j = Journal::open(path);
    ASSERT_TRUE(j.ok()) << j.error().message;
    EXPECT_EQ(j.value()->lastPlanId().value(), 0);
    PlanRecord p = planOf({"one", "two"});
    ASSERT_TRUE(j.value()->createPlan(p, {0, 1000, "+decision", "failover eu -> us", "why"}).ok());
    id = p.id;
    ASSERT_TRUE(j.value()->stepStarted(id, 0, 1, {0, 1001, "+plan-step-start", "one", "attempt 1"}).ok());
    ASSERT_TRUE(j.value()->stepFinished(id, 0, "done", {0, 1002, "+plan-step-done", "one", "applied"}).ok());
    ASSERT_TRUE(j.value()->setMeta("active_region", "us").ok());
  }
  auto j = Journal::open(path);
  ASSERT_TRUE(j.ok());
  auto p = j.value()->plan(id);
  ASSERT_TRUE(p.ok() && p.value());
  EXPECT_EQ(p.value()->state, "running");
  ASSERT_EQ(p.value()->steps.size(), 2u);
  EXPECT_EQ(p.value()->steps[0].state, "done");
  EXPECT_EQ(p.value()->steps[0].detail, "applied");
  EXPECT_EQ(p.value()->steps[1].state, "pending");
  auto events = j.value()->events(10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events.value().size(), 3u);
  EXPECT_EQ(events.value()[0].name, "+decision");
  EXPECT_EQ(events.value()[0].plan_id, id);
  EXPECT_EQ(events.value()[2].step, 0);
  EXPECT_EQ(*j.value()->meta("active_region").value(), "us");
  EXPECT_FALSE(j.value()->meta("absent").value().has_value());
  EXPECT_EQ(j.value()->plansInState("running").value().size(), 1u);
  EXPECT_EQ(j.value()->lastPlanId().value(), id);
  // A shared plan adopted with another leader's id, higher: the next shared id must pass it.
  PlanRecord adopted = planOf({"one"});
  adopted.id = id + 40;
  ASSERT_TRUE(j.value()->adoptPlan(adopted, {0, 1003, "+plan-takeover", "failover eu -> us", "adopted"}).ok());
  EXPECT_EQ(j.value()->lastPlanId().value(), id + 40);
}

// Another writer holds the journal past the busy timeout (5 s), then lets go: the plan's transaction could
// not begin, so nothing of the plan may be written. Before, the statements after the failed BEGIN each
// committed on their own once the lock was free: a plan row without its steps' decision event.
TEST(Journal, APlanWhoseTransactionCannotBeginLeavesNothingBehind) {
  test::TempDir dir("journal");
  const std::string path = dir.path() + "/j.db";
  auto j = Journal::open(path);
  ASSERT_TRUE(j.ok()) << j.error().message;
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto release = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds{5500});
    sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr);
  });
  PlanRecord p = planOf({"one", "two"});
  const auto created = j.value()->createPlan(p, {0, 1000, "+decision", "failover eu -> us", "why"});
  release.get();
  sqlite3_close(other);
  EXPECT_FALSE(created.ok());
  EXPECT_NE(created.error().message.find("cannot begin a transaction"), std::string::npos) << created.error().message;
  EXPECT_TRUE(j.value()->recentPlans(10).value().empty());
  EXPECT_TRUE(j.value()->events(10).value().empty());
  // The state keys go together or not at all.
  ASSERT_TRUE(j.value()->setMetas({{"active_region", "us"}, {"paused", "1"}}).ok());
  EXPECT_EQ(*j.value()->meta("paused").value(), "1");
}

// A tick's events go in one transaction: all of them in order, or (one insert refused) none.
TEST(Journal, AppendsATicksEventsAllInOrderOrNone) {
  test::TempDir dir("journal");
  const std::string path = dir.path() + "/j.db";
  auto j = Journal::open(path);
  ASSERT_TRUE(j.ok()) << j.error().message;
  const std::vector<JournalEvent> batch = {{0, 1000, "+node-suspect", "a", "silent"},
                                           {0, 1001, "+node-failed", "a", "silent"},
                                           {0, 1002, "+region-down", "eu", ""}};
  ASSERT_TRUE(j.value()->appendEvents(batch).ok());
  auto written = j.value()->events(10).value();
  ASSERT_EQ(written.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(written[i].name, batch[i].name);
    EXPECT_EQ(written[i].ts_ms, batch[i].ts_ms);
  }
  EXPECT_LT(written[0].id, written[2].id);
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(other,
                   "CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.name = 'bad' BEGIN SELECT RAISE(ABORT, "
                   "'refused'); END",
                   nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(other);
  const std::vector<JournalEvent> refused = {{0, 2000, "+node-healthy", "b", ""}, {0, 2001, "bad", "b", ""}};
  const auto r = j.value()->appendEvents(refused);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("refused"), std::string::npos) << r.error().message;
  EXPECT_EQ(j.value()->events(10).value().size(), 3u) << "the event before the refused one was rolled back";
  EXPECT_FALSE(j.value()->health().writable);
  EXPECT_TRUE(j.value()->appendEvents({}).ok());
  EXPECT_FALSE(j.value()->health().writable) << "an empty batch is no write";
}

// A write refused for what it asks (a plan this journal does not have) says nothing about the disk: the
// journal stays writable, so an aggregator does not hold its decisions or give up leading over it.
TEST(Journal, ARefusalForWhatIsAskedIsNoJournalFailure) {
  test::TempDir dir("journal");
  auto j = Journal::open(dir.path() + "/j.db");
  ASSERT_TRUE(j.ok()) << j.error().message;
  const auto r = j.value()->setPlanState(42, "done", {0, 1000, "+plan-done", "", ""});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "not_found") << r.error().message;
  EXPECT_TRUE(j.value()->health().writable) << j.value()->health().error;
}

// A backup (or an operator's sqlite3 shell) holding the write lock for a moment when the aggregator starts
// is waited for: the schema's own writes wait for the lock like any other (they failed at once before).
TEST(Journal, OpensWhileAnotherProcessHoldsTheLockForAMoment) {
  test::TempDir dir("journal");
  const std::string path = dir.path() + "/j.db";
  ASSERT_TRUE(Journal::open(path).ok());
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto release = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds{500});
    sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr);
  });
  auto j = Journal::open(path);
  release.get();
  sqlite3_close(other);
  EXPECT_TRUE(j.ok()) << j.error().message;
}

// Who asked for what is for the aggregator's user and root only: the journal and its WAL files are 0600,
// and an existing wider file is narrowed.
TEST(Journal, IsCreatedForItsOwnerOnly) {
  test::TempDir dir("jmode");
  const std::string path = dir.path() + "/journal.db";
  {
    auto j = Journal::open(path);
    ASSERT_TRUE(j.ok()) << j.error().message;
    ASSERT_TRUE(j.value()->event({0, 1, "+test", "", "detail"}).ok());
    for (const std::string& f : {path, path + "-wal", path + "-shm"}) {
      struct stat st {};
      ASSERT_EQ(::stat(f.c_str(), &st), 0) << f;
      EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
    }
  }
  const std::string wide = dir.writeFile("wide.db", "", 0644);
  ASSERT_TRUE(Journal::open(wide).ok());
  struct stat st {};
  ASSERT_EQ(::stat(wide.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(Journal, RefusesAFileThatIsNotAJournal) {
  test::TempDir dir("journal");
  const std::string path = dir.writeFile("j.db", "this is not sqlite");
  EXPECT_FALSE(Journal::open(path).ok());
  EXPECT_FALSE(Journal::open(dir.path() + "/missing/dir/j.db").ok());
}

class PlanRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto j = Journal::open(dir_.path() + "/j.db");
    ASSERT_TRUE(j.ok());
    journal_ = std::move(j).value();
    actions_ = actionsFrom(dir_.path());
  }
  PlanRecord create(const std::vector<std::string>& steps) {
    PlanRecord p = planOf(steps);
    EXPECT_TRUE(journal_->createPlan(p, {0, 1, "+decision", "", ""}).ok());
    return p;
  }
  std::string run(const PlanRecord& p, std::chrono::milliseconds max_retry_after = std::chrono::seconds{60},
                  const std::vector<std::string>& on_failure = {}) {
    std::atomic<bool> cancel{false};
    PlanRunner runner(*journal_, actions_, SystemClock::instance(), counters_, max_retry_after);
    return runner.run(*journal_->plan(p.id).value(), cancel, nullptr, on_failure);
  }
  std::vector<std::string> eventNames(int64_t plan) {
    std::vector<std::string> out;
    const auto events = journal_->events(100, plan);  // kept alive for the loop
    for (const JournalEvent& e : events.value())
      out.push_back(e.name + (e.step >= 0 ? "@" + std::to_string(e.step) : ""));
    return out;
  }

  test::TempDir dir_{"runner"};
  std::unique_ptr<Journal> journal_;
  ActionTable actions_;
  StepCounters counters_;
};

TEST_F(PlanRunnerTest, RunsStepsInOrderAndJournalsIntentThenResult) {
  const PlanRecord p = create({"one", "two"});
  EXPECT_EQ(run(p), "done");
  EXPECT_EQ(lines(dir_.path() + "/record"),
            (std::vector<std::string>{std::to_string(p.id) + ".0 one", std::to_string(p.id) + ".1 two"}));
  EXPECT_EQ(eventNames(p.id), (std::vector<std::string>{"+decision", "+plan-step-start@0", "+plan-step-done@0",
                                                        "+plan-step-start@1", "+plan-step-done@1", "+plan-done"}));
  EXPECT_EQ(journal_->plan(p.id).value()->state, "done");
}

TEST_F(PlanRunnerTest, RetriesRetryableOutcomes) {
  const PlanRecord p = create({"flaky"});
  EXPECT_EQ(run(p), "done");
  const auto plan = journal_->plan(p.id).value();
  EXPECT_EQ(plan->steps[0].attempts, 3);
  const std::vector<std::string> names = eventNames(p.id);
  EXPECT_EQ(std::count(names.begin(), names.end(), "+plan-step-retry@0"), 2);
  EXPECT_EQ(counters_.retried.load(), 2u);
  EXPECT_EQ(counters_.done.load(), 1u);
}

// A server's Retry-After of 999999 s (11 days) is capped by the global maximum, and the cap is journaled.
TEST_F(PlanRunnerTest, AServersRetryAfterIsCappedByTheGlobalMaximum) {
  class SlowDown final : public Action {
   public:
    ActionResult execute(const ActionRequest&) override {
      if (++calls == 1) return {ActionStatus::retryable, "429 slow down", std::chrono::seconds{999'999}};
      return {ActionStatus::applied, "ok"};
    }
    ActionResult verify(const ActionRequest&) override { return {ActionStatus::applied, ""}; }
    int calls = 0;
  };
  auto slow = std::make_shared<SlowDown>();
  actions_["slow"] = {"slow", "test", StepPolicy{std::chrono::seconds{1}, 3, std::chrono::milliseconds{10}}, slow};
  const PlanRecord p = create({"slow"});
  auto outcome = std::async(std::launch::async, [&] { return run(p, std::chrono::milliseconds{50}); });
  ASSERT_EQ(outcome.wait_for(std::chrono::seconds{20}), std::future_status::ready) << "waited on the server's 11 days";
  EXPECT_EQ(outcome.get(), "done");
  EXPECT_EQ(slow->calls, 2);
  bool capped = false;
  const auto events = journal_->events(100, p.id);  // kept alive for the loop
  ASSERT_TRUE(events.ok());
  for (const JournalEvent& e : events.value()) {
    if (e.name == "+plan-step-retry")
      capped = e.detail.find("retrying in 50ms (the server asked for 999999000ms; capped by max_retry_after)") !=
               std::string::npos;
  }
  EXPECT_TRUE(capped);
}

TEST_F(PlanRunnerTest, GivesUpAtTheStepDeadline) {
  actions_.at("flaky").policy.attempts = 10;
  actions_.at("flaky").policy.backoff = std::chrono::milliseconds{200};
  actions_.at("flaky").policy.deadline = std::chrono::milliseconds{300};  // room for one retry, not two
  const PlanRecord p = create({"flaky"});
  EXPECT_EQ(run(p), "failed");
  const auto plan = journal_->plan(p.id).value();
  EXPECT_EQ(plan->steps[0].attempts, 2);
  EXPECT_NE(plan->steps[0].detail.find("step deadline of 300ms reached"), std::string::npos) << plan->steps[0].detail;
  EXPECT_EQ(counters_.retried.load(), 1u);
  EXPECT_EQ(counters_.failed.load(), 1u);
}

TEST_F(PlanRunnerTest, GivesUpAfterItsAttempts) {
  actions_.at("flaky").policy.attempts = 2;
  const PlanRecord p = create({"flaky", "two"});
  EXPECT_EQ(run(p), "failed");
  EXPECT_TRUE(lines(dir_.path() + "/record").empty());  // no later step ran
  EXPECT_EQ(journal_->plan(p.id).value()->steps[1].state, "pending");
}

// An action that throws (a bug, or an answer it did not expect) fails its attempts, not the aggregator.
class ThrowingAction final : public Action {
 public:
  ActionResult execute(const ActionRequest&) override {
    ++calls;
    throw std::out_of_range("answer had no field \"id\"");
  }
  int calls = 0;
};

TEST_F(PlanRunnerTest, AnActionThatThrowsFailsItsStepAndIsCounted) {
  auto thrower = std::make_shared<ThrowingAction>();
  actions_["throws"] =
      ConfiguredAction{"throws", "test", StepPolicy{.attempts = 2, .backoff = std::chrono::milliseconds{5}}, thrower};
  const PlanRecord p = create({"throws", "two"});
  EXPECT_EQ(run(p), "failed");
  EXPECT_EQ(thrower->calls, 2);
  const auto plan = journal_->plan(p.id).value();
  EXPECT_EQ(plan->steps[0].state, "failed");
  EXPECT_EQ(plan->steps[0].detail, "retryable: unexpected error: answer had no field \"id\"");
  EXPECT_EQ(plan->steps[1].state, "pending");
  EXPECT_EQ(counters_.exceptions.load(), 2u);
}

TEST_F(PlanRunnerTest, PermanentFailureStopsThePlanAtOnce) {
  const PlanRecord p = create({"one", "broken", "two"});
  EXPECT_EQ(run(p), "failed");
  const auto plan = journal_->plan(p.id).value();
  EXPECT_EQ(plan->state, "failed");
  EXPECT_EQ(plan->steps[1].state, "failed");
  EXPECT_EQ(plan->steps[1].attempts, 1);  // not retried
  EXPECT_EQ(plan->steps[1].detail, "permanent: configured to fail");
  EXPECT_EQ(plan->steps[2].state, "pending");
  EXPECT_EQ(lines(dir_.path() + "/record").size(), 1u);
  EXPECT_EQ(eventNames(p.id).back(), "-plan-failed");
}

// A promotion whose gate refuses (say, the standby is too far behind) stops the plan before its fence
// step acts: no region is left fenced with no primary anywhere.
class Gated final : public Action {
 public:
  explicit Gated(ActionStatus gate) : gate_(gate) {}
  ActionResult gate(const ActionRequest&) override {
    ++gates;
    return {gate_, gate_ == ActionStatus::applied ? "" : "standby lag 40.0s exceeds max_lag 30.0s"};
  }
  ActionResult execute(const ActionRequest&) override {
    ++executions;
    return {ActionStatus::applied, "promoted"};
  }
  int gates = 0;
  int executions = 0;

 private:
  ActionStatus gate_;
};

// Somebody is told when a plan fails: its on_failure actions run once each, journaled; not when it succeeds.
TEST_F(PlanRunnerTest, OnFailureActionsRunOnceWhenThePlanFailsAndNeverWhenItSucceeds) {
  const PlanRecord ok = create({"one"});
  EXPECT_EQ(run(ok, std::chrono::seconds{60}, {"two"}), "done");
  EXPECT_EQ(lines(dir_.path() + "/record"), std::vector<std::string>{std::to_string(ok.id) + ".0 one"});

  const PlanRecord bad = create({"broken", "one"});
  EXPECT_EQ(run(bad, std::chrono::seconds{60}, {"two"}), "failed");
  const auto recorded = lines(dir_.path() + "/record");
  ASSERT_EQ(recorded.size(), 2u);
  EXPECT_EQ(recorded[1], std::to_string(bad.id) + ".failure.0 two");  // "one" never ran
  EXPECT_EQ(eventNames(bad.id).back(), "+plan-on-failure");
}

TEST_F(PlanRunnerTest, AGateThatRefusesStopsThePlanBeforeAnyStepActs) {
  auto promote = std::make_shared<Gated>(ActionStatus::permanent);
  actions_["promote"] = {"promote", "test", StepPolicy{std::chrono::seconds{1}, 3, std::chrono::milliseconds{10}},
                         promote};
  const PlanRecord p = create({"one", "promote", "two"});  // "one" stands for the fence
  EXPECT_EQ(run(p), "failed");
  EXPECT_TRUE(lines(dir_.path() + "/record").empty());  // the fence never ran
  EXPECT_EQ(promote->executions, 0);
  EXPECT_EQ(promote->gates, 1);  // permanent: not asked again
  const auto plan = journal_->plan(p.id).value();
  EXPECT_EQ(plan->state, "failed");
  EXPECT_EQ(plan->steps[0].attempts, 0);
  EXPECT_EQ(eventNames(p.id), (std::vector<std::string>{"+decision", "-plan-failed"}));
  const auto events = journal_->events(10, p.id);
  ASSERT_TRUE(events.ok());
  EXPECT_NE(events.value().back().detail.find("refused before any step ran: step 1 promote: standby lag 40.0s"),
            std::string::npos)
      << events.value().back().detail;
}

TEST_F(PlanRunnerTest, GatesThatPassLetThePlanRunAndAResumedPlanIsNotGatedAgain) {
  auto promote = std::make_shared<Gated>(ActionStatus::applied);
  actions_["promote"] = {"promote", "test", StepPolicy{}, promote};
  const PlanRecord p = create({"one", "promote"});
  EXPECT_EQ(run(p), "done");
  EXPECT_EQ(promote->gates, 1);
  EXPECT_EQ(promote->executions, 1);
  // A plan that acted already (its first step done before a restart) resumes without gates.
  const PlanRecord q = create({"one", "promote"});
  ASSERT_TRUE(journal_->stepStarted(q.id, 0, 1, {0, 2, "+plan-step-start", "one", ""}).ok());
  ASSERT_TRUE(journal_->stepFinished(q.id, 0, "done", {0, 3, "+plan-step-done", "one", ""}).ok());
  EXPECT_EQ(run(q), "done");
  EXPECT_EQ(promote->gates, 1);
  EXPECT_EQ(promote->executions, 2);
}

TEST_F(PlanRunnerTest, ResumesAtTheFirstUnfinishedStepWithoutRepeatingAny) {
  const PlanRecord p = create({"one", "two"});
  // As if the aggregator died during step 1, after its side effect but before journaling the result.
  ASSERT_TRUE(journal_->stepStarted(p.id, 0, 1, {0, 2, "+plan-step-start", "one", ""}).ok());
  ASSERT_TRUE(journal_->stepFinished(p.id, 0, "done", {0, 3, "+plan-step-done", "one", ""}).ok());
  ASSERT_TRUE(journal_->stepStarted(p.id, 1, 1, {0, 4, "+plan-step-start", "two", ""}).ok());
  std::ofstream(dir_.path() + "/record", std::ios::app) << p.id << ".1 two\n";
  EXPECT_EQ(run(p), "done");
  EXPECT_EQ(lines(dir_.path() + "/record").size(), 1u);  // step 0 not rerun; step 1 found already applied
  const auto plan = journal_->plan(p.id).value();
  EXPECT_EQ(plan->steps[1].attempts, 2);
  EXPECT_EQ(plan->steps[1].detail, "already_applied: already recorded");
}

}  // namespace
}  // namespace hale::aggregator
