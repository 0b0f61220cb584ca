#pragma once

// Checks of a /metrics body by two oracles: Prometheus's own promtool (`promtool check metrics`, Debian's
// prometheus package), and a reading of the exposition format's grouping rule (each family's HELP, TYPE
// and samples together, never split or repeated). "" when fine, else what is wrong.

#include <string>

namespace hale::test {

std::string promtoolCheck(const std::string& body);
std::string familiesGrouped(const std::string& body);

}  // namespace hale::test
