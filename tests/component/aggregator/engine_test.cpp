// The engine as a whole, in process, with simulated nodes sending real heartbeats: what it does with a
// real region loss under the guards that must hold it (a journal that cannot be written, a pause).

#include <gtest/gtest.h>

#include <sqlite3.h>

#include <fstream>

#include "engine.h"
#include "fake_fleet.h"
#include "ports.h"
#include "process.h"
#include "temp_dir.h"

namespace hale::aggregator {
namespace {

using std::chrono::milliseconds;
using test::readFile;
using test::waitFor;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    endpoint_ = "tcp://127.0.0.1:" + std::to_string(test::freeLoopbackPort());
    startEngine();
    fleet_ = std::make_unique<test::FakeFleet>(std::vector<std::string>{endpoint_});
    fleet_->setAlive({{"eu-1", "eu"}, {"eu-2", "eu"}, {"us-1", "us"}, {"us-2", "us"}});
    ASSERT_TRUE(waitFor([&] { return upRegions() == 2; }, milliseconds{10'000})) << engine_->regions().dump();
  }
  // A new engine on the same configuration and journal (the first one stopped, if any).
  void startEngine() {
    if (engine_) engine_->stop();
    auto config = parseAggregatorConfig(
        "coordination = \"none\"\ninsecure = true\nlisten = [\"" + endpoint_ + "\"]\ncontrol_socket = \"" +
            dir_.path() + "/agg.sock\"\njournal = \"" + journal() +
            "\"\n"
            "[http]\nlisten = \"127.0.0.1\"\nport = 0\n"
            "[detection]\nsuspect_after = \"600ms\"\nmiss_after = \"1s\"\nstartup_grace = \"1s\"\n"
            "[guards]\nmin_failover_interval = \"0s\"\n"
            "[[region]]\nname = \"eu\"\nrole = \"active\"\nnodes = [\"eu-1\", \"eu-2\"]\n"
            "down_after = \"500ms\"\nup_after = \"500ms\"\n"
            "[[region]]\nname = \"us\"\nnodes = [\"us-1\", \"us-2\"]\ndown_after = \"500ms\"\nup_after = \"500ms\"\n" +
            actionsAndPlan(),
        "agg.toml");
    ASSERT_TRUE(config.ok()) << config.error().message;
    engine_ = std::make_unique<Engine>(std::move(config).value());
    ASSERT_TRUE(engine_->start().ok());
  }
  virtual std::string actionsAndPlan() const {
    return "[[action]]\nname = \"move\"\ntype = \"record\"\npath = \"" + record() +
           "\"\nlabel = \"moved\"\n"
           "[[plan]]\nfrom = \"eu\"\nto = \"us\"\nsteps = [\"move\"]\n";
  }
  void TearDown() override {
    fleet_.reset();
    if (engine_) engine_->stop();
  }

  std::string journal() const { return dir_.path() + "/journal.db"; }
  std::string record() const { return dir_.path() + "/moved"; }
  int upRegions() const {
    int up = 0;
    for (const auto& r : engine_->regions()) up += r.value("verdict", "") == "up" ? 1 : 0;
    return up;
  }
  int decisions() const {
    const auto j = engine_->journalEvents(1000);
    if (!j.ok()) return -1;
    int n = 0;
    for (const auto& e : j.value()) n += e.value("event", "") == "+decision" ? 1 : 0;
    return n;
  }
  bool moved() const { return readFile(record()).find("moved") != std::string::npos; }

  test::TempDir dir_{"engine"};
  std::string endpoint_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<test::FakeFleet> fleet_;
};

// Another process holds the journal's write lock (a backup, an operator's sqlite3 shell): every write fails.
// A region lost meanwhile is not failed over (nothing acts on what is not on disk), the hold is visible in
// status and /metrics; once the lock is released the engine finds out by itself and fails over, once.
TEST_F(EngineTest, AJournalThatCannotBeWrittenHoldsTheFailoverUntilItCan) {
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(journal().c_str(), &other), SQLITE_OK);
  sqlite3_busy_timeout(other, 5000);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  fleet_->killRegion("eu");
  ASSERT_TRUE(waitFor([&] { return !engine_->status().value("journal_writable", true); }, milliseconds{10'000}))
      << engine_->status().dump();
  // eu is down (shown), and the failover is held by the journal, not made.
  ASSERT_TRUE(waitFor(
      [&] {
        return engine_->status().value("failover_held", "").find("journal cannot be written") != std::string::npos;
      },
      milliseconds{10'000}))
      << engine_->status().dump();
  std::this_thread::sleep_for(milliseconds{1500});
  EXPECT_FALSE(moved());
  EXPECT_EQ(engine_->status().value("active_region", ""), "eu");
  EXPECT_NE(engine_->status().value("journal_error", "").find("locked"), std::string::npos) << engine_->status().dump();
  EXPECT_NE(engine_->metrics().find("hale_aggregator_journal_writable 0"), std::string::npos);

  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  ASSERT_TRUE(
      waitFor([&] { return moved() && engine_->status().value("active_region", "") == "us"; }, milliseconds{15'000}))
      << engine_->status().dump();
  EXPECT_TRUE(engine_->status().value("journal_writable", false));
  EXPECT_NE(engine_->metrics().find("hale_aggregator_journal_writable 1"), std::string::npos);
  EXPECT_EQ(decisions(), 1);
  const std::string recorded = readFile(record());
  EXPECT_EQ(std::count(recorded.begin(), recorded.end(), '\n'), 1) << recorded;  // the step ran once
}

// A pause holds a real automatic failover (not only the flag echoed): the region is lost, nothing moves;
// resumed, the failover is made.
TEST_F(EngineTest, APauseHoldsARealFailoverAndResumingMakesIt) {
  ASSERT_TRUE(engine_->setPaused(true).ok());
  fleet_->killRegion("eu");
  ASSERT_TRUE(waitFor([&] { return engine_->status().value("failover_held", "") == "paused"; }, milliseconds{10'000}))
      << engine_->status().dump();
  std::this_thread::sleep_for(milliseconds{1500});
  EXPECT_FALSE(moved());
  EXPECT_EQ(decisions(), 0);
  ASSERT_TRUE(engine_->setPaused(false).ok());
  ASSERT_TRUE(
      waitFor([&] { return moved() && engine_->status().value("active_region", "") == "us"; }, milliseconds{10'000}))
      << engine_->status().dump();
  EXPECT_EQ(decisions(), 1);
}

// Deciding alone, automation is not resumed on a word the journal cannot record (a restart would not know
// it, nor who gave it); a pause holds at once all the same. Resumed with the journal back, it fails over.
TEST_F(EngineTest, ResumingNeedsTheJournalAPauseDoesNot) {
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(journal().c_str(), &other), SQLITE_OK);
  sqlite3_busy_timeout(other, 5000);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  const auto paused = engine_->setPaused(true);
  EXPECT_FALSE(paused.ok());
  EXPECT_TRUE(engine_->status().value("paused", false)) << "a pause holds whatever the journal says";
  const auto resumed = engine_->setPaused(false);
  ASSERT_FALSE(resumed.ok());
  EXPECT_NE(resumed.error().message.find("not resumed"), std::string::npos) << resumed.error().message;
  EXPECT_TRUE(engine_->status().value("paused", false));
  fleet_->killRegion("eu");
  std::this_thread::sleep_for(milliseconds{3000});
  EXPECT_FALSE(moved());
  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  ASSERT_TRUE(engine_->setPaused(false).ok());
  ASSERT_TRUE(
      waitFor([&] { return moved() && engine_->status().value("active_region", "") == "us"; }, milliseconds{10'000}))
      << engine_->status().dump();
  EXPECT_EQ(decisions(), 1);
}

// #12 item 10: a plan that stops half-way ("promoted, DNS failed") leaves the active region where it was,
// and status says where each resource now is: the database in us, DNS never moved. A restarted aggregator
// reads the same from its journal. Failed before: status had no per-resource state at all.
class HalfDonePlanTest : public EngineTest {
 protected:
  std::string actionsAndPlan() const override {
    return "[[action]]\nname = \"promote-us\"\ntype = \"record\"\nresource = \"database\"\npath = \"" + record() +
           "\"\nlabel = \"promoted\"\n"
           "[[action]]\nname = \"dns-us\"\ntype = \"record\"\nresource = \"dns\"\nfail = \"permanent\"\npath = \"" +
           record() +
           "\"\n"
           "[[plan]]\nfrom = \"eu\"\nto = \"us\"\nsteps = [\"promote-us\", \"dns-us\"]\n";
  }
};

TEST_F(HalfDonePlanTest, StatusSaysWhereEachResourceIsAfterAPlanStoppedHalfWay) {
  EXPECT_EQ(engine_->status()["resources"], nlohmann::json::object());  // nothing moved yet
  fleet_->setAlive({{"us-1", "us"}, {"us-2", "us"}});
  ASSERT_TRUE(
      waitFor([&] { return !engine_->status().value("blocked_by_failed_plan", "").empty(); }, milliseconds{10'000}))
      << engine_->status().dump();
  const auto check = [](const nlohmann::json& st) {
    EXPECT_EQ(st.value("active_region", ""), "eu") << st.dump();
    ASSERT_TRUE(st["resources"].contains("database")) << st.dump();
    EXPECT_EQ(st["resources"]["database"].value("region", ""), "us");
    EXPECT_EQ(st["resources"]["database"].value("action", ""), "promote-us");
    EXPECT_EQ(st["resources"]["database"].value("step", -1), 0);
    EXPECT_GT(st["resources"]["database"].value("at_ms", int64_t{0}), 0);
    EXPECT_FALSE(st["resources"].contains("dns")) << "the DNS step never completed";
    EXPECT_EQ(st["resources_elsewhere"], nlohmann::json::array({"database"}));
  };
  check(engine_->status());
  EXPECT_NE(readFile(record()).find("promoted"), std::string::npos);

  startEngine();
  check(engine_->status());
}

}  // namespace
}  // namespace hale::aggregator
