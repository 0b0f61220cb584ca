#include "unix_socket.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace hale {
namespace {

Result<sockaddr_un> makeAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return makeError("bad_path",
                     "socket path must be 1.." + std::to_string(sizeof(addr.sun_path) - 1) + " bytes: " + path);
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

std::string errnoText(const char* what, int err) { return std::string(what) + ": " + std::strerror(err); }

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) reset(o.release());
  return *this;
}

int UniqueFd::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

bool setNonBlocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

Result<UniqueFd> connectUnix(const std::string& path, std::chrono::milliseconds timeout) {
  auto addr = makeAddress(path);
  if (!addr) return addr.error();
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return makeError("unreachable", errnoText("socket", errno));
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr.value()), sizeof(sockaddr_un)) == 0) return fd;
  if (errno != EINPROGRESS && errno != EAGAIN) return makeError("unreachable", errnoText(path.c_str(), errno));
  // A Unix socket connect only blocks when the listen backlog is full; wait for it to drain.
  pollfd p{fd.get(), POLLOUT, 0};
  const int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (n == 0) return makeError("timeout", "connect to " + path + " timed out");
  int err = 0;
  socklen_t len = sizeof err;
  if (n < 0 || ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    return makeError("unreachable", errnoText(path.c_str(), err != 0 ? err : errno));
  }
  return fd;
}

Result<UniqueFd> listenUnix(const std::string& path, unsigned mode, unsigned gid) {
  auto addr = makeAddress(path);
  if (!addr) return addr.error();
  // The path is changed by name after bind (group, mode): nobody else may swap it meanwhile.
  const std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/') + 1);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return makeError("io", errnoText(("socket directory " + dir).c_str(), errno));
  if ((st.st_uid != 0 && st.st_uid != ::geteuid()) || ((st.st_mode & 022) != 0 && (st.st_mode & S_ISVTX) == 0)) {
    char mode_text[8];
    std::snprintf(mode_text, sizeof mode_text, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return makeError("unsafe", "socket directory " + dir + " may be changed by other users (owner uid " +
                                   std::to_string(st.st_uid) + ", mode " + mode_text +
                                   "): use one only root or this daemon's user can write, such as /run/hale");
  }
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return makeError("in_use", path + " exists and is not a socket");
    if (connectUnix(path, std::chrono::milliseconds{200})) {
      return makeError("in_use", path + " is in use by a running process");
    }
    ::unlink(path.c_str());  // stale: its owner is gone
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return makeError("io", errnoText("socket", errno));
  // Linux creates the socket file with the socket's own mode (less the umask): 0600 from the first moment,
  // without touching the process-wide umask that other threads and their children share.
  if (::fchmod(fd.get(), 0600) != 0) return makeError("io", errnoText("fchmod socket", errno));
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr.value()), sizeof(sockaddr_un)) != 0) {
    return makeError("io", errnoText(("bind " + path).c_str(), errno));
  }
  if ((gid != static_cast<unsigned>(-1) && ::chown(path.c_str(), static_cast<uid_t>(-1), gid) != 0) ||
      ::chmod(path.c_str(), mode) != 0 || ::listen(fd.get(), 64) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    return makeError("io", errnoText(("listen " + path).c_str(), err));
  }
  return fd;
}

}  // namespace hale
