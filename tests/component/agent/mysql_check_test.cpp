#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "check_runner.h"
#include "mariadb_pair.h"
#include "process.h"
#include "temp_dir.h"

namespace hale::agent {
namespace {

using hale::test::MariadbPair;
using test::runCheck;
using Node = MariadbPair::Node;
using std::chrono::milliseconds;

// Bytes the server listening on `port` has not read yet, over its established connections: a statement
// sent to a frozen server is taken by the kernel and waits here.
size_t bytesQueuedAt(uint16_t port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // the header
  size_t total = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues;
    fields >> slot >> local >> remote >> state >> queues;
    const size_t colon = local.find(':');
    const size_t split = queues.find(':');
    if (state != "01" || colon == std::string::npos || split == std::string::npos) continue;  // 01: established
    try {
      if (std::stoul(local.substr(colon + 1), nullptr, 16) != port) continue;
      total += std::stoul(queues.substr(split + 1), nullptr, 16);  // tx_queue:rx_queue
    } catch (const std::logic_error&) {
      continue;  // a line of another shape: not ours
    }
  }
  return total;
}

class MysqlCheckTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = new MariadbPair();
    db_->start();
    dir_ = new hale::test::TempDir("mysqlcheck");
    password_file_ = dir_->writeFile("pw", std::string(MariadbPair::kPassword) + "\n", 0600);
  }
  static void TearDownTestSuite() {
    delete db_;
    delete dir_;
  }
  static std::string conf(Node n, const std::string& extra = "") {
    return "type = \"mysql\"\nhost = \"127.0.0.1\"\nport = " + std::to_string(db_->port(n)) + "\nuser = \"" +
           MariadbPair::kUser + "\"\npassword_file = \"" + password_file_ + "\"\n" + extra;
  }
  static MariadbPair* db_;
  static hale::test::TempDir* dir_;
  static std::string password_file_;
};
MariadbPair* MysqlCheckTest::db_ = nullptr;
hale::test::TempDir* MysqlCheckTest::dir_ = nullptr;
std::string MysqlCheckTest::password_file_;

TEST_F(MysqlCheckTest, DetectsPrimaryAndReplica) {
  auto primary = runCheck(conf(Node::primary, "expected_role = \"primary\"\n"));
  EXPECT_OUTCOME(primary, Outcome::pass);
  EXPECT_EQ(primary.result.message, "primary");
  auto replica = runCheck(conf(Node::replica, "expected_role = \"standby\"\nmax_lag = \"30s\"\n"));
  EXPECT_OUTCOME(replica, Outcome::pass);
  EXPECT_EQ(replica.result.message, "standby, lag 0s");
}

TEST_F(MysqlCheckTest, WrongRoleFailsDefinitively) {
  auto r = runCheck(conf(Node::replica, "expected_role = \"primary\"\n"));
  EXPECT_OUTCOME(r, Outcome::fail);
  EXPECT_EQ(r.result.message, "role is standby, expected primary");
  r = runCheck(conf(Node::primary, "expected_role = \"standby\"\n"));
  EXPECT_OUTCOME(r, Outcome::fail);
}

TEST_F(MysqlCheckTest, StoppedReplicationFails) {
  db_->query(Node::replica, "STOP SLAVE SQL_THREAD");
  auto r = runCheck(conf(Node::replica, "expected_role = \"standby\"\n"));
  db_->query(Node::replica, "START SLAVE SQL_THREAD");
  EXPECT_OUTCOME(r, Outcome::fail);
  EXPECT_EQ(r.result.message.rfind("replication SQL thread stopped", 0), 0u) << r.result.message;
  EXPECT_OUTCOME(runCheck(conf(Node::replica, "expected_role = \"standby\"\n")), Outcome::pass);
}

TEST_F(MysqlCheckTest, ReadOnlyPrimaryFails) {
  db_->query(Node::primary, "SET GLOBAL read_only = ON");
  auto r = runCheck(conf(Node::primary, "expected_role = \"primary\"\n"));
  db_->query(Node::primary, "SET GLOBAL read_only = OFF");
  EXPECT_OUTCOME(r, Outcome::fail);
  EXPECT_EQ(r.result.message, "primary has read_only on");
}

TEST_F(MysqlCheckTest, FrozenServerFailsNearTheTimeout) {
  db_->freeze(Node::replica);
  auto r = runCheck(conf(Node::replica), milliseconds{1000});
  db_->thaw(Node::replica);
  EXPECT_OUTCOME(r, Outcome::error);
  // Connector/C counts whole seconds: the probe gives up after one.
  EXPECT_GE(r.elapsed, milliseconds{900});
  EXPECT_LT(r.elapsed, milliseconds{2500});
}

// The sessions of the agent's checks on `n` (user hale), as comma-separated connection ids.
std::string checkSessions(MariadbPair& db, Node n) {
  return db.query(n,
                  std::string("SELECT COALESCE(GROUP_CONCAT(ID ORDER BY ID), '') FROM information_schema.PROCESSLIST "
                              "WHERE USER = '") +
                      MariadbPair::kUser + "'");
}

// The one session of the agent's checks on the primary, once earlier tests' sessions have ended (5 s at
// most); "" when there is not exactly one.
std::string theOneCheckSession(MariadbPair& db) {
  std::string session;
  const bool one = hale::test::waitFor(
      [&] {
        session = checkSessions(db, Node::primary);
        return !session.empty() && session.find(',') == std::string::npos;
      },
      std::chrono::seconds{5});
  return one ? session : "";
}

