// tcp: can a TCP connection to host:port be opened within the timeout?
//   host = "127.0.0.1"   port = 6379
// Refused or unanswered connections are transient errors (they count toward `fall`).

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "check_util.h"
#include "factories.h"

namespace hale::agent {
namespace {

class TcpCheck final : public Check {
 public:
  TcpCheck(std::string host, uint16_t port) : host_(std::move(host)), port_(port) {}

  CheckResult run(const CheckContext& ctx) noexcept override {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int rc = ::getaddrinfo(host_.c_str(), std::to_string(port_).c_str(), &hints, &found);
    if (rc != 0) return {Outcome::error, "cannot resolve " + host_ + ": " + ::gai_strerror(rc)};
    std::string last_error = "no address";
    for (addrinfo* a = found; a != nullptr && !ctx.expired(); a = a->ai_next) {
      const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) continue;
      int err = 0;
      if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
        err = errno;
        if (err == EINPROGRESS) {
          err = ETIMEDOUT;
          if (pollUntil(fd, POLLOUT, ctx) != 0) {
            socklen_t len = sizeof err;
            if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
          }
        }
      }
      ::close(fd);
      if (err == 0) {
        ::freeaddrinfo(found);
        return {Outcome::pass, ""};
      }
      last_error = std::strerror(err);
    }
    ::freeaddrinfo(found);
    return {Outcome::error, "connect to " + host_ + ":" + std::to_string(port_) + ": " + last_error};
  }

 private:
  std::string host_;
  uint16_t port_;
};

}  // namespace

std::unique_ptr<Check> makeTcpCheck(ConfigTable& t, const CheckSettings&) {
  std::string host;
  int64_t port = 0;
  const bool has_host = t.get("host", host, Presence::required);  // both read, so both errors are reported
  const bool has_port = t.get("port", port, Presence::required, 1, 65535);
  if (!has_host || !has_port) return nullptr;
  return std::make_unique<TcpCheck>(host, static_cast<uint16_t>(port));
}

}  // namespace hale::agent
