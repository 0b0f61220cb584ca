#pragma once

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction. Servers that
// refuse to run as root (PostgreSQL) or drop to their own user (MariaDB, BIND) get one owned by that user.

#include <string>

namespace hale::test {

class TempDir {
 public:
  // `tag` becomes part of the name to make leftovers identifiable; `owner` is a user name or empty.
  explicit TempDir(const std::string& tag, const std::string& owner = "");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Leaves the directory in place on destruction (a drill's journal and logs, for the operator).
  void keep() { keep_ = true; }
  // Creates `relative` (and parents) inside the directory, owned like the directory; returns its path.
  std::string makeSubdir(const std::string& relative) const;
  // Writes `content` to `relative`, owned like the directory; returns its path.
  std::string writeFile(const std::string& relative, const std::string& content, unsigned mode = 0644) const;

 private:
  std::string path_;
  std::string owner_;
  bool keep_ = false;
};

// The whole content of the file at `path`; empty when it cannot be read.
std::string readFile(const std::string& path);

// Changes the owner of `path` to `user` (and that user's group). Aborts the test binary on failure:
// a harness that cannot set up its servers has nothing useful to say.
void chownTo(const std::string& path, const std::string& user);

}  // namespace hale::test
