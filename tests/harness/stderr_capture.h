#pragma once

// Sends this process's stderr (where hale logs) to a file while alive, for tests of what an in-process
// engine logs and at which level.

#include <string>

namespace hale::test {

class StderrToFile {
 public:
  explicit StderrToFile(const std::string& path);
  ~StderrToFile();
  StderrToFile(const StderrToFile&) = delete;
  StderrToFile& operator=(const StderrToFile&) = delete;

 private:
  int saved_ = -1;
};

// How many times `what` occurs in `text`.
size_t occurrences(const std::string& text, const std::string& what);

}  // namespace hale::test
