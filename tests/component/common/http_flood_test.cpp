// One address cannot take the status endpoints down for everyone: 1 100 idle connections from 127.0.0.1
// to a real HttpServer, then a request from 127.0.0.2 (another address on loopback) is still answered.
// Labelled `security`.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "http_server.h"
#include "unix_socket.h"

namespace hale {
namespace {

using std::chrono::milliseconds;

// A TCP connection to 127.0.0.1:port from `source` (non-blocking connect completed), or an empty fd.
UniqueFd connectFrom(const char* source, uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fd;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &from.sin_addr);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) return UniqueFd();
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) return UniqueFd();
  return fd;
}

// GET /healthz from `source`; the status code (0 when nothing came back within `timeout`).
int getFrom(const char* source, uint16_t port, milliseconds timeout) {
  UniqueFd fd = connectFrom(source, port);
  if (!fd) return 0;
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) return 0;
  char buf[256];
  const ssize_t n = ::recv(fd.get(), buf, sizeof buf - 1, 0);
  if (n < 12) return 0;
  buf[n] = '\0';
  return std::atoi(buf + 9);  // "HTTP/1.1 200 ..."
}

TEST(HttpFlood, IdleConnectionsFromOneAddressDoNotLockOthersOut) {
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 8192);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0);
  ASSERT_GE(limit.rlim_cur, 2400u) << "the test needs room for both ends of 1 100 connections";

  HttpServer server([](std::string_view, std::string_view, std::string& body, const char*& content_type) -> unsigned {
    body = "{\"status\":\"healthy\"}\n";
    content_type = kContentJson;
    return 200;
  });
  ASSERT_TRUE(server.start("127.0.0.1", 0).ok());
  ASSERT_EQ(getFrom("127.0.0.2", server.port(), milliseconds{2000}), 200);

  std::vector<UniqueFd> idle;
  for (int i = 0; i < 1100; ++i) {
    UniqueFd fd = connectFrom("127.0.0.1", server.port());
    if (fd) idle.push_back(std::move(fd));
  }
  EXPECT_EQ(idle.size(), 1100u);  // the kernel accepts them all; the server keeps at most its per-address share
  std::this_thread::sleep_for(milliseconds{200});

  const auto start = std::chrono::steady_clock::now();
  const int status = getFrom("127.0.0.2", server.port(), milliseconds{2000});
  const auto took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
  EXPECT_EQ(status, 200);
  std::cout << "GET /healthz from another address with 1100 idle connections open: " << took.count() << " us\n";
  // The same address is held to its share, not served by the connections it hogs.
  EXPECT_EQ(getFrom("127.0.0.1", server.port(), milliseconds{500}), 0);
}

}  // namespace
}  // namespace hale
