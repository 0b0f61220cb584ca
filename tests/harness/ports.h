#pragma once

// Free loopback ports for test servers. The kernel picks an unused ephemeral port; the harness retries a
// server start on a fresh port if another process takes it in between.

#include <cstdint>

namespace hale::test {

// A port free on 127.0.0.1 for TCP and, when `also_udp`, for UDP too (DNS needs both).
uint16_t freeLoopbackPort(bool also_udp = false);

}  // namespace hale::test

namespace hale::test {

// A TCP listener on 127.0.0.1 that never accepts: connections complete in the kernel's backlog and then
// hear nothing, which is both "the port is open" (tcp checks) and "a server that does not answer" (HTTP
// clients time out). close() and open() again reuse the same port, to take a peer down and up.
class LoopbackListener {
 public:
  LoopbackListener();  // listens at once, on a free port
  ~LoopbackListener();
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;

  void open();
  void close();
  uint16_t port() const { return port_; }

 private:
  uint16_t port_ = 0;
  int fd_ = -1;
};

}  // namespace hale::test
