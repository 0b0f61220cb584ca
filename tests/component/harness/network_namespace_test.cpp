#include "network_namespace.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "process.h"

namespace hale::test {
namespace {

using std::chrono::seconds;

// A listening TCP socket on `address` (the kernel completes connections without accept()).
int listenOn(const std::string& address, uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  ::inet_pton(AF_INET, address.c_str(), &addr.sin_addr);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 8) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ADD_FAILURE() << "cannot listen on " << address;
    return -1;
  }
  port = ntohs(addr.sin_port);
  return fd;
}

TEST(NetworkNamespaceFixture, ReachesTheHostSideUntilTheLinkGoesDown) {
  NetworkNamespace ns;
  uint16_t port = 0;
  const int fd = listenOn(ns.hostAddress(), port);
  ASSERT_GE(fd, 0);
  const std::string connect = "exec 3<>/dev/tcp/" + ns.hostAddress() + "/" + std::to_string(port);
  auto reach = [&] {
    return runCommand(SpawnOptions{.argv = ns.wrap({"/usr/bin/timeout", "1", "/bin/bash", "-c", connect})}, seconds{5})
               .exit_code == 0;
  };
  EXPECT_TRUE(reach());
  ns.linkDown();
  EXPECT_FALSE(reach());
  ns.linkUp();
  EXPECT_TRUE(reach());
  // Inside, 127.0.0.1 is the namespace's own loopback, not ours.
  EXPECT_NE(runCommand(SpawnOptions{.argv = ns.wrap({"/usr/bin/timeout", "1", "/bin/bash", "-c",
                                                     "exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(port)})},
                       seconds{5})
                .exit_code,
            0);
  ::close(fd);
}

}  // namespace
}  // namespace hale::test
