#include "canned_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace hale::test {

CannedHttpServer::CannedHttpServer() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 16) != 0 || ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("CannedHttpServer: cannot listen");
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

CannedHttpServer::~CannedHttpServer() {
  stopping_ = true;
  thread_.join();
  ::close(listen_fd_);
}

void CannedHttpServer::respond(int status, std::string body, std::chrono::milliseconds delay, std::string headers) {
  std::lock_guard lock(mu_);
  standing_ = {status, std::move(body), delay, std::move(headers)};
}

void CannedHttpServer::enqueue(int status, std::string body, std::chrono::milliseconds delay, std::string headers) {
  std::lock_guard lock(mu_);
  queue_.push_back({status, std::move(body), delay, std::move(headers)});
}

size_t CannedHttpServer::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

std::string CannedHttpServer::lastRequest() const {
  std::lock_guard lock(mu_);
  return full_requests_.empty() ? std::string() : full_requests_.back();
}

std::vector<std::string> CannedHttpServer::fullRequests() const {
  std::lock_guard lock(mu_);
  return full_requests_;
}

std::vector<std::string> CannedHttpServer::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

void CannedHttpServer::serve() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    connections_.fetch_add(1);
    // In keep-alive mode the connection serves requests until the client closes it or idles for 2 s.
    for (bool first = true; serveOneRequest(fd, first) && keep_alive_.load(); first = false) {
      bool next = false;
      for (int waited = 0; waited < 2000 && !stopping_ && !next; waited += 50) {
        pollfd c{fd, POLLIN, 0};
        next = ::poll(&c, 1, 50) > 0;
      }
      if (!next) break;
    }
    ::close(fd);
  }
}

bool CannedHttpServer::serveOneRequest(int fd, bool first) {
  std::string in;
  char buf[4096];
  while (in.find("\r\n\r\n") == std::string::npos) {
    pollfd c{fd, POLLIN, 0};
    if (::poll(&c, 1, 2000) <= 0) break;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
  }
  if (in.empty() && !first) return false;  // the client closed a kept connection
  // The body, when Content-Length announces one.
  const size_t header_end = in.find("\r\n\r\n");
  const size_t cl = in.find("Content-Length: ");
  if (header_end != std::string::npos && cl != std::string::npos && cl < header_end) {
    const size_t want = header_end + 4 + std::stoul(in.substr(cl + 16));
    while (in.size() < want) {
      pollfd c{fd, POLLIN, 0};
      if (::poll(&c, 1, 2000) <= 0) break;
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
    }
  }
  Answer a;
  {
    std::lock_guard lock(mu_);
    requests_.push_back(in.substr(0, in.find("\r\n")));
    full_requests_.push_back(in);
    if (queue_.empty()) {
      a = standing_;
    } else {
      a = std::move(queue_.front());
      queue_.pop_front();
    }
  }
  const auto until = std::chrono::steady_clock::now() + a.delay;
  while (!stopping_ && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  const std::string out = "HTTP/1.1 " + std::to_string(a.status) +
                          " X\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(a.body.size()) +
                          (keep_alive_.load() ? "\r\n" : "\r\nConnection: close\r\n") + a.headers + "\r\n" + a.body;
  return ::send(fd, out.data(), out.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(out.size());
}

}  // namespace hale::test
