#include "secret_file.h"

#include <cstdlib>
#include <fstream>
#include <iterator>

namespace hale {

Result<std::string> readSecretFile(const std::string& path) {
  std::string resolved = path;
  if (!path.empty() && path[0] != '/') {
    if (const char* dir = std::getenv("CREDENTIALS_DIRECTORY"); dir != nullptr && *dir != '\0') {
      const std::string candidate = std::string(dir) + "/" + path;
      if (std::ifstream(candidate).good()) resolved = candidate;
    }
  }
  std::ifstream in(resolved, std::ios::binary);
  if (!in) return makeError("unreadable", "cannot read secret file " + resolved);
  constexpr size_t kMax = size_t{64} * 1024;
  std::string value;
  value.reserve(256);
  for (std::istreambuf_iterator<char> it(in), end; it != end; ++it) {
    if (value.size() == kMax) return makeError("too_large", "secret file " + resolved + " is over 64 KiB");
    value.push_back(*it);
  }
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
  if (value.empty()) return makeError("empty", "secret file " + resolved + " is empty");
  return value;
}

}  // namespace hale
