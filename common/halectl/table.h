#pragma once

// Plain-text tables for halectl's human output: columns padded to their widest cell. Cells are cleaned
// (common/text.h): a name or message from a server, a plugin or etcd never reaches the terminal as an
// escape sequence.

#include <ostream>
#include <string>
#include <vector>

namespace hale::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void add(std::vector<std::string> row);
  void print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace hale::cli
