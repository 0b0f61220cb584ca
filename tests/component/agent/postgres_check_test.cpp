#include <gtest/gtest.h>

#include <csignal>
#include <thread>

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

// The backend processes serving the agent's checks on `n` (their application_name), comma-separated.
std::string agentBackends(PostgresPair& pg, Node n) {
  return pg.query(n,
                  "SELECT coalesce(string_agg(pid::text, ',' ORDER BY pid), '') FROM pg_stat_activity "
                  "WHERE application_name = 'hale-agent'");
}

// The one backend serving the agent's checks on the primary, once the sessions of earlier tests' checks have
// ended (they may take a moment); "" when there is not exactly one within 5 s.
std::string theOneAgentBackend(PostgresPair& pg) {
  std::string backend;
  const bool one = hale::test::waitFor(
      [&] {
        backend = agentBackends(pg, Node::primary);
        return !backend.empty() && backend.find(',') == std::string::npos;
      },
      std::chrono::seconds{5});
  return one ? backend : "";
}

// #16: a check holds one server session across probes, not one connection (a forked backend) per second.
TEST_F(PostgresCheckTest, OneCheckHoldsOneServerConnectionAcrossProbes) {
  auto check = test::makeCheck(conf(Node::primary, "expected_role = \"primary\"\n"));
  ASSERT_NE(check, nullptr);
  EXPECT_OUTCOME(runCheck(*check, milliseconds{2000}), Outcome::pass);
  const std::string backend = theOneAgentBackend(*pg_);
  ASSERT_FALSE(backend.empty()) << agentBackends(*pg_, Node::primary);
  for (int i = 0; i < 30; ++i) EXPECT_OUTCOME(runCheck(*check, milliseconds{2000}), Outcome::pass);
  EXPECT_EQ(agentBackends(*pg_, Node::primary), backend);
}

// #16: the server stopped fails the probes (and spaces the reconnections); back, the check reconnects on its
// own. A restart closes the idle session: the first probe after it reconnects at once and passes.
TEST_F(PostgresCheckTest, AKeptConnectionRecoversAfterTheServerRestarts) {
  auto check = test::makeCheck(conf(Node::primary, "expected_role = \"primary\"\n"));
  ASSERT_NE(check, nullptr);
  EXPECT_OUTCOME(runCheck(*check, milliseconds{2000}), Outcome::pass);
  const std::string before = theOneAgentBackend(*pg_);
  ASSERT_FALSE(before.empty()) << agentBackends(*pg_, Node::primary);

  pg_->restart(Node::primary);
  EXPECT_OUTCOME(runCheck(*check, milliseconds{2000}), Outcome::pass);

  pg_->stop(Node::primary);
  auto down = runCheck(*check, milliseconds{1000});
  EXPECT_OUTCOME(down, Outcome::error);
  EXPECT_NE(down.result.message.find("Connection refused"), std::string::npos) << down.result.message;
  EXPECT_OUTCOME(runCheck(*check, milliseconds{1000}), Outcome::error);  // tried again at once
  auto waiting = runCheck(*check, milliseconds{1000});                   // then not before a second
  EXPECT_OUTCOME(waiting, Outcome::error);
  EXPECT_NE(waiting.result.message.find("not connected; next attempt in"), std::string::npos) << waiting.result.message;
  EXPECT_LT(waiting.elapsed, milliseconds{50});

  pg_->restart(Node::primary);
  ASSERT_TRUE(hale::test::waitFor([&] { return runCheck(*check, milliseconds{1000}).result.outcome == Outcome::pass; },
                                  std::chrono::seconds{10}));
  const std::string after = agentBackends(*pg_, Node::primary);
  EXPECT_FALSE(after.empty());
  EXPECT_EQ(after.find(','), std::string::npos) << after;
  EXPECT_NE(after, before);
}

// #16: a probe that hangs on the kept session (its backend stopped) fails at the time-out and closes that
// session as it ends; the next probe works on a new one.
TEST_F(PostgresCheckTest, AProbeThatTimesOutOnTheKeptSessionDropsIt) {
  auto check = test::makeCheck(conf(Node::primary));
  ASSERT_NE(check, nullptr);
  EXPECT_OUTCOME(runCheck(*check, milliseconds{2000}), Outcome::pass);
  const std::string backend = theOneAgentBackend(*pg_);
  ASSERT_FALSE(backend.empty()) << agentBackends(*pg_, Node::primary);
  const pid_t pid = std::stoi(backend);
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  // The stop takes effect asynchronously: a backend on the other core could still answer the probe.
  ASSERT_TRUE(
      hale::test::waitFor([&] { return hale::test::processState(pid) == "T"; }, milliseconds{5000}, milliseconds{1}));
  auto hung = runCheck(*check, milliseconds{400});
  ::kill(pid, SIGCONT);
  EXPECT_OUTCOME(hung, Outcome::error);
  EXPECT_NE(hung.result.message.find("within the timeout"), std::string::npos) << hung.result.message;
  // Closed as that probe ended, not held mid-query until the next one: the backend, continued, finds its
  // client gone.
  EXPECT_TRUE(hale::test::waitFor([&] { return agentBackends(*pg_, Node::primary).empty(); }, std::chrono::seconds{5}))
      << agentBackends(*pg_, Node::primary);
  EXPECT_OUTCOME(runCheck(*check, milliseconds{2000}), Outcome::pass);
  ASSERT_TRUE(hale::test::waitFor(
      [&] {
        const std::string now = agentBackends(*pg_, Node::primary);
        return !now.empty() && now.find(',') == std::string::npos && now != backend;
      },
      std::chrono::seconds{5}));
}

