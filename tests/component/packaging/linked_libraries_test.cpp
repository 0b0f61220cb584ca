// What each binary links (readelf's NEEDED entries), since every library linked is mapped, relocated and
// paid for in memory on every node: client libraries are opened only when a check needs them
// (common/driver_library.h), sd_notify speaks the protocol itself, and halectl links the protocol alone.

#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>

#include "process.h"

namespace hale {
namespace {

std::set<std::string> neededLibraries(const char* binary) {
  const auto r = test::runCommand(test::SpawnOptions{.argv = {"readelf", "--dynamic", "--wide", binary}},
                                  std::chrono::milliseconds{10000});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::set<std::string> needed;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("(NEEDED)") == std::string::npos) continue;
    const auto open = line.find('[');
    const auto close = line.find(']', open);
    if (open != std::string::npos && close != std::string::npos) needed.insert(line.substr(open + 1, close - open - 1));
  }
  EXPECT_FALSE(needed.empty()) << "no NEEDED entry parsed from:\n" << r.output;
  return needed;
}

// The names in `needed` that start with one of `prefixes`.
std::set<std::string> matching(const std::set<std::string>& needed, std::initializer_list<const char*> prefixes) {
  std::set<std::string> found;
  for (const std::string& soname : needed) {
    for (const char* prefix : prefixes) {
      if (soname.rfind(prefix, 0) == 0) found.insert(soname);
    }
  }
  return found;
}

TEST(LinkedLibraries, TheAgentLinksNoDatabaseHttpOrSystemdLibrary) {
  const auto needed = neededLibraries(HALE_AGENT_BIN);
  EXPECT_EQ(
      matching(needed, {"libpq.", "libmariadb.", "libmysqlclient.", "libcurl", "libssl.", "libcrypto.", "libsystemd."}),
      std::set<std::string>{});
  EXPECT_EQ(matching(needed, {"libzmq.", "libmicrohttpd."}).size(), 2u);  // the parse found the real ones
}

TEST(LinkedLibraries, TheAggregatorOpensItsDriversAtStartInsteadOfLinkingThem) {
  const auto needed = neededLibraries(HALE_AGGREGATOR_BIN);
  EXPECT_EQ(matching(needed, {"libpq.", "libmariadb.", "libcurl", "libsystemd."}), std::set<std::string>{});
  EXPECT_EQ(matching(needed, {"libsqlite3."}).size(), 1u);  // its journal
}

TEST(LinkedLibraries, HalectlLinksTheProtocolAndNothingOfTheDaemons) {
  const auto needed = neededLibraries(HALECTL_BIN);
  EXPECT_EQ(matching(needed, {"libpq.", "libmariadb.", "libcurl", "libssl.", "libcrypto.", "libmicrohttpd.",
                              "libsqlite3.", "libldns.", "libsystemd."}),
            std::set<std::string>{});
}

}  // namespace
}  // namespace hale
