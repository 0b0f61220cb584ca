#pragma once

// etcd (v3 API, JSON gateway) on free loopback client and peer ports: one member, or a cluster.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "process.h"
#include "temp_dir.h"

namespace hale::test {

class EtcdServer {
 public:
  EtcdServer();
  ~EtcdServer();

  void start();  // returns once /health says true; throws with etcd's output on failure

  uint16_t clientPort() const { return client_port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(client_port_); }

  void kill();
  void freeze();
  void thaw();

 private:
  uint16_t client_port_ = 0;
  uint16_t peer_port_ = 0;
  TempDir dir_;
  std::unique_ptr<ChildProcess> process_;
};

// A multi-member etcd cluster on loopback (static bootstrap), for quorum loss and member death.
class EtcdCluster {
 public:
  // `election_timeout` 0: etcd's default (1 s, heartbeats every 100 ms); otherwise heartbeats every tenth
  // of it, as etcd's tuning guide advises for a network with that little round-trip time.
  explicit EtcdCluster(int members = 3, std::chrono::milliseconds election_timeout = std::chrono::milliseconds{0});

  // Where a member runs: on `address` (default 127.0.0.1), its command line prefixed with `wrapper`
  // (NetworkFabric::wrap's, to run it in a network namespace). Before start().
  void place(int member, std::string address, std::vector<std::string> wrapper);
  ~EtcdCluster();

  void start();  // returns once every member's /health says true; throws with their output otherwise

  // Every member's client URL, for an aggregator's etcd.endpoints.
  std::vector<std::string> endpoints() const;
  std::string endpoint(int member) const;
  void kill(int member);     // SIGKILL
  void restart(int member);  // a killed member back, on its own data: it rejoins the cluster
  void freeze(int member);
  void thaw(int member);
  int size() const { return static_cast<int>(members_.size()); }

 private:
  struct Member {
    std::string address = "127.0.0.1";
    std::vector<std::string> wrapper;
    uint16_t client_port = 0;
    uint16_t peer_port = 0;
    std::vector<std::string> argv;
    std::unique_ptr<ChildProcess> process;
  };
  void spawn(size_t member);
  void waitHealthy(size_t member);

  TempDir dir_;
  std::chrono::milliseconds election_timeout_;
  std::string initial_cluster_;
  std::vector<Member> members_;
};

}  // namespace hale::test