// #16: a check holds one server session across probes; one the server ends while it is idle (KILL, a
// restart) is replaced by the next probe, which passes; a stopped server fails the probes until it is back.
TEST_F(MysqlCheckTest, OneCheckHoldsOneConnectionAcrossProbesAndRecoversAfterARestart) {
  auto check = test::makeCheck(conf(Node::primary, "expected_role = \"primary\"\n"));
  ASSERT_NE(check, nullptr);
  EXPECT_OUTCOME(runCheck(*check, milliseconds{2000}), Outcome::pass);
  const std::string session = theOneCheckSession(*db_);
  ASSERT_FALSE(session.empty()) << checkSessions(*db_, Node::primary);
  for (int i = 0; i < 30; ++i) EXPECT_OUTCOME(runCheck(*check, milliseconds{2000}), Outcome::pass);
  EXPECT_EQ(checkSessions(*db_, Node::primary), session);

  db_->query(Node::primary, "KILL " + session);
  ASSERT_TRUE(hale::test::waitFor([&] { return checkSessions(*db_, Node::primary).empty(); }, std::chrono::seconds{5}));
  EXPECT_OUTCOME(runCheck(*check, milliseconds{2000}), Outcome::pass);
  const std::string replaced = checkSessions(*db_, Node::primary);
  EXPECT_NE(replaced, session);

  db_->restart(Node::primary);
  EXPECT_OUTCOME(runCheck(*check, milliseconds{2000}), Outcome::pass);

  db_->stop(Node::primary);
  EXPECT_OUTCOME(runCheck(*check, milliseconds{1000}), Outcome::error);
  EXPECT_OUTCOME(runCheck(*check, milliseconds{1000}), Outcome::error);
  auto waiting = runCheck(*check, milliseconds{1000});
  EXPECT_OUTCOME(waiting, Outcome::error);
  EXPECT_NE(waiting.result.message.find("not connected; next attempt in"), std::string::npos) << waiting.result.message;
  db_->restart(Node::primary);
  ASSERT_TRUE(hale::test::waitFor([&] { return runCheck(*check, milliseconds{1000}).result.outcome == Outcome::pass; },
                                  std::chrono::seconds{10}));
  const std::string after = checkSessions(*db_, Node::primary);
  EXPECT_FALSE(after.empty());
  EXPECT_EQ(after.find(','), std::string::npos) << after;
}

// #16, a fault at another instant: the server dies while it holds a probe's statement on the kept session
// (frozen, the statement sent, then SIGKILL). That probe fails as soon as the connection breaks, not at its
// time-out (Connector/C's read time-out, whole seconds), and the check passes again on a new session once
// the server is back.
TEST_F(MysqlCheckTest, AServerKilledMidStatementFailsThatProbeAtOnceAndTheCheckRecovers) {
  auto check = test::makeCheck(conf(Node::primary, "expected_role = \"primary\"\n"));
  ASSERT_NE(check, nullptr);
  // The session's read time-out is set when it connects: the check's time-out, 4 s here.
  EXPECT_OUTCOME(runCheck(*check, milliseconds{4000}), Outcome::pass);
  const std::string session = theOneCheckSession(*db_);
  ASSERT_FALSE(session.empty()) << checkSessions(*db_, Node::primary);
  db_->freeze(Node::primary);  // the kernel still takes the statement; nothing answers it
  test::Run killed;
  // Joined on every path: should the harness throw, the probe still ends (at its time-out) before `killed`.
  std::jthread probe([&] { killed = runCheck(*check, milliseconds{4000}); });
  // The kill only once the statement waits at the server: earlier, the probe would meet a closed
  // connection before sending anything, another fault.
  EXPECT_TRUE(hale::test::waitFor([&] { return bytesQueuedAt(db_->port(Node::primary)) > 0; }, milliseconds{3000},
                                  milliseconds{5}))
      << "the probe's statement never reached the frozen server";
  const std::string state_when_killed = hale::test::processState(db_->pid(Node::primary));
  db_->kill(Node::primary);
  probe.join();
  // A pass here means a server answered: the state says whether the one frozen was stopped (T).
  EXPECT_OUTCOME(killed, Outcome::error) << " server state before the kill: \"" << state_when_killed
                                         << "\" (T: stopped; empty: gone)";
  EXPECT_LT(killed.elapsed, milliseconds{2000}) << killed.result.message;
  // The statement on the kept session broke; the probe did not reconnect first.
  EXPECT_NE(killed.result.message.find("during query"), std::string::npos) << killed.result.message;
  db_->restart(Node::primary);
  ASSERT_TRUE(hale::test::waitFor([&] { return runCheck(*check, milliseconds{2000}).result.outcome == Outcome::pass; },
                                  std::chrono::seconds{20}));
  const std::string after = checkSessions(*db_, Node::primary);
  EXPECT_FALSE(after.empty());
  EXPECT_EQ(after.find(','), std::string::npos) << after;
}

TEST_F(MysqlCheckTest, WrongPasswordIsAnError) {
  hale::test::TempDir dir("mysqlpw");
  auto r = runCheck("type = \"mysql\"\nhost = \"127.0.0.1\"\nport = " + std::to_string(db_->port(Node::primary)) +
                    "\nuser = \"hale\"\npassword_file = \"" + dir.writeFile("pw", "wrong", 0600) + "\"\n");
  EXPECT_OUTCOME(r, Outcome::error);
  EXPECT_NE(r.result.message.find("Access denied"), std::string::npos) << r.result.message;
}

TEST_F(MysqlCheckTest, StoppedServerIsAnError) {
  // Last: the replica does not come back (its data is thrown away with the fixture).
  db_->kill(Node::replica);
  auto r = runCheck(conf(Node::replica), milliseconds{1000});
  EXPECT_OUTCOME(r, Outcome::error);
  EXPECT_LT(r.elapsed, milliseconds{500});
}

}  // namespace
}  // namespace hale::agent
