#include "ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string>

namespace hale::test {
namespace {

// Binds `type` on 127.0.0.1:port (0 = any); returns the bound port or 0.
uint16_t tryBind(int type, uint16_t port) {
  const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  uint16_t bound = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) bound = ntohs(addr.sin_port);
  }
  ::close(fd);
  return bound;
}

}  // namespace

// The kernel's ephemeral range: a port from it, free when picked, can be taken by any process's next
// outgoing connection before the server binds it ("Address already in use", seen with etcd's peers). Ports
// are picked below it instead, at random so parallel test processes rarely pick alike.
uint16_t ephemeralLow() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  unsigned low = 0;
  in >> low;
  return in && low > 0 && low < 65536 ? static_cast<uint16_t>(low) : 0;
}

uint16_t freeLoopbackPort(bool also_udp) {
  static const uint16_t low = ephemeralLow();
  static std::mt19937 rng{std::random_device{}()};
  static std::mutex mu;
  // Never the same port twice in one test process: a port handed to a server in a network namespace is
  // bound there, not on the host's loopback, so the bind below would find it free again (seen: an etcd
  // member's port "already in use" in its namespace, once in a CI run).
  static std::set<uint16_t> handed_out;
  constexpr uint16_t kFloor = 10000;
  for (int attempt = 0; attempt < 200; ++attempt) {
    uint16_t wanted = 0;
    if (low > kFloor + 1000) {
      std::lock_guard lock(mu);
      wanted = static_cast<uint16_t>(kFloor + rng() % (low - kFloor));
    }
    const uint16_t port = tryBind(SOCK_STREAM, wanted);
    if (port == 0) continue;
    if (also_udp && tryBind(SOCK_DGRAM, port) != port) continue;
    std::lock_guard lock(mu);
    if (handed_out.insert(port).second) return port;
  }
  throw std::runtime_error("no free loopback port");
}

}  // namespace hale::test

namespace hale::test {

LoopbackListener::LoopbackListener() { open(); }

LoopbackListener::~LoopbackListener() { close(); }

void LoopbackListener::open() {
  close();
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port_);
  socklen_t len = sizeof addr;
  if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 64) != 0 ||
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("LoopbackListener: cannot listen on 127.0.0.1:" + std::to_string(port_));
  }
  port_ = ntohs(addr.sin_port);
}

void LoopbackListener::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace hale::test