// #16, a fault at another instant: the backend of the kept session dies while it holds a probe's query (here
// SIGKILL, which also makes the postmaster restart every backend). That probe fails as soon as the
// connection breaks, not at its time-out, and the check passes again on a new session once the server is
// back.
TEST_F(PostgresCheckTest, ABackendKilledMidQueryFailsThatProbeAtOnceAndTheCheckRecovers) {
  auto check = test::makeCheck(conf(Node::primary, "expected_role = \"primary\"\n"));
  ASSERT_NE(check, nullptr);
  EXPECT_OUTCOME(runCheck(*check, milliseconds{2000}), Outcome::pass);
  const std::string backend = theOneAgentBackend(*pg_);
  ASSERT_FALSE(backend.empty()) << agentBackends(*pg_, Node::primary);
  const pid_t pid = std::stoi(backend);
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);  // holds the next query
  ASSERT_TRUE(
      hale::test::waitFor([&] { return hale::test::processState(pid) == "T"; }, milliseconds{5000}, milliseconds{1}));
  test::Run killed;
  std::thread probe([&] { killed = runCheck(*check, milliseconds{4000}); });
  std::this_thread::sleep_for(milliseconds{300});
  ::kill(pid, SIGKILL);
  probe.join();
  EXPECT_OUTCOME(killed, Outcome::error);
  EXPECT_LT(killed.elapsed, milliseconds{2000}) << killed.result.message;
  EXPECT_EQ(killed.result.message.find("within the timeout"), std::string::npos) << killed.result.message;
  // The query on the kept session broke (not a new session refused while the server restarts).
  EXPECT_NE(killed.result.message.find("closed the connection"), std::string::npos) << killed.result.message;
  ASSERT_TRUE(hale::test::waitFor([&] { return runCheck(*check, milliseconds{2000}).result.outcome == Outcome::pass; },
                                  std::chrono::seconds{20}));
  const std::string after = agentBackends(*pg_, Node::primary);
  EXPECT_FALSE(after.empty());
  EXPECT_NE(after, backend);
}

// #16: a postmaster that hangs while open sessions still answer (no new session can start, as when
// max_connections is reached) fails the check once the kept session is due for renewal; session_lifetime
// = "0s" opens a session per probe and closes it at the end of the probe.
TEST_F(PostgresCheckTest, AHungPostmasterIsFoundWhenTheSessionIsRenewed) {
  // Probes every 500 ms: the session outlives the next probe, so it is kept between them.
  auto check =
      test::makeCheck(conf(Node::primary, "session_lifetime = \"1s\"\ninterval = \"500ms\"\ntimeout = \"400ms\"\n"));
  ASSERT_NE(check, nullptr);
  EXPECT_OUTCOME(runCheck(*check, milliseconds{2000}), Outcome::pass);
  pg_->freeze(Node::primary);
  auto kept = runCheck(*check, milliseconds{400});
  std::this_thread::sleep_for(milliseconds{1100});
  auto renewed = runCheck(*check, milliseconds{400});
  pg_->thaw(Node::primary);
  EXPECT_OUTCOME(kept, Outcome::pass);
  EXPECT_OUTCOME(renewed, Outcome::error);
  EXPECT_NE(renewed.result.message.find("within the timeout (connecting)"), std::string::npos)
      << renewed.result.message;

  // Each probe opens its own session and closes it as it ends: none is left between probes.
  auto per_probe = test::makeCheck(conf(Node::primary, "session_lifetime = \"0s\"\n"));
  ASSERT_NE(per_probe, nullptr);
  for (int i = 0; i < 3; ++i) {
    EXPECT_OUTCOME(runCheck(*per_probe, milliseconds{2000}), Outcome::pass);
    EXPECT_TRUE(
        hale::test::waitFor([&] { return agentBackends(*pg_, Node::primary).empty(); }, std::chrono::seconds{5}))
        << "probe " << i << ": " << agentBackends(*pg_, Node::primary);
  }
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
