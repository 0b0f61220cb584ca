#include "postgres_pair.h"

#include <gtest/gtest.h>

namespace hale::test {
namespace {

using Node = PostgresPair::Node;

TEST(PostgresPairFixture, PrimaryAndStreamingStandby) {
  PostgresPair pg;
  pg.start();
  EXPECT_NE(pg.port(Node::primary), pg.port(Node::standby));
  EXPECT_NE(pg.port(Node::primary), 5432);
  EXPECT_EQ(pg.query(Node::primary, "SELECT pg_is_in_recovery()"), "f");
  EXPECT_EQ(pg.query(Node::standby, "SELECT pg_is_in_recovery()"), "t");
  EXPECT_EQ(pg.query(Node::standby, "SELECT status FROM pg_stat_wal_receiver"), "streaming");

  // A write on the primary reaches the standby.
  pg.query(Node::primary, "CREATE TABLE t (v int); INSERT INTO t VALUES (42)");
  EXPECT_TRUE(waitFor(
      [&] {
        try {
          return pg.query(Node::standby, "SELECT v FROM t") == "42";
        } catch (const std::runtime_error&) {
          return false;  // the table's creation has not been replayed yet
        }
      },
      std::chrono::seconds{10}));
  // The standby refuses writes.
  EXPECT_THROW(pg.query(Node::standby, "INSERT INTO t VALUES (1)"), std::runtime_error);
}

TEST(PostgresPairFixture, ReplayCanBePausedAndNodesFrozenAndKilled) {
  PostgresPair pg;
  pg.start();
  pg.query(Node::standby, "SELECT pg_wal_replay_pause()");
  pg.query(Node::primary, "CREATE TABLE later (v int)");
  pg.query(Node::primary, "SELECT pg_switch_wal()");
  std::this_thread::sleep_for(std::chrono::milliseconds{300});
  EXPECT_EQ(pg.query(Node::standby, "SELECT count(*) FROM pg_class WHERE relname = 'later'"), "0");
  pg.query(Node::standby, "SELECT pg_wal_replay_resume()");
  EXPECT_TRUE(
      waitFor([&] { return pg.query(Node::standby, "SELECT count(*) FROM pg_class WHERE relname = 'later'") == "1"; },
              std::chrono::seconds{10}));

  pg.freeze(Node::primary);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(pg.query(Node::primary, "SELECT 1"), std::runtime_error);  // connect_timeout=2 expires
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds{1500});
  pg.thaw(Node::primary);
  EXPECT_EQ(pg.query(Node::primary, "SELECT 1"), "1");

  pg.kill(Node::primary);
  EXPECT_FALSE(pg.running(Node::primary));
  EXPECT_THROW(pg.query(Node::primary, "SELECT 1"), std::runtime_error);
}

}  // namespace
}  // namespace hale::test
