#include <gtest/gtest.h>

#include "check_runner.h"
#include "postgres_pair.h"

namespace hale::agent {
namespace {

using hale::test::PostgresPair;
using test::runCheck;
using Node = PostgresPair::Node;
using std::chrono::milliseconds;

class PostgresCheckTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pg_ = new PostgresPair();
    pg_->start();
  }
  static void TearDownTestSuite() {
    delete pg_;
    pg_ = nullptr;
  }
  static std::string conf(Node n, const std::string& extra = "") {
    return "type = \"postgres\"\nconninfo = \"host=127.0.0.1 port=" + std::to_string(pg_->port(n)) +
           " user=postgres dbname=postgres\"\n" + extra;
  }
  static PostgresPair* pg_;
};
PostgresPair* PostgresCheckTest::pg_ = nullptr;

TEST_F(PostgresCheckTest, DetectsPrimaryAndStandby) {
  auto primary = runCheck(conf(Node::primary, "expected_role = \"primary\"\n"));
  EXPECT_OUTCOME(primary, Outcome::pass);
  EXPECT_EQ(primary.result.message, "primary");
  auto standby = runCheck(conf(Node::standby, "expected_role = \"standby\"\nmax_lag = \"30s\"\n"));
  EXPECT_OUTCOME(standby, Outcome::pass);
  EXPECT_EQ(standby.result.message.rfind("standby, replay lag ", 0), 0u) << standby.result.message;
  EXPECT_OUTCOME(runCheck(conf(Node::standby)), Outcome::pass);  // expected_role = any
}

TEST_F(PostgresCheckTest, WrongRoleFailsDefinitively) {
  auto r = runCheck(conf(Node::standby, "expected_role = \"primary\"\n"));
  EXPECT_OUTCOME(r, Outcome::fail);
  EXPECT_EQ(r.result.message, "role is standby, expected primary");
  r = runCheck(conf(Node::primary, "expected_role = \"standby\"\n"));
  EXPECT_OUTCOME(r, Outcome::fail);
  EXPECT_EQ(r.result.message, "role is primary, expected standby");
}

TEST_F(PostgresCheckTest, ReportsReplayLagAndFailsOverTheLimit) {
  // One replayed commit first, so the standby knows when it last replayed something.
  pg_->query(Node::primary, "CREATE TABLE IF NOT EXISTS lag_probe (v int)");
  // The insert position, not pg_current_wal_lsn(): with synchronous_commit off the commit may not be written yet.
  const std::string lsn = pg_->query(Node::primary, "SELECT pg_current_wal_insert_lsn()");
  ASSERT_TRUE(hale::test::waitFor(
      [&] { return pg_->query(Node::standby, "SELECT pg_last_wal_replay_lsn() >= '" + lsn + "'") == "t"; },
      std::chrono::seconds{10}));
  pg_->query(Node::standby, "SELECT pg_wal_replay_pause()");
  pg_->query(Node::primary, "INSERT INTO lag_probe VALUES (1)");
  // The standby receives the WAL but does not replay it: its lag grows with the wall clock.
  ASSERT_TRUE(hale::test::waitFor(
      [&] { return pg_->query(Node::standby, "SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()") == "t"; },
      std::chrono::seconds{10}));
  std::this_thread::sleep_for(milliseconds{1200});
  auto r = runCheck(conf(Node::standby, "max_lag = \"1s\"\n"));
  EXPECT_OUTCOME(r, Outcome::fail);
  EXPECT_NE(r.result.message.find("over the 1.0s limit"), std::string::npos) << r.result.message;
  pg_->query(Node::standby, "SELECT pg_wal_replay_resume()");
  ASSERT_TRUE(hale::test::waitFor(
      [&] { return runCheck(conf(Node::standby, "max_lag = \"1s\"\n")).result.outcome == Outcome::pass; },
      std::chrono::seconds{10}));
}

TEST_F(PostgresCheckTest, FrozenServerFailsAtTheTimeout) {
  pg_->freeze(Node::standby);
  auto r = runCheck(conf(Node::standby), milliseconds{400});
  pg_->thaw(Node::standby);
  EXPECT_OUTCOME(r, Outcome::error);
  EXPECT_NE(r.result.message.find("within the timeout"), std::string::npos) << r.result.message;
  EXPECT_GE(r.elapsed, milliseconds{380});
  EXPECT_LT(r.elapsed, milliseconds{1000});
}

