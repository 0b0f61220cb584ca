#include "secret_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

namespace hale {
namespace {

constexpr size_t kMaxSecretBytes = size_t{64} * 1024;
constexpr size_t kMinRedactedBytes = 6;  // shorter values would redact ordinary words

std::mutex& secretsMutex() {
  static std::mutex mu;
  return mu;
}
std::vector<std::string>& secrets() {
  static std::vector<std::string> all;
  return all;
}

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
  rememberSecret(value);
  // A file of several lines (a TSIG key file, a header file) holds secrets line by line too.
  for (size_t start = 0, nl; start < value.size(); start = nl + 1) {
    nl = value.find('\n', start);
    if (nl == std::string::npos) nl = value.size();
    std::string_view line(value.data() + start, nl - start);
    if (const size_t colon = line.find(": "); colon != std::string_view::npos) line.remove_prefix(colon + 2);
    rememberSecret(line);
    if (const size_t space = line.rfind(' '); space != std::string_view::npos) rememberSecret(line.substr(space + 1));
  }
  return value;
}

void rememberSecret(std::string_view secret) {
  while (!secret.empty() && (secret.back() == '\r' || secret.back() == ' ')) secret.remove_suffix(1);
  if (secret.size() < kMinRedactedBytes) return;
  std::lock_guard lock(secretsMutex());
  auto& all = secrets();
  if (std::find(all.begin(), all.end(), secret) == all.end()) all.emplace_back(secret);
}

std::string redactSecrets(std::string_view text) {
  std::string out(text);
  std::lock_guard lock(secretsMutex());
  for (const std::string& s : secrets()) {
    for (size_t at = out.find(s); at != std::string::npos; at = out.find(s, at + 10))
      out.replace(at, s.size(), "[redacted]");
  }
  return out;
}

}  // namespace hale
