#include "sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

namespace hale::systemd {

bool notify(std::string_view state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || (path[0] != '/' && path[0] != '@')) return false;  // vsock and others: not here
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const size_t len = std::strlen(path);
  // A path needs room for its NUL; an abstract name has none, and is not empty.
  if (len < 2 || len > sizeof addr.sun_path || (path[0] == '/' && len == sizeof addr.sun_path)) return false;
  std::memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = '\0';  // an abstract socket: no terminating NUL in the length
  const socklen_t addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len + (path[0] == '/' ? 1 : 0));
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ssize_t sent = -1;
  do {
    sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr), addr_len);
  } while (sent < 0 && errno == EINTR);
  ::close(fd);
  return sent == static_cast<ssize_t>(state.size());
}

std::optional<std::chrono::microseconds> watchdogInterval() {
  const char* usec = std::getenv("WATCHDOG_USEC");
  if (usec == nullptr) return std::nullopt;
  // Set but not a number of this process (empty included): meant for another process.
  if (const char* pid = std::getenv("WATCHDOG_PID"); pid != nullptr) {
    char* end = nullptr;
    errno = 0;
    const long long p = std::strtoll(pid, &end, 10);
    if (end == pid || errno != 0 || *end != '\0' || p != static_cast<long long>(::getpid())) return std::nullopt;
  }
  // A positive whole number that fits: no sign (strtoull would wrap a '-' after blanks), not systemd's
  // "infinity" (UINT64_MAX), nothing a signed microsecond count cannot hold.
  const char* digits = usec;
  while (*digits == ' ' || *digits == '\t') ++digits;
  if (*digits < '0' || *digits > '9') return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(digits, &end, 10);
  if (errno != 0 || *end != '\0' || v == 0 ||
      v > static_cast<unsigned long long>(std::numeric_limits<std::chrono::microseconds::rep>::max()))
    return std::nullopt;
  return std::chrono::microseconds{static_cast<std::chrono::microseconds::rep>(v)};
}

}  // namespace hale::systemd
