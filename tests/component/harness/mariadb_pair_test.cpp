#include "mariadb_pair.h"

#include <gtest/gtest.h>

namespace hale::test {
namespace {

using Node = MariadbPair::Node;

TEST(MariadbPairFixture, PrimaryAndReadOnlyGtidReplica) {
  MariadbPair db;
  db.start();
  EXPECT_NE(db.port(Node::primary), 3306);
  EXPECT_EQ(db.query(Node::primary, "SELECT @@read_only"), "0");
  EXPECT_EQ(db.query(Node::replica, "SELECT @@read_only"), "1");
  EXPECT_EQ(db.queryColumn(Node::replica, "SHOW SLAVE STATUS", "Using_Gtid"), "Slave_Pos");
  EXPECT_EQ(db.query(Node::replica, "SELECT @@log_bin"), "1");  // promotable: it writes its own binlog
  EXPECT_EQ(db.query(Node::replica, "SELECT @@log_slave_updates"), "1");

  db.query(Node::primary, "CREATE TABLE hale_test.t (v INT)");
  db.query(Node::primary, "INSERT INTO hale_test.t VALUES (7)");
  const std::string gtid = db.query(Node::primary, "SELECT @@gtid_binlog_pos");
  EXPECT_EQ(db.query(Node::replica, "SELECT MASTER_GTID_WAIT('" + gtid + "', 10)"), "0");
  EXPECT_EQ(db.query(Node::replica, "SELECT v FROM hale_test.t"), "7");
  // The application user exists on both sides, and read_only binds it on the replica.
  EXPECT_EQ(db.query(Node::replica, "SELECT COUNT(*) FROM mysql.user WHERE user = 'hale'"), "1");
}

TEST(MariadbPairFixture, ReplicaIsPromotable) {
  MariadbPair db;
  db.start();
  db.query(Node::replica, "STOP SLAVE");
  db.query(Node::replica, "RESET SLAVE ALL");
  db.query(Node::replica, "SET GLOBAL read_only = OFF");
  EXPECT_EQ(db.queryColumn(Node::replica, "SHOW SLAVE STATUS", "Slave_IO_Running"), "");  // no replication left
  db.query(Node::replica, "CREATE TABLE hale_test.after_promotion (v INT)");
  db.query(Node::replica, "INSERT INTO hale_test.after_promotion VALUES (1)");
  EXPECT_EQ(db.query(Node::replica, "SELECT COUNT(*) FROM hale_test.after_promotion"), "1");

  db.kill(Node::primary);
  EXPECT_FALSE(db.running(Node::primary));
  EXPECT_THROW(db.query(Node::primary, "SELECT 1"), std::runtime_error);
}

}  // namespace
}  // namespace hale::test
