// postgres_promote against the harness's primary + streaming standby.

#include <gtest/gtest.h>

#include "action_fixture.h"
#include "postgres_pair.h"

namespace hale::aggregator {
namespace {

using hale::test::PostgresPair;
using Node = PostgresPair::Node;
using std::chrono::milliseconds;

std::string conninfo(const PostgresPair& pg, Node n) {
  return "host=127.0.0.1 port=" + std::to_string(pg.port(n)) + " user=postgres dbname=postgres connect_timeout=2";
}

std::shared_ptr<Action> promoteAction(const PostgresPair& pg, const std::string& extra = "",
                                      bool with_old_primary = true, const std::string& max_lag = "1s") {
  std::string body =
      "type = \"postgres_promote\"\nstandby = \"" + conninfo(pg, Node::standby) + "\"\nmax_lag = \"" + max_lag + "\"\n";
  if (with_old_primary) body += "old_primary = \"" + conninfo(pg, Node::primary) + "\"\nfence_timeout = \"500ms\"\n";
  auto c = parseAggregatorConfig(
      "coordination = \"none\"\ninsecure = true\nlisten = [\"tcp://127.0.0.1:1\"]\n[[region]]\nname = \"eu\"\nrole = "
      "\"active\"\nnodes "
      "= [\"a\"]\n"
      "[[action]]\nname = \"promote\"\n" +
          body + extra,
      "t.toml");
  if (!c) {
    ADD_FAILURE() << c.error().message;
    return nullptr;
  }
  return c.value().actions.at("promote").action;
}

// Makes the standby fall behind: it receives WAL but does not replay it.
void holdBackReplay(PostgresPair& pg) {
  pg.query(Node::primary, "CREATE TABLE IF NOT EXISTS t (v int)");
  const std::string lsn = pg.query(Node::primary, "SELECT pg_current_wal_insert_lsn()");
  ASSERT_TRUE(hale::test::waitFor(
      [&] { return pg.query(Node::standby, "SELECT pg_last_wal_replay_lsn() >= '" + lsn + "'") == "t"; },
      std::chrono::seconds{10}));
  pg.query(Node::standby, "SELECT pg_wal_replay_pause()");
  pg.query(Node::primary, "INSERT INTO t VALUES (1)");
  ASSERT_TRUE(hale::test::waitFor(
      [&] { return pg.query(Node::standby, "SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()") == "t"; },
      std::chrono::seconds{10}));
  std::this_thread::sleep_for(milliseconds{1500});  // the last replayed commit is now older than max_lag
}

// One commit the standby replays; then its WAL receiver is cut off (pointed at a port where nothing listens)
// and the primary takes `rows` more commits the standby never receives. Returns when the last replayed
// commit is older than `age`.
void cutOffAndWriteBehind(PostgresPair& pg, int rows, milliseconds age) {
  pg.query(Node::primary, "CREATE TABLE IF NOT EXISTS t (v int)");
  pg.query(Node::primary, "INSERT INTO t VALUES (0)");
  pg.waitForReplay();
  pg.cutOffReceiver();
  for (int i = 1; i <= rows; ++i) pg.query(Node::primary, "INSERT INTO t VALUES (" + std::to_string(i) + ")");
  std::this_thread::sleep_for(age);
  // What "caught up with what it received" would have called lag 0.
  ASSERT_EQ(pg.query(Node::standby, "SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()"), "t");
}

TEST(PostgresPromote, FencesPromotesVerifiesAndIsIdempotent) {
  PostgresPair pg;
  pg.start();
  auto promote = promoteAction(pg);
  EXPECT_EQ(promote->gate(test::actionRequest()).status, ActionStatus::applied);
  EXPECT_EQ(pg.query(Node::primary, "SHOW default_transaction_read_only"), "off");  // the gate changed nothing
  const ActionResult r = promote->execute(test::actionRequest());
  ASSERT_EQ(r.status, ActionStatus::applied) << r.detail;
  EXPECT_NE(r.detail.find("old primary fenced read-only"), std::string::npos) << r.detail;
  EXPECT_EQ(promote->verify(test::actionRequest()).status, ActionStatus::applied);

  // The new primary takes writes; the old one refuses them.
  EXPECT_EQ(pg.query(Node::standby, "SELECT pg_is_in_recovery()"), "f");
  pg.query(Node::standby, "CREATE TABLE after_failover (v int); INSERT INTO after_failover VALUES (1)");
  EXPECT_EQ(pg.query(Node::primary, "SHOW default_transaction_read_only"), "on");
  EXPECT_THROW(pg.query(Node::primary, "CREATE TABLE split_brain (v int)"), std::runtime_error);

  const ActionResult again = promote->execute(test::actionRequest());
  EXPECT_EQ(again.status, ActionStatus::already_applied) << again.detail;
}

TEST(PostgresPromote, LagGateRefusesABehindStandbyUnlessForced) {
  PostgresPair pg;
  pg.start();
  holdBackReplay(pg);
  auto promote = promoteAction(pg);
  // The gate, asked before a plan's first step, refuses as the promotion would, without touching anything.
  const ActionResult gate = promote->gate(test::actionRequest());
  EXPECT_EQ(gate.status, ActionStatus::permanent) << gate.detail;
  EXPECT_NE(gate.detail.find("(RPO gate)"), std::string::npos) << gate.detail;
  EXPECT_EQ(promote->gate(test::actionRequest(std::chrono::seconds{20}, /*forced=*/true)).status,
            ActionStatus::applied);
  const ActionResult refused = promote->execute(test::actionRequest());
  EXPECT_EQ(refused.status, ActionStatus::permanent);
  EXPECT_NE(refused.detail.find("exceeds max_lag 1.0s (RPO gate)"), std::string::npos) << refused.detail;
  EXPECT_EQ(pg.query(Node::standby, "SELECT pg_is_in_recovery()"), "t");            // nothing changed
  EXPECT_EQ(pg.query(Node::primary, "SHOW default_transaction_read_only"), "off");  // not even the fence

  const ActionResult forced = promote->execute(test::actionRequest(std::chrono::seconds{20}, /*forced=*/true));
  ASSERT_EQ(forced.status, ActionStatus::applied) << forced.detail;
  EXPECT_NE(forced.detail.find("promoted anyway (forced)"), std::string::npos) << forced.detail;
  EXPECT_EQ(pg.query(Node::standby, "SELECT pg_is_in_recovery()"), "f");
}

// #12 item 6, failed before: the standby's receiver cut off, 10 rows written on the primary, the primary
// dies; the promotion said "standby lag 0.0s" and lost all 10. The age of its last replayed commit bounds
// what it may lack, and that is over max_lag.
TEST(PostgresPromote, AStandbyCutOffFromItsPrimaryIsNotPromotedAsCurrent) {
  PostgresPair pg;
  pg.start();
  cutOffAndWriteBehind(pg, 10, milliseconds{1500});
  pg.kill(Node::primary);
  auto promote = promoteAction(pg);
  const ActionResult gate = promote->gate(test::actionRequest());
  EXPECT_EQ(gate.status, ActionStatus::permanent) << gate.detail;
  const ActionResult refused = promote->execute(test::actionRequest());
  EXPECT_EQ(refused.status, ActionStatus::permanent) << refused.detail;
  EXPECT_NE(refused.detail.find("WAL receiver is not running, its last replayed commit"), std::string::npos)
      << refused.detail;
  EXPECT_NE(refused.detail.find("exceeds max_lag 1.0s (RPO gate)"), std::string::npos) << refused.detail;
  EXPECT_EQ(pg.query(Node::standby, "SELECT pg_is_in_recovery()"), "t");

  // Forced, the operator accepts the loss: it promotes, and the 10 rows are indeed not there.
  const ActionResult forced = promote->execute(test::actionRequest(std::chrono::seconds{20}, /*forced=*/true));
  ASSERT_EQ(forced.status, ActionStatus::applied) << forced.detail;
  EXPECT_EQ(pg.query(Node::standby, "SELECT count(*) FROM t"), "1");
}

// Waits until the standby has heard nothing from its primary for longer than `silence`.
void waitForSilence(PostgresPair& pg, milliseconds silence) {
  const std::string seconds = std::to_string(static_cast<double>(silence.count()) / 1000.0);
  ASSERT_TRUE(hale::test::waitFor(
      [&] {
        return pg.query(Node::standby, "SELECT now() - last_msg_receipt_time > interval '" + seconds +
                                           " seconds' FROM pg_stat_wal_receiver") == "t";
      },
      std::chrono::seconds{25}));
}

// After a silent cut (a partition, a primary frozen in place) the WAL receiver says "streaming" until
// wal_receiver_timeout, 60 s by default, and it has replayed all it received: the gate took that for lag
// 0 while the primary could go on committing. What bounds the loss is the time since the standby last
// heard from its primary.
TEST(PostgresPromote, AStandbySilentlyCutOffStillSaysStreamingAndIsNotPromotedAsCurrent) {
  PostgresPair pg;
  pg.start();
  pg.query(Node::primary, "CREATE TABLE t (v int); INSERT INTO t VALUES (1)");
  pg.waitForReplay();
  pg.freeze(Node::primary);
  waitForSilence(pg, milliseconds{1500});
  ASSERT_EQ(pg.query(Node::standby, "SELECT status FROM pg_stat_wal_receiver"), "streaming");

  const ActionResult gate = promoteAction(pg, "", false)->gate(test::actionRequest());
  EXPECT_EQ(gate.status, ActionStatus::permanent) << gate.detail;
  EXPECT_NE(gate.detail.find("says 'streaming' but has heard nothing from its primary for"), std::string::npos)
      << gate.detail;
  EXPECT_NE(gate.detail.find("exceeds max_lag 1.0s (RPO gate)"), std::string::npos) << gate.detail;
  // The old primary configured but not answering (frozen) proves nothing either.
  const ActionResult r = promoteAction(pg)->execute(test::actionRequest());
  EXPECT_EQ(r.status, ActionStatus::permanent) << r.detail;
  EXPECT_EQ(pg.query(Node::standby, "SELECT pg_is_in_recovery()"), "t");
  pg.thaw(Node::primary);
}

// The other side of the same bound: an idle primary sends its standby nothing for up to half of
// wal_receiver_timeout, so a healthy idle standby has been silent for longer than a small max_lag. A
// reachable old primary settles it: the standby has everything it flushed.
TEST(PostgresPromote, AQuietStandbyIsProvenCurrentByItsReachableOldPrimary) {
  PostgresPair pg;
  pg.start();
  pg.query(Node::primary, "CREATE TABLE t (v int); INSERT INTO t VALUES (1)");
  pg.waitForReplay();
  waitForSilence(pg, milliseconds{1500});
  const ActionResult gate = promoteAction(pg)->gate(test::actionRequest());
  EXPECT_EQ(gate.status, ActionStatus::applied) << gate.detail;
  EXPECT_NE(gate.detail.find("the old primary, asked, had flushed"), std::string::npos) << gate.detail;
  // Without an old primary to ask, nothing bounds it below the silence: refused, not guessed.
  const ActionResult alone = promoteAction(pg, "", false)->gate(test::actionRequest());
  EXPECT_EQ(alone.status, ActionStatus::permanent) << alone.detail;
}

// Asked, a reachable old primary only rescues a standby that has what it flushed: one cut off while the
// primary went on committing is still refused.
TEST(PostgresPromote, AReachableOldPrimaryDoesNotRescueAStandbyThatLacksItsWal) {
  PostgresPair pg;
  pg.start();
  cutOffAndWriteBehind(pg, 5, milliseconds{1500});
  const ActionResult gate = promoteAction(pg)->gate(test::actionRequest());
  EXPECT_EQ(gate.status, ActionStatus::permanent) << gate.detail;
  EXPECT_EQ(gate.detail.find("asked"), std::string::npos) << gate.detail;
  EXPECT_NE(gate.detail.find("exceeds max_lag 1.0s (RPO gate)"), std::string::npos) << gate.detail;
}

// A standby that never replayed a commit and no longer receives cannot say what it lacks: unknown, refused.
TEST(PostgresPromote, AStandbyCutOffBeforeItsFirstCommitHasUnknownLag) {
  PostgresPair pg;
  pg.start();
  ASSERT_EQ(pg.query(Node::standby, "SELECT pg_last_xact_replay_timestamp() IS NULL"), "t")
      << "the fresh standby has replayed a commit already; this test needs one that has not";
  pg.kill(Node::primary);
  // Until its receiver notices, the standby still says "streaming" (under load that took long enough for
  // the gate to see it): the case here is a standby that no longer receives.
  pg.waitUntilNotStreaming();
  const ActionResult r = promoteAction(pg)->execute(test::actionRequest());
  EXPECT_EQ(r.status, ActionStatus::permanent) << r.detail;
  EXPECT_NE(r.detail.find("has replayed no commit since it started: lag unknown against max_lag"), std::string::npos)
      << r.detail;
}

// The gate does not guess: a role that cannot see the WAL receiver's state gets the coarse bound (the
// age of the last replayed commit, the role's creation here) and is told what to grant.
TEST(PostgresPromote, AGateThatCannotSeeTheReceiverDoesNotTakeItAsStreaming) {
  PostgresPair pg;
  pg.start();
  pg.query(Node::primary, "CREATE ROLE watcher LOGIN");
  pg.waitForReplay();
  ASSERT_EQ(pg.query(Node::standby, "SELECT status FROM pg_stat_wal_receiver"), "streaming");
  const std::string watcher = "host=127.0.0.1 port=" + std::to_string(pg.port(Node::standby)) +
                              " user=watcher dbname=postgres connect_timeout=2";
  auto c = parseAggregatorConfig(
      "coordination = \"none\"\ninsecure = true\nlisten = [\"tcp://127.0.0.1:1\"]\n[[region]]\nname = \"eu\"\nrole = "
      "\"active\"\nnodes = [\"a\"]\n[[action]]\nname = \"promote\"\ntype = \"postgres_promote\"\nstandby = \"" +
          watcher + "\"\nmax_lag = \"30s\"\n",
      "t.toml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  const ActionResult gate = c.value().actions.at("promote").action->gate(test::actionRequest());
  EXPECT_EQ(gate.status, ActionStatus::applied) << gate.detail;
  EXPECT_NE(gate.detail.find("hidden from this role (grant it pg_monitor), its last replayed commit"),
            std::string::npos)
      << gate.detail;
}

// The usual death: the primary was committing until it died, so the standby's last replayed commit is
// recent and bounds the loss within max_lag.
TEST(PostgresPromote, PromotesWhenTheOldPrimaryIsDown) {
  PostgresPair pg;
  pg.start();
  pg.query(Node::primary, "CREATE TABLE t (v int); INSERT INTO t VALUES (1)");
  pg.waitForReplay();
  pg.kill(Node::primary);
  pg.waitUntilNotStreaming();  // judged as a dead primary's standby is, by its last commit's age
  const ActionResult r = promoteAction(pg, "", true, "30s")->execute(test::actionRequest());
  ASSERT_EQ(r.status, ActionStatus::applied) << r.detail;
  EXPECT_NE(r.detail.find("old primary unreachable"), std::string::npos) << r.detail;
  EXPECT_EQ(pg.query(Node::standby, "SELECT pg_is_in_recovery()"), "f");
}

TEST(PostgresPromote, AReachableWritablePrimaryThatCannotBeFencedIsNeverJoinedByASecond) {
  PostgresPair pg;
  pg.start();
  // The old primary is reached as a role that may not ALTER SYSTEM: the fence fails while it takes writes.
  pg.query(Node::primary, "CREATE ROLE weak LOGIN");
  const std::string weak =
      "host=127.0.0.1 port=" + std::to_string(pg.port(Node::primary)) + " user=weak dbname=postgres connect_timeout=2";
  auto promote = promoteAction(pg, "old_primary = \"" + weak + "\"\nfence_timeout = \"2s\"\n", false);
  for (const bool forced : {false, true}) {
    const ActionResult r = promote->execute(test::actionRequest(std::chrono::seconds{10}, forced));
    EXPECT_EQ(r.status, ActionStatus::permanent) << r.detail;
    EXPECT_NE(r.detail.find("fencing the reachable, writable old primary failed"), std::string::npos) << r.detail;
    EXPECT_EQ(pg.query(Node::standby, "SELECT pg_is_in_recovery()"), "t");  // not promoted
  }
  EXPECT_EQ(pg.query(Node::primary, "SHOW default_transaction_read_only"), "off");
}

TEST(PostgresPromote, UnreachableStandbyIsRetryable) {
  PostgresPair pg;
  pg.start();
  pg.stop(Node::standby);
  const ActionResult r = promoteAction(pg, "", false)->execute(test::actionRequest());
  EXPECT_EQ(r.status, ActionStatus::retryable);
  EXPECT_NE(r.detail.find("standby:"), std::string::npos) << r.detail;
}

}  // namespace
}  // namespace hale::aggregator