TEST_F(PostgresCheckTest, StoppedServerFailsAtOnce) {
  pg_->stop(Node::standby);
  auto r = runCheck(conf(Node::standby), milliseconds{1000});
  EXPECT_OUTCOME(r, Outcome::error);
  EXPECT_NE(r.result.message.find("Connection refused"), std::string::npos) << r.result.message;
  EXPECT_LT(r.elapsed, milliseconds{500});
  pg_->restart(Node::standby);
  // Back, it passes once it has replayed what it missed (a lagging standby warns until then).
  ASSERT_TRUE(hale::test::waitFor(
      [&] { return runCheck(conf(Node::standby, "expected_role = \"standby\"\n")).result.outcome == Outcome::pass; },
      std::chrono::seconds{10}));
}

TEST_F(PostgresCheckTest, BadCredentialsAreAnError) {
  auto r =
      runCheck("type = \"postgres\"\nconninfo = \"host=127.0.0.1 port=" + std::to_string(pg_->port(Node::primary)) +
               " user=nobody_here dbname=postgres\"\n");
  EXPECT_OUTCOME(r, Outcome::error);
  EXPECT_NE(r.result.message.find("nobody_here"), std::string::npos) << r.result.message;
}

// A role without pg_read_all_stats sees the WAL receiver's pid but not its state: the check does not
// fail a healthy standby for that, and says what to grant.
TEST_F(PostgresCheckTest, ARoleThatCannotSeeTheReceiverSaysWhatToGrant) {
  pg_->query(Node::primary, "DO $$ BEGIN CREATE ROLE watcher LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
  ASSERT_TRUE(hale::test::waitFor(
      [&] { return pg_->query(Node::standby, "SELECT count(*) FROM pg_roles WHERE rolname = 'watcher'") == "1"; },
      std::chrono::seconds{10}));
  auto r =
      runCheck("type = \"postgres\"\nconninfo = \"host=127.0.0.1 port=" + std::to_string(pg_->port(Node::standby)) +
               " user=watcher dbname=postgres\"\nexpected_role = \"standby\"\nmax_lag = \"1s\"\n");
  EXPECT_OUTCOME(r, Outcome::pass);
  EXPECT_NE(r.result.message.find("grant pg_monitor"), std::string::npos) << r.result.message;
}

// #12 item 6: a standby whose WAL receiver is down reports the bound the promotion's RPO gate judges (the
// age of its last replayed commit), failing beyond max_lag, not a warning with "lag 0". Failed before:
// the check said "standby, replay lag 0.0s, WAL receiver not running" (warn) however long ago it stopped.
TEST(PostgresCheck, AStandbyCutOffFromItsPrimaryFailsOnceItsLagBoundPassesMaxLag) {
  PostgresPair pg;
  pg.start();
  const std::string conf = "type = \"postgres\"\nconninfo = \"" + pg.conninfo(Node::standby) +
                           "\"\nexpected_role = \"standby\"\nmax_lag = \"1500ms\"\n";
  pg.query(Node::primary, "CREATE TABLE t (v int); INSERT INTO t VALUES (1)");
  pg.waitForReplay();
  pg.cutOffReceiver();
  // Soon after: degraded, with the bound, not a pass and not "lag 0".
  const auto early = runCheck(conf);
  if (early.result.outcome == Outcome::warn) {
    EXPECT_EQ(early.result.message.rfind("standby, lag at most ", 0), 0u) << early.result.message;
    EXPECT_NE(early.result.message.find(", WAL receiver "), std::string::npos) << early.result.message;
  } else {
    // A loaded machine may already be past 1.5 s; then it must be the failure below.
    EXPECT_OUTCOME(early, Outcome::fail);
  }
  // Later: the bound passed max_lag, a definitive failure, whatever the primary did meanwhile.
  std::this_thread::sleep_for(milliseconds{1600});
  const auto late = runCheck(conf);
  EXPECT_OUTCOME(late, Outcome::fail);
  EXPECT_EQ(late.result.message.rfind("standby, lag at most ", 0), 0u) << late.result.message;
  EXPECT_NE(late.result.message.find("over the 1.5s limit"), std::string::npos) << late.result.message;
}

}  // namespace
}  // namespace hale::agent
