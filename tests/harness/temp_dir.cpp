#include "temp_dir.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace hale::test {

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void chownTo(const std::string& path, const std::string& user) {
  const passwd* pw = ::getpwnam(user.c_str());
  if (pw == nullptr) throw std::runtime_error("no such user: " + user);
  if (::chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) throw std::runtime_error("chown failed: " + path);
}

TempDir::TempDir(const std::string& tag, const std::string& owner) : owner_(owner) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/hale-" + tag + "-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
  path_ = tmpl;
  if (!owner_.empty()) chownTo(path_, owner_);
}

TempDir::~TempDir() {
  if (keep_) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::makeSubdir(const std::string& relative) const {
  std::string full = path_ + "/" + relative;
  std::filesystem::create_directories(full);
  if (!owner_.empty()) {
    // Every component below the root, so the server can write at each level.
    for (std::filesystem::path p = full; p.string().size() > path_.size(); p = p.parent_path()) chownTo(p, owner_);
  }
  return full;
}

std::string TempDir::writeFile(const std::string& relative, const std::string& content, unsigned mode) const {
  std::string full = path_ + "/" + relative;
  {
    std::ofstream out(full, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) throw std::runtime_error("cannot write " + full);
  }
  ::chmod(full.c_str(), mode);
  if (!owner_.empty()) chownTo(full, owner_);
  return full;
}

}  // namespace hale::test
