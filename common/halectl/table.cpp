#include "table.h"

#include <algorithm>

#include "text.h"

namespace hale::cli {

void Table::add(std::vector<std::string> row) {
  for (std::string& cell : row) {
    std::string clean;
    cleanText(cell, cell.size() * 3, clean);  // each bad byte may become a 3-byte U+FFFD
    cell = std::move(clean);
  }
  rows_.push_back(std::move(row));
}

void Table::print(std::ostream& out) const {
  std::vector<size_t> width;
  for (const auto& row : rows_) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

}  // namespace hale::cli
