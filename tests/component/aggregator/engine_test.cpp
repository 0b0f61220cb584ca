// The engine as a whole, in process, with simulated nodes sending real heartbeats: what it does with a
// real region loss under the guards that must hold it (a journal that cannot be written, a pause).

#include <gtest/gtest.h>

#include <sqlite3.h>
#include <zmq.hpp>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "engine.h"
#include "fake_fleet.h"
#include "heartbeat_codec.h"
#include "metrics_check.h"
#include "ports.h"
#include "process.h"
#include "stderr_capture.h"
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
    engine_.reset();  // its sockets closed before the next engine binds the same port
    engine_ = std::make_unique<Engine>(engineConfig());
    const auto started = engine_->start();
    ASSERT_TRUE(started.ok()) << started.error().message;
  }
  AggregatorConfig engineConfig() const {
    auto config = parseAggregatorConfig(
        "coordination = \"none\"\ninsecure = true\nlisten = [\"" + endpoint_ + "\"]\ncontrol_socket = \"" +
            dir_.path() + "/agg.sock\"\njournal = \"" + journal() +
            "\"\n"
            "[http]\nlisten = \"127.0.0.1\"\nport = 0\n"
            "[detection]\n" +
            detection_ +
            "startup_grace = \"1s\"\n"
            "[guards]\nmin_failover_interval = \"0s\"\n" +
            guards_ +
            "[[region]]\nname = \"eu\"\nrole = \"active\"\nnodes = [\"eu-1\", \"eu-2\"]\n"
            "down_after = \"500ms\"\nup_after = \"500ms\"\n"
            "[[region]]\nname = \"us\"\nnodes = [\"us-1\", \"us-2\"]\ndown_after = \"500ms\"\nup_after = \"500ms\"\n" +
            extra_regions_ + actionsAndPlan(),
        "agg.toml");
    EXPECT_TRUE(config.ok()) << config.error().message;
    return config.ok() ? std::move(config).value() : AggregatorConfig{};
  }
  virtual std::string actionsAndPlan() const {
    return "[[action]]\nname = \"move\"\ntype = \"record\"\npath = \"" + record() + "\"\nlabel = \"moved\"\n" +
           (move_fails_ ? "fail = \"permanent\"\n" : "") + "[[plan]]\nfrom = \"eu\"\nto = \"us\"\nsteps = [\"move\"]\n";
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
  std::string held() const { return engine_->status().value("failover_held", ""); }
  // eu back and up, then lost again: a decision the engine must make (or hold) now, after a restart too.
  void loseEuAgain() {
    fleet_->setAlive({{"eu-1", "eu"}, {"eu-2", "eu"}, {"us-1", "us"}, {"us-2", "us"}});
    ASSERT_TRUE(waitFor([&] { return upRegions() == 2; }, milliseconds{10'000})) << engine_->regions().dump();
    fleet_->killRegion("eu");
  }

  // A plan's one step (action "move"): whether it fails for good. Read at each startEngine().
  bool move_fails_ = false;
  std::string guards_;         // extra [guards] keys
  std::string extra_regions_;  // extra [[region]] tables
  std::string detection_ = "suspect_after = \"600ms\"\nmiss_after = \"1s\"\n";

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

// The journal refuses one of the events that lead to a decision (a trigger on +region-down here; in life a
// batch that fails where writes after it succeed: a lock released just after the wait, a nearly full
// disk). That event waits, with the events after it, and no automatic decision is made while it does,
// though the journal's probe and other writes succeed meanwhile; once it is written, the failover is made,
// once, and the journal has the region's loss before the decision.
TEST_F(EngineTest, NoDecisionFollowsEventsThatAreNotJournaled) {
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(journal().c_str(), &other), SQLITE_OK);
  sqlite3_busy_timeout(other, 5000);
  ASSERT_EQ(sqlite3_exec(other,
                         "CREATE TRIGGER refuse_region_down BEFORE INSERT ON events WHEN NEW.name = '+region-down' "
                         "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  fleet_->killRegion("eu");
  ASSERT_TRUE(waitFor([&] { return upRegions() == 1; }, milliseconds{10'000})) << engine_->regions().dump();
  // Longer than two journal probe periods (2 s each): the probes succeed, the waiting events do not.
  std::this_thread::sleep_for(milliseconds{4500});
  EXPECT_FALSE(moved());
  EXPECT_EQ(decisions(), 0);
  EXPECT_EQ(engine_->status().value("active_region", ""), "eu");
  EXPECT_NE(engine_->status().value("failover_held", "").find("events wait to be written"), std::string::npos)
      << engine_->status().dump();

  ASSERT_EQ(sqlite3_exec(other, "DROP TRIGGER refuse_region_down", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  ASSERT_TRUE(
      waitFor([&] { return moved() && engine_->status().value("active_region", "") == "us"; }, milliseconds{15'000}))
      << engine_->status().dump();
  EXPECT_EQ(decisions(), 1);
  const std::string recorded = readFile(record());
  EXPECT_EQ(std::count(recorded.begin(), recorded.end(), '\n'), 1) << recorded;  // the step ran once
  int64_t region_down = 0;
  int64_t decision = 0;
  const auto events = engine_->journalEvents(1000);
  ASSERT_TRUE(events.ok());
  for (const auto& e : events.value()) {
    if (e.value("event", "") == "+region-down" && e.value("subject", "") == "eu") region_down = e.value("id", 0);
    if (e.value("event", "") == "+decision") decision = e.value("id", 0);
  }
  EXPECT_GT(region_down, 0) << "eu's loss never reached the journal";
  EXPECT_LT(region_down, decision);
}

// Two faults in a row: the lock held while eu is lost, then, in the same instant it is released, a refusal
// of +region-down (a trigger created in the transaction that held the lock, so the lock's end and the
// refusal land together). The backlog's retries fail on the second fault as they would on the first:
// nothing is decided, each distinct error is logged once, and once the journal takes the backlog every
// event is in it once, the region's loss before the one decision.
TEST_F(EngineTest, ASecondFaultWhileTheBacklogRetriesStillHoldsAndNothingIsWrittenTwice) {
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(journal().c_str(), &other), SQLITE_OK);
  const std::unique_ptr<sqlite3, int (*)(sqlite3*)> closer(other, sqlite3_close);
  sqlite3_busy_timeout(other, 5000);
  const std::string log = dir_.path() + "/stderr.log";
  {
    test::StderrToFile capture(log);
    ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
    fleet_->killRegion("eu");
    ASSERT_TRUE(waitFor([&] { return upRegions() == 1 && !engine_->status().value("journal_writable", true); },
                        milliseconds{10'000}))
        << engine_->status().dump();
    ASSERT_EQ(sqlite3_exec(other,
                           "CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.name = '+region-down' "
                           "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END; COMMIT",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    // Longer than two probe periods: the probes succeed, the backlog does not.
    std::this_thread::sleep_for(milliseconds{4500});
    EXPECT_FALSE(moved());
    EXPECT_EQ(decisions(), 0);
    EXPECT_NE(held().find("events wait to be written (refused by the test)"), std::string::npos)
        << engine_->status().dump();
    ASSERT_EQ(sqlite3_exec(other, "DROP TRIGGER refuse", nullptr, nullptr, nullptr), SQLITE_OK);
    ASSERT_TRUE(
        waitFor([&] { return moved() && engine_->status().value("active_region", "") == "us"; }, milliseconds{15'000}))
        << engine_->status().dump();
  }
  const std::string text = readFile(log);
  // Once per distinct error, not at each retry: the lock, then the refusal.
  EXPECT_EQ(test::occurrences(text, "-journal-write-failed"), 2u) << text;
  const size_t first = text.find("-journal-write-failed");
  const size_t second = text.find("-journal-write-failed", first + 1);
  ASSERT_NE(second, std::string::npos) << text;
  EXPECT_NE(text.substr(first, text.find('\n', first) - first).find("database is locked"), std::string::npos);
  EXPECT_NE(text.substr(second, text.find('\n', second) - second).find("refused by the test"), std::string::npos);
  EXPECT_EQ(decisions(), 1);
  const auto events = engine_->journalEvents(1000);
  ASSERT_TRUE(events.ok());
  std::map<std::string, int> seen;
  int64_t region_down = 0;
  int64_t decision = 0;
  for (const auto& e : events.value()) {
    ++seen[e.value("event", "") + " " + e.value("subject", "")];
    if (e.value("event", "") == "+region-down" && e.value("subject", "") == "eu") region_down = e.value("id", 0);
    if (e.value("event", "") == "+decision") decision = e.value("id", 0);
  }
  for (const char* once : {"+node-failed eu-1", "+node-failed eu-2", "+region-down eu", "+node-suspect eu-1"}) {
    EXPECT_EQ(seen[once], 1) << once;
  }
  EXPECT_GT(region_down, 0);
  EXPECT_LT(region_down, decision);
}

// The journal refuses the nodes' +node-healthy (a trigger; in life a lock held past the wait or a nearly full
// disk) as a restarted engine hears them again. Those events wait: each is logged once, at info (at debug
// once on disk, so unseen at the default level), with "not journaled yet"; status and /metrics count them,
// and automatic decisions hold. The journal takes it once the trigger is gone. Stopped while events
// wait, the engine tries once more and says how many it discards.
TEST_F(EngineTest, EventsThatWaitAreCountedLoggedAtInfoAndAccountedForAtStop) {
  const std::string log = dir_.path() + "/stderr.log";
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(journal().c_str(), &other), SQLITE_OK);
  const std::unique_ptr<sqlite3, int (*)(sqlite3*)> closer(other, sqlite3_close);
  sqlite3_busy_timeout(other, 5000);
  const auto refuse = [&](const std::string& when) {
    return sqlite3_exec(other,
                        ("CREATE TRIGGER refuse BEFORE INSERT ON events WHEN " + when +
                         " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
                            .c_str(),
                        nullptr, nullptr, nullptr) == SQLITE_OK;
  };
  const auto allow = [&] { return sqlite3_exec(other, "DROP TRIGGER refuse", nullptr, nullptr, nullptr) == SQLITE_OK; };
  const auto waiting = [&] { return engine_->status().value("journal_events_waiting", uint64_t{0}); };
  {
    test::StderrToFile capture(log);
    // Restarted, the engine hears its four nodes again: each is +node-healthy, which the journal refuses.
    ASSERT_TRUE(refuse("NEW.name = '+node-healthy'"));
    startEngine();
    // Counted at once; the journal reads unwritable from the next tick on.
    ASSERT_TRUE(waitFor([&] { return waiting() >= 4 && !engine_->status().value("journal_writable", true); },
                        milliseconds{10'000}))
        << engine_->status().dump();
    const nlohmann::json s = engine_->status();
    EXPECT_NE(s.value("journal_error", "").find("events wait to be written (refused by the test)"), std::string::npos)
        << s.dump();
    EXPECT_EQ(s.value("journal_events_dropped", uint64_t{99}), 0u);
    std::smatch m;
    const std::string metrics = engine_->metrics();
    ASSERT_TRUE(std::regex_search(metrics, m, std::regex("\nhale_aggregator_journal_events_waiting (\\d+)\n")))
        << metrics;
    EXPECT_GE(std::stoul(m[1]), 4u);
    EXPECT_NE(metrics.find("\nhale_aggregator_journal_events_dropped_total 0\n"), std::string::npos);
    EXPECT_NE(metrics.find("\nhale_aggregator_journal_writable 0\n"), std::string::npos);

    ASSERT_TRUE(allow());
    ASSERT_TRUE(waitFor([&] { return waiting() == 0 && engine_->status().value("journal_writable", false); },
                        milliseconds{10'000}))
        << engine_->status().dump();
  }
  const std::string text = readFile(log);
  EXPECT_EQ(test::occurrences(text, "info +node-healthy eu-1: "), 1u) << text;
  EXPECT_EQ(test::occurrences(text, "(not journaled yet)"), 4u) << text;
  EXPECT_EQ(test::occurrences(text,
                              "+journal-unwritable events wait to be written (refused by the test): no "
                              "automatic decision is made until they are written"),
            1u)
      << text;
  EXPECT_EQ(test::occurrences(text, "-journal-unwritable"), 1u) << text;
  EXPECT_EQ(test::occurrences(text, "-journal-write-failed"), 1u) << text;  // once, not at every retry
  bool journaled = false;
  const auto events = engine_->journalEvents(1000);
  ASSERT_TRUE(events.ok());
  for (const auto& e : events.value()) {
    journaled |= e.value("event", "") == "+node-healthy" && e.value("subject", "") == "eu-1";
  }
  EXPECT_TRUE(journaled) << "the waiting event never reached the journal";

  // Every event refused now: eu-2 lost waits, and the stop cannot write it either.
  ASSERT_TRUE(refuse("1"));
  const std::string stop_log = dir_.path() + "/stop.log";
  {
    test::StderrToFile capture(stop_log);
    fleet_->killNode("eu-2");
    ASSERT_TRUE(waitFor([&] { return waiting() >= 2; }, milliseconds{10'000})) << engine_->status().dump();
    const uint64_t n = waiting();
    fleet_.reset();
    engine_->stop();
    const std::string text = readFile(stop_log);
    EXPECT_NE(text.find("the first +node-suspect eu-2: refused by the test; they are in the log"), std::string::npos)
        << text;
    // Those counted, and any that joined them (every node is silent now) before the tick thread ended.
    std::smatch m;
    ASSERT_TRUE(std::regex_search(text, m, std::regex("-events-discarded (\\d+) events"))) << text;
    EXPECT_GE(std::stoul(m[1]), n) << text;
  }
  EXPECT_EQ(engine_->status().value("journal_events_waiting", uint64_t{99}), 0u);
}

// The one integer a query of the test's own connection answers (-1 if none).
int64_t rowsOf(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) return -1;
  const int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  return n;
}
// Each event's name and subject, in the order written, of ids strictly between `after` and `before`.
std::vector<std::pair<std::string, std::string>> namesAndSubjects(sqlite3* db, int64_t after, int64_t before) {
  std::vector<std::pair<std::string, std::string>> out;
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT name, subject FROM events WHERE id > ?1 AND id < ?2 ORDER BY id", -1, &st,
                         nullptr) != SQLITE_OK)
    return out;
  sqlite3_bind_int64(st, 1, after);
  sqlite3_bind_int64(st, 2, before);
  while (sqlite3_step(st) == SQLITE_ROW) {
    const auto text = [&](int column) {
      const unsigned char* t = sqlite3_column_text(st, column);
      return t == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(t));
    };
    out.emplace_back(text(0), text(1));
  }
  sqlite3_finalize(st);
  return out;
}

// The bound on waiting events (100 000), reached as in life: a pool of 40 000 nodes the config does not
// list is heard once each (+node-added, +node-healthy) and goes silent (+node-suspect, +node-failed) while
// the journal refuses every event. The oldest 100 000 wait; the rest are only logged and counted. Once the
// journal takes them it also says how many were not kept (+events-not-journaled), the count status and
// /metrics give; every event, kept or not, is in the log.
TEST_F(EngineTest, PastTheWaitingBoundEventsAreOnlyLoggedAndTheJournalSaysHowMany) {
  constexpr int kPool = 40'000;
  constexpr uint64_t kBound = 100'000;
  extra_regions_ = "[[region]]\nname = \"pool\"\naccept_any_node = true\n";
  // Every pool node's +node-added among the oldest kept needs all 40 000 heard before the first ones turn
  // suspect and failed (their 80 000 events and the adds' fill the bound): seconds to spare under load.
  detection_ = "suspect_after = \"5s\"\nmiss_after = \"8s\"\n";
  startEngine();
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(journal().c_str(), &other), SQLITE_OK);
  const std::unique_ptr<sqlite3, int (*)(sqlite3*)> closer(other, sqlite3_close);
  sqlite3_busy_timeout(other, 5000);
  const auto status = [&](const char* key) { return engine_->status().value(key, uint64_t{0}); };
  const std::string log = dir_.path() + "/stderr.log";
  int64_t last_before = -1;
  {
    test::StderrToFile capture(log);
    // The last row written before the refusal, read in the transaction that sets it up.
    ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
    last_before = rowsOf(other, "SELECT max(id) FROM events");
    ASSERT_EQ(sqlite3_exec(other,
                           "CREATE TRIGGER refuse BEFORE INSERT ON events "
                           "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END; COMMIT",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    zmq::context_t context;
    zmq::socket_t pool(context, zmq::socket_type::pub);
    pool.set(zmq::sockopt::linger, 0);
    pool.set(zmq::sockopt::xpub_nodrop, true);  // a full queue makes send() wait: no frame is lost
    pool.set(zmq::sockopt::sndtimeo, 30'000);   // a wait that never ends fails the send, not the suite
    pool.connect(endpoint_);
    std::string frame;
    const auto send = [&](int i, uint64_t seq, zmq::send_flags flags) {
      heartbeat::Heartbeat hb;
      hb.node_id = "pool-" + std::to_string(i);
      hb.region = "pool";
      hb.boot_id = "b";
      hb.seq = seq;
      hb.sent_unix_ms = toUnixMillis(SystemClock::instance().wallNow());
      hb.status = heartbeat::NodeStatus::healthy;
      heartbeat::encode(hb, frame);
      return pool.send(zmq::buffer(frame), flags).has_value();
    };
    // Until the subscription has arrived (a PUB socket drops what it sends before), pool-0 alone.
    uint64_t seq = 0;
    ASSERT_TRUE(waitFor(
        [&] {
          send(0, ++seq, zmq::send_flags::dontwait);
          return !engine_->nodes("pool").empty();
        },
        milliseconds{10'000}));
    for (int i = 1; i < kPool; ++i) ASSERT_TRUE(send(i, 1, zmq::send_flags::none));
    ASSERT_TRUE(
        waitFor([&] { return status("journal_events_waiting") == kBound && status("journal_events_dropped") > 0; },
                milliseconds{60'000}))
        << engine_->status().dump();
    // Every pool node failed (each one's +node-failed logged) before the journal takes anything.
    ASSERT_TRUE(waitFor([&] { return test::occurrences(readFile(log), " info +node-failed pool-") == kPool; },
                        milliseconds{60'000}, milliseconds{500}));
    EXPECT_EQ(status("journal_events_waiting"), kBound);
    const std::string metrics = engine_->metrics();
    EXPECT_NE(metrics.find("\nhale_aggregator_journal_events_waiting 100000\n"), std::string::npos) << metrics;
    ASSERT_EQ(sqlite3_exec(other, "DROP TRIGGER refuse", nullptr, nullptr, nullptr), SQLITE_OK);
    ASSERT_TRUE(waitFor([&] { return status("journal_events_waiting") == 0; }, milliseconds{30'000}))
        << engine_->status().dump();
  }
  const uint64_t dropped = status("journal_events_dropped");
  // 160 000 pool events (fewer when a tick finds a node already past miss_after: no +node-suspect) and the
  // regions': past the bound, not kept.
  EXPECT_GE(dropped, 3 * static_cast<uint64_t>(kPool) - kBound);
  EXPECT_NE(engine_->metrics().find("\nhale_aggregator_journal_events_dropped_total " + std::to_string(dropped) + "\n"),
            std::string::npos);
  // Written in one transaction: the 100 000 kept, then how many were not.
  const int64_t said_at = rowsOf(other, "SELECT id FROM events WHERE name = '+events-not-journaled'");
  EXPECT_EQ(rowsOf(other, "SELECT count(*) FROM events WHERE name = '+events-not-journaled'"), 1);
  EXPECT_EQ(said_at - last_before - 1, static_cast<int64_t>(kBound));
  const std::string said = std::to_string(dropped) + " events could not be kept while the journal could not be written";
  EXPECT_EQ(rowsOf(other, "SELECT count(*) FROM events WHERE id = " + std::to_string(said_at) + " AND detail LIKE '" +
                              said + "%'"),
            1);
  // The oldest kept: no node has an event in the journal without each of its earlier ones.
  const std::map<std::string, char> initial{
      {"+node-added", 'a'}, {"+node-healthy", 'h'}, {"+node-suspect", 's'}, {"+node-failed", 'f'}};
  std::map<std::string, std::string> kept;  // node: the initials of its kept events, in the order written
  for (const auto& [name, subject] : namesAndSubjects(other, last_before, said_at)) {
    if (subject.rfind("pool-", 0) != 0) continue;
    const auto it = initial.find(name);
    kept[subject] += it == initial.end() ? '?' : it->second;
  }
  EXPECT_EQ(kept.size(), static_cast<size_t>(kPool));  // every +node-added is among the oldest
  const std::set<std::string> prefixes{"a", "ah", "ahs", "ahf", "ahsf"};
  size_t not_a_prefix = 0;
  for (const auto& [node, initials] : kept) not_a_prefix += prefixes.count(initials) == 0 ? 1 : 0;
  EXPECT_EQ(not_a_prefix, 0u);
  const std::string text = readFile(log);
  EXPECT_EQ(test::occurrences(text, "+events-not-journaled " + said), 1u);
  for (const char* name : {" info +node-added pool-", " info +node-healthy pool-", " info +node-failed pool-"}) {
    EXPECT_EQ(test::occurrences(text, name), static_cast<size_t>(kPool)) << name;  // every event in the log
  }
  // No more dropped than were raised and not kept: the pool's (each one logged) and a few of the regions'.
  // Signed, so a kept count above the logged one fails here instead of wrapping round to a huge bound.
  int64_t pool_kept = 0;
  for (const auto& [node, initials] : kept) pool_kept += static_cast<int64_t>(initials.size());
  const auto pool_logged =
      static_cast<int64_t>(3 * static_cast<size_t>(kPool) + test::occurrences(text, " info +node-suspect pool-"));
  EXPECT_LE(pool_kept, pool_logged);
  EXPECT_LE(static_cast<int64_t>(dropped), pool_logged - pool_kept + 50)
      << pool_logged << " logged, " << pool_kept << " kept";
}

// Stopped while events wait behind another process's lock, released while the stop waits for it: the
// stop's last try writes them, and says so.
TEST_F(EngineTest, EventsThatWaitAreWrittenAtStopWhenTheJournalTakesThem) {
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(journal().c_str(), &other), SQLITE_OK);
  const std::unique_ptr<sqlite3, int (*)(sqlite3*)> closer(other, sqlite3_close);
  sqlite3_busy_timeout(other, 5000);  // the engine may be writing its first events
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  fleet_->killNode("eu-1");
  ASSERT_TRUE(waitFor(
      [&] {
        return engine_->status().value("journal_events_waiting", uint64_t{0}) >= 1 &&
               engine_->nodes("eu")[0].value("health", "") == "suspect";
      },
      milliseconds{10'000}))
      << engine_->status().dump() << engine_->nodes("eu").dump();
  const std::string log = dir_.path() + "/stop.log";
  {
    test::StderrToFile capture(log);
    fleet_.reset();
    // Released while the stop waits for the lock (2 s at most), long after its threads have ended, so
    // neither a last tick nor its probe can have written them first.
    std::thread release([&] {
      std::this_thread::sleep_for(milliseconds{1000});
      sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
    });
    engine_->stop();
    release.join();
  }
  const std::string text = readFile(log);
  EXPECT_NE(text.find("+events-journaled-at-stop "), std::string::npos) << text;
  EXPECT_EQ(text.find("-events-discarded"), std::string::npos) << text;
  sqlite3_stmt* q = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(other, "SELECT COUNT(*) FROM events WHERE name = '+node-suspect' AND subject = 'eu-1'",
                               -1, &q, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(q, 0), 1) << text;
  sqlite3_finalize(q);
}

// The state a restart restores from the journal cannot be read back (here a last failover time that is not
// a number, in life a damaged page): the engine does not start, and says which key, rather than start
// unpaused or with no minimum interval since the last failover.
TEST_F(EngineTest, AStateTheJournalCannotGiveBackStopsTheStart) {
  fleet_.reset();
  engine_->stop();
  engine_.reset();
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(journal().c_str(), &other), SQLITE_OK);
  const std::unique_ptr<sqlite3, int (*)(sqlite3*)> closer(other, sqlite3_close);
  ASSERT_EQ(sqlite3_exec(other, "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_failover_ms', '17x')", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  Engine engine(engineConfig());
  const auto started = engine.start();
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.error().message.find("last_failover_ms: \"17x\" is not a time in milliseconds"), std::string::npos)
      << started.error().message;
  engine.stop();
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

// #17 item 4: a failed plan holds automation, across a restart too, until an operator resumes; resumed, the
// failover is made once. The hold is proven on a real loss after the restart (a region not heard since the
// start is never decided on, which would make "nothing happened" vacuous).
class FailedPlanTest : public EngineTest {
 protected:
  FailedPlanTest() { move_fails_ = true; }
};

TEST_F(FailedPlanTest, HoldsAutomationAcrossARestartUntilResumed) {
  fleet_->killRegion("eu");
  ASSERT_TRUE(
      waitFor([&] { return !engine_->status().value("blocked_by_failed_plan", "").empty(); }, milliseconds{10'000}))
      << engine_->status().dump();
  const std::string failed = engine_->status().value("blocked_by_failed_plan", "");
  EXPECT_EQ(decisions(), 1);
  EXPECT_EQ(engine_->status().value("active_region", ""), "eu");

  move_fails_ = false;  // the operator mends the step and restarts the aggregator
  startEngine();
  EXPECT_EQ(engine_->status().value("blocked_by_failed_plan", ""), failed) << "restored from the journal";
  loseEuAgain();
  ASSERT_TRUE(
      waitFor([&] { return held().find("plan " + failed + " failed") != std::string::npos; }, milliseconds{10'000}))
      << engine_->status().dump();
  std::this_thread::sleep_for(milliseconds{1000});
  EXPECT_EQ(decisions(), 1) << "held, not decided";
  EXPECT_FALSE(moved());

  ASSERT_TRUE(engine_->setPaused(false).ok());  // resume: the operator acknowledges the failed plan
  ASSERT_TRUE(
      waitFor([&] { return moved() && engine_->status().value("active_region", "") == "us"; }, milliseconds{10'000}))
      << engine_->status().dump();
  EXPECT_EQ(decisions(), 2);
  EXPECT_EQ(engine_->status().value("blocked_by_failed_plan", "x"), "");
}

// #17 item 4: a restart restores the active region, the last failover and a pause; /metrics says the same
// (each gauge read from its own line, not from the status echo).
TEST_F(EngineTest, ARestartRestoresTheActiveRegionTheLastFailoverAndAPause) {
  fleet_->killRegion("eu");
  ASSERT_TRUE(
      waitFor([&] { return moved() && engine_->status().value("active_region", "") == "us"; }, milliseconds{10'000}))
      << engine_->status().dump();
  const int64_t last = engine_->status().value("last_failover_ms", int64_t{0});
  ASSERT_GT(last, 0);
  ASSERT_TRUE(engine_->setPaused(true).ok());

  startEngine();
  const auto st = engine_->status();
  EXPECT_EQ(st.value("active_region", ""), "us");
  EXPECT_EQ(st.value("last_failover_ms", int64_t{0}), last);
  EXPECT_TRUE(st.value("paused", false));
  std::string metrics;
  const auto line = [&](const std::string& sample) { return metrics.find("\n" + sample + "\n") != std::string::npos; };
  // us's nodes heard again by the new engine.
  ASSERT_TRUE(waitFor(
      [&] {
        metrics = engine_->metrics();
        return line("hale_aggregator_nodes{region=\"us\",health=\"healthy\"} 2");
      },
      milliseconds{5000}))
      << metrics;
  EXPECT_TRUE(line("hale_aggregator_region_active{region=\"us\"} 1")) << metrics;
  EXPECT_TRUE(line("hale_aggregator_region_active{region=\"eu\"} 0")) << metrics;
  EXPECT_TRUE(line("hale_aggregator_paused 1")) << metrics;
  EXPECT_TRUE(line("hale_aggregator_journal_writable 1")) << metrics;
  EXPECT_NE(metrics.find("hale_aggregator_build_info{version=\""), std::string::npos) << metrics;
}

// #17 item 4: a decision awaiting approval survives a restart: still awaiting, still holding automation,
// and approved afterwards it runs once.
class ManualApprovalTest : public EngineTest {
 protected:
  ManualApprovalTest() { guards_ = "approval = \"manual\"\n"; }
};

TEST_F(ManualApprovalTest, APendingApprovalSurvivesARestartAndRunsOnceApproved) {
  fleet_->killRegion("eu");
  ASSERT_TRUE(waitFor([&] { return !engine_->status().value("awaiting_approval", "").empty(); }, milliseconds{10'000}))
      << engine_->status().dump();
  const std::string plan = engine_->status().value("awaiting_approval", "");
  EXPECT_FALSE(moved());

  startEngine();
  EXPECT_EQ(engine_->status().value("awaiting_approval", ""), plan) << engine_->status().dump();
  loseEuAgain();
  ASSERT_TRUE(waitFor([&] { return held() == "awaiting approval of plan " + plan; }, milliseconds{10'000}))
      << engine_->status().dump();
  EXPECT_EQ(decisions(), 1);
  EXPECT_FALSE(moved());

  const auto approved = engine_->approve(std::stoll(plan));
  ASSERT_TRUE(approved.ok()) << approved.error().message;
  ASSERT_TRUE(
      waitFor([&] { return moved() && engine_->status().value("active_region", "") == "us"; }, milliseconds{10'000}))
      << engine_->status().dump();
  EXPECT_EQ(decisions(), 1);
  const std::string recorded = readFile(record());
  EXPECT_EQ(std::count(recorded.begin(), recorded.end(), '\n'), 1) << recorded;
}

// #15 item 5: /metrics read by Prometheus's own promtool and by the grouping rule, after a failover and with
// a pause set (every family present).

TEST_F(EngineTest, MetricsPassPromtoolAndKeepEachFamilyTogether) {
  fleet_->killRegion("eu");
  ASSERT_TRUE(
      waitFor([&] { return moved() && engine_->status().value("active_region", "") == "us"; }, milliseconds{10'000}));
  ASSERT_TRUE(engine_->setPaused(true).ok());
  const std::string metrics = engine_->metrics();
  EXPECT_EQ(test::promtoolCheck(metrics), "");
  EXPECT_EQ(test::familiesGrouped(metrics), "");
  for (const char* family : {"hale_aggregator_node_last_heard_seconds{region=\"us\",node=\"us-1\"} ",
                             "hale_aggregator_last_failover_timestamp_seconds ", "hale_aggregator_awaiting_approval 0",
                             "hale_aggregator_plan_failed_blocking 0", "hale_aggregator_paused 1"}) {
    EXPECT_NE(metrics.find(std::string("\n") + family), std::string::npos) << family << "\n" << metrics;
  }
  EXPECT_EQ(metrics.find("hale_aggregator_last_failover_timestamp_seconds 0\n"), std::string::npos);

  // The shipped alert rules and dashboard ask only for families the aggregator exports (#15 item 7).
  const std::string rules = readFile(std::string(HALE_SOURCE_DIR) + "/packaging/prometheus/hale.rules.yml");
  const std::string dashboard = readFile(std::string(HALE_SOURCE_DIR) + "/packaging/grafana/hale.json");
  ASSERT_TRUE(nlohmann::json::accept(dashboard)) << "packaging/grafana/hale.json is not JSON";
  const std::regex name("hale_aggregator_[a-z_]+");
  size_t asked = 0;
  for (const std::string* text : {&rules, &dashboard}) {
    for (auto m = std::sregex_iterator(text->begin(), text->end(), name); m != std::sregex_iterator(); ++m, ++asked) {
      EXPECT_NE(metrics.find("# TYPE " + m->str() + " "), std::string::npos) << m->str() << " is not exported";
    }
  }
  EXPECT_GT(asked, 10u);
}

}  // namespace
}  // namespace hale::aggregator
