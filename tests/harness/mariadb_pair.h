#pragma once

// A MariaDB primary and a GTID replica (read_only, log-bin + log-slave-updates, so it can be promoted)
// on free loopback ports. start() returns once a write on the primary is seen on the replica.
// Accounts: root over each server's Unix socket (admin), and kUser/kPassword over TCP for the code
// under test (all privileges), replicated to both.

#include <memory>
#include <string>

#include "process.h"
#include "temp_dir.h"

namespace hale::test {

class MariadbPair {
 public:
  enum class Node { primary, replica };
  static constexpr const char* kUser = "hale";
  static constexpr const char* kPassword = "hale-test-pw";

  MariadbPair();
  ~MariadbPair();

  void start();  // throws std::runtime_error with the server log's tail on failure

  uint16_t port(Node n) const;
  const std::string& socketPath(Node n) const;
  // Runs `sql` as root over the Unix socket; returns the first column of the first row, "" if none,
  // and "NULL" for a NULL value. Throws on error.
  std::string query(Node n, const std::string& sql) const;
  // The named column of the first row of `SHOW ...`-style statements ("" when no row).
  std::string queryColumn(Node n, const std::string& sql, const std::string& column) const;
  // Runs `sql` as `user` over TCP, with that account's privileges (root's bypass read_only; an
  // application's do not). Like query() otherwise.
  std::string queryAs(Node n, const std::string& user, const std::string& password, const std::string& sql) const;

  void stop(Node n);
  void restart(Node n);
  void kill(Node n);
  // Restarts `n` (after a kill, say) read-only and makes it a GTID replica of the other node, as an
  // operator does with a failed old primary before failing back. Returns once it has caught up.
  void rejoinAsReplica(Node n);
  void freeze(Node n);
  void thaw(Node n);
  bool running(Node n);
  // The server's main process id (-1 when not running): what a fence script kills.
  pid_t pid(Node n) const;

 private:
  struct Server;
  Server& server(Node n) const;
  void install(Server& s);
  void launch(Server& s);
  void waitReady(Server& s);
  std::string run(Node n, const std::string& user, const std::string& password, bool over_socket,
                  const std::string& sql, const std::string& column) const;

  TempDir dir_;
  std::unique_ptr<Server> primary_;
  std::unique_ptr<Server> replica_;
};

}  // namespace hale::test
