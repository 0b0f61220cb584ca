#pragma once

// Small POSIX helpers for Unix stream sockets shared by the control server and client.

#include <chrono>
#include <string>

#include "result.h"

namespace hale {

// Owns a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  int release();
  void reset(int fd = -1);
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Connects to `path` (non-blocking socket returned), waiting at most `timeout`.
Result<UniqueFd> connectUnix(const std::string& path, std::chrono::milliseconds timeout);
// Binds and listens on `path` with file mode `mode` and group `gid` ((gid_t)-1: unchanged), replacing a
// stale socket file, refusing a live one. The file is created 0600 (the socket's own mode, set before
// bind) and only then given its group and mode: never a moment wider than asked. Refuses a directory that
// users other than root and this one may change (the path is changed by name after bind).
Result<UniqueFd> listenUnix(const std::string& path, unsigned mode, unsigned gid = static_cast<unsigned>(-1));
bool setNonBlocking(int fd);

}  // namespace hale
