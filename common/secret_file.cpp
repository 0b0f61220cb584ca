#include "secret_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace hale {
namespace {

constexpr size_t kMaxSecretBytes = size_t{64} * 1024;

std::string octalMode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

}  // namespace

Result<std::string> readSecretFile(const std::string& path) {
  std::string resolved = path;
  if (!path.empty() && path[0] != '/') {
    if (const char* dir = std::getenv("CREDENTIALS_DIRECTORY"); dir != nullptr && *dir != '\0') {
      const std::string candidate = std::string(dir) + "/" + path;
      if (::access(candidate.c_str(), F_OK) == 0) resolved = candidate;
    }
  }
  const int fd = ::open(resolved.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return makeError("unreadable", "cannot read secret file " + resolved + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return makeError("unreadable", "secret file " + resolved + " is not a regular file");
  }
  // Checked on the open file, so a swap between check and read cannot slip through.
  if ((st.st_mode & S_IROTH) != 0) {
    ::close(fd);
    return makeError("readable_by_others", "secret file " + resolved + " is readable by every user (mode " +
                                               octalMode(st.st_mode) + "); run: chmod o-rwx " + resolved);
  }
  std::string value;
  value.reserve(256);
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return makeError("unreadable", "cannot read secret file " + resolved + ": " + std::strerror(err));
    }
    if (n == 0) break;
    if (value.size() + static_cast<size_t>(n) > kMaxSecretBytes) {
      ::close(fd);
      return makeError("too_large", "secret file " + resolved + " is over 64 KiB");
    }
    value.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
  if (value.empty()) return makeError("empty", "secret file " + resolved + " is empty");
  return value;
}

}  // namespace hale
