#pragma once

// A PostgreSQL primary and a streaming standby on free loopback ports, for tests. start() returns only
// once the standby is verified streaming from the primary. Everything is stopped and deleted on
// destruction, also when the test fails; the servers die with the test process in any case.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "process.h"
#include "temp_dir.h"

namespace hale::test {

class PostgresPair {
 public:
  enum class Node { primary, standby };

  PostgresPair();
  ~PostgresPair();

  // Throws std::runtime_error with the server log's tail on failure.
  void start();

  uint16_t port(Node n) const;
  // A libpq connection string (TCP, user postgres, trust auth) for `n`.
  std::string conninfo(Node n, const std::string& dbname = "postgres") const;
  // Runs `sql` and returns the first column of the first row ("" when no row). Throws on error, and
  // after 5 s without an answer.
  std::string query(Node n, const std::string& sql) const;

  // Fast shutdown; start() is not repeatable, but a stopped node can be started again with restart().
  void stop(Node n);
  void restart(Node n);
  // Makes `n` listen on `address` too and trust clients from `cidr` (a network namespace's link), then
  // restarts it.
  void acceptClientsOn(Node n, const std::string& address, const std::string& cidr);
  // Throws `n`'s data away and makes it a streaming standby of the other node (pg_basebackup), as an
  // operator does with a failed old primary before failing back. Returns once it streams.
  void rebuildAsStandby(Node n);
  // SIGKILL the node's postmaster and all its backends, as a crash or power loss would.
  void kill(Node n);
  // SIGSTOP / SIGCONT the postmaster's process group, as a hung postmaster: new connections are accepted
  // by the kernel (backlog) and never answered, while sessions already open keep working (each backend
  // runs in a process group of its own) until the postmaster dies.
  void freeze(Node n);
  void thaw(Node n);
  // SIGSTOP / SIGCONT every process of the server, the postmaster's group and each backend: a stalled
  // host, where open sessions hang too. freezeAll() returns once each has stopped (throws after 5 s).
  void freezeAll(Node n);
  void thawAll(Node n);
  bool running(Node n);
  // Returns once the standby has replayed everything the primary has written so far (throws after 10 s).
  void waitForReplay();
  // Cuts the standby's WAL receiver off the primary (its primary_conninfo pointed at a port where nothing
  // listens, reloaded), as a cut link would; returns once it no longer streams (throws after 10 s).
  void cutOffReceiver();
  // Returns once the standby's WAL receiver no longer streams (throws after 10 s): after kill(primary),
  // the receiver notices only when the scheduler lets it, so a test of "a standby that no longer
  // receives" waits for it.
  void waitUntilNotStreaming();
  // The server's main process id (-1 when not running): what a fence script kills.
  pid_t pid(Node n) const;

  const std::string& dir() const { return dir_.path(); }

 private:
  struct Server;
  Server& server(Node n) const;
  // Signals the postmaster's group, then each child of the postmaster; returns the children's pids.
  std::vector<pid_t> signalEveryProcess(Node n, int sig);
  void launch(Server& s);
  void waitReady(Server& s);
  void cloneFrom(Server& source, Server& target);

  std::string bin_dir_;
  TempDir dir_;
  std::unique_ptr<Server> primary_;
  std::unique_ptr<Server> standby_;
};

}  // namespace hale::test
