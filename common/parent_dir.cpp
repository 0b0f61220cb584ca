#include "parent_dir.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace hale {

Result<void> ensureParentDirectory(const std::string& file, const std::string& setting) {
  const size_t slash = file.rfind('/');
  if (slash == std::string::npos || slash == 0) return {};  // the working directory, or /
  const std::string dir = file.substr(0, slash);
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return {};
    return makeError("io", dir + " (the directory of " + setting + " " + file + ") is not a directory");
  }
  if (errno != ENOENT) return makeError("io", "cannot use " + dir + ": " + std::strerror(errno));
  if (::mkdir(dir.c_str(), 0750) == 0) {
    ::chmod(dir.c_str(), 0750);  // whatever the umask
    return {};
  }
  if (errno == EEXIST) return {};
  return makeError("io", "cannot create " + dir + " for " + setting + " " + file + " (" + std::strerror(errno) +
                             "): create it, owned by the user this daemon runs as and mode 0750, or set " + setting +
                             " to a path in an existing directory");
}

}  // namespace hale
