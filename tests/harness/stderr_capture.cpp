#include "stderr_capture.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>

namespace hale::test {

StderrToFile::StderrToFile(const std::string& path) {
  std::fflush(stderr);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot open " + path);
  saved_ = ::dup(2);
  ::dup2(fd, 2);
  ::close(fd);
}

StderrToFile::~StderrToFile() {
  std::fflush(stderr);
  ::dup2(saved_, 2);
  ::close(saved_);
}

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace hale::test
