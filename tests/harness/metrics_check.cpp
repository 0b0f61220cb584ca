#include "metrics_check.h"

#include <set>
#include <sstream>

#include "process.h"

namespace hale::test {

std::string promtoolCheck(const std::string& body) {
  const CommandResult r = runCommand({.argv = {"promtool", "check", "metrics"}}, std::chrono::seconds{30}, body);
  if (r.exit_code == 0) return "";
  return "promtool check metrics exit " + std::to_string(r.exit_code) + ":\n" + r.output;
}

std::string familiesGrouped(const std::string& body) {
  std::set<std::string> finished;
  std::string current;
  std::istringstream lines(body);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    std::string family;
    if (line.rfind("# TYPE ", 0) == 0 || line.rfind("# HELP ", 0) == 0) {
      family = line.substr(7, line.find(' ', 7) - 7);
    } else if (line[0] == '#') {
      continue;
    } else {
      family = line.substr(0, line.find_first_of("{ "));
    }
    if (family != current) {
      if (finished.count(family) != 0) return "family " + family + " appears again after other families: " + line;
      if (!current.empty()) finished.insert(current);
      current = family;
      if (line.rfind("# ", 0) != 0) return "samples of " + family + " before its HELP and TYPE: " + line;
    }
  }
  return "";
}

}  // namespace hale::test
