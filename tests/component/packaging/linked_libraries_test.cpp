// What each binary loads at start: ldd's list, the whole closure of NEEDED entries (a library that a linked
// library links is mapped just the same), since every library loaded is mapped, relocated and paid for in
// memory on every node: client libraries are opened only when a check needs them (common/driver_library.h),
// sd_notify speaks the protocol itself, and halectl links the protocol alone.

#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>

#include "process.h"

namespace hale {
namespace {

// The file names ("libzmq.so.5") of every shared object the dynamic loader maps at start.
std::set<std::string> loadedLibraries(const char* binary) {
  const auto r = test::runCommand(test::SpawnOptions{.argv = {"ldd", binary}}, std::chrono::milliseconds{10000});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::set<std::string> loaded;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string name;  // "libzmq.so.5 => /lib/...", "/lib64/ld-linux-x86-64.so.2 (0x...)"
    if (!(words >> name)) continue;
    EXPECT_EQ(line.find("not found"), std::string::npos) << line;
    loaded.insert(name.substr(name.rfind('/') + 1));
  }
  EXPECT_GT(loaded.size(), 3u) << "few libraries parsed from:\n" << r.output;
  return loaded;
}

// The names in `loaded` that start with one of `prefixes`.
std::set<std::string> matching(const std::set<std::string>& loaded, std::initializer_list<const char*> prefixes) {
  std::set<std::string> found;
  for (const std::string& soname : loaded) {
    for (const char* prefix : prefixes) {
      if (soname.rfind(prefix, 0) == 0) found.insert(soname);
    }
  }
  return found;
}

TEST(LinkedLibraries, TheAgentLinksNoDatabaseHttpOrSystemdLibrary) {
  const auto loaded = loadedLibraries(HALE_AGENT_BIN);
  EXPECT_EQ(
      matching(loaded, {"libpq.", "libmariadb.", "libmysqlclient.", "libcurl", "libssl.", "libcrypto.", "libsystemd."}),
      std::set<std::string>{});
  EXPECT_EQ(matching(loaded, {"libzmq.", "libmicrohttpd."}).size(), 2u);  // the parse found the real ones
}

TEST(LinkedLibraries, TheAggregatorOpensItsDriversAtStartInsteadOfLinkingThem) {
  const auto loaded = loadedLibraries(HALE_AGGREGATOR_BIN);
  EXPECT_EQ(matching(loaded, {"libpq.", "libmariadb.", "libcurl", "libsystemd."}), std::set<std::string>{});
  EXPECT_EQ(matching(loaded, {"libsqlite3."}).size(), 1u);  // its journal
}

TEST(LinkedLibraries, HalectlLinksTheProtocolAndNothingOfTheDaemons) {
  const auto loaded = loadedLibraries(HALECTL_BIN);
  EXPECT_EQ(matching(loaded, {"libpq.", "libmariadb.", "libcurl", "libssl.", "libcrypto.", "libmicrohttpd.",
                              "libsqlite3.", "libldns.", "libsystemd.", "libgnutls."}),
            std::set<std::string>{});
}

}  // namespace
}  // namespace hale
