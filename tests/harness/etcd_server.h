#pragma once

// A single-member etcd (v3 API, JSON gateway) on free loopback client and peer ports.

#include <memory>
#include <string>

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

}  // namespace hale::test
