// The systemd units shipped in packaging/ as systemd itself reads them: `systemd-analyze verify` finds no
// error (with ExecStart pointed at the binaries just built, since nothing is installed here), and
// `systemd-analyze security --offline` rates each unit's exposure at 2.5 or below. No systemd runs as PID 1
// on these machines, so the units are checked, not started.

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "process.h"
#include "temp_dir.h"

namespace hale {
namespace {

struct Unit {
  const char* name;
  const char* installed_binary;
  const char* built_binary;
};

constexpr Unit kUnits[] = {
    {"hale-agent.service", "/usr/sbin/hale-agent", HALE_AGENT_BIN},
    {"hale-aggregator.service", "/usr/sbin/hale-aggregator", HALE_AGGREGATOR_BIN},
};

// The unit with its ExecStart binary pointed at the build tree, written into `dir`; its path.
std::string builtCopy(const test::TempDir& dir, const Unit& u) {
  std::string text = test::readFile(std::string(HALE_SOURCE_DIR) + "/packaging/" + u.name);
  EXPECT_NE(text.find(std::string("ExecStart=") + u.installed_binary + " "), std::string::npos) << u.name;
  const size_t at = text.find(u.installed_binary);
  if (at != std::string::npos) text.replace(at, std::string(u.installed_binary).size(), u.built_binary);
  return dir.writeFile(u.name, text);
}

TEST(SystemdUnits, VerifyFindsNothingWrong) {
  test::TempDir dir("units");
  for (const Unit& u : kUnits) {
    const std::string path = builtCopy(dir, u);
    // Documentation= pages are looked up with man: the built ones, before anything is installed.
    const auto r =
        test::runCommand({.argv = {"systemd-analyze", "verify", path}, .env = {std::string("MANPATH=") + HALE_MAN_DIR}},
                         std::chrono::seconds{30});
    EXPECT_EQ(r.exit_code, 0) << u.name << ":\n" << r.output;
    EXPECT_EQ(r.output.find(u.name), std::string::npos) << "a complaint about the unit:\n" << r.output;
  }
}

TEST(SystemdUnits, ExposureIsAtMostTwoAndAHalf) {
  test::TempDir dir("units");
  const std::regex overall(R"(Overall exposure level for \S+: ([0-9]+\.[0-9]))");
  for (const Unit& u : kUnits) {
    const std::string path = builtCopy(dir, u);
    const auto r = test::runCommand({.argv = {"systemd-analyze", "security", "--offline=yes", "--no-pager", path}},
                                    std::chrono::seconds{30});
    std::smatch m;
    ASSERT_TRUE(std::regex_search(r.output, m, overall)) << u.name << ":\n" << r.output;
    const double exposure = std::stod(m[1].str());
    EXPECT_LE(exposure, 2.5) << u.name << ":\n" << r.output;
    std::cout << u.name << ": exposure " << m[1].str() << "\n";
  }
}

// What the daemons need is there: notify, the watchdog, restart on failure, its own user, the runtime and
// state directories the default paths live in (shared by both units, kept when one stops), no capability.
TEST(SystemdUnits, DeclareWhatTheDaemonsRelyOn) {
  for (const Unit& u : kUnits) {
    const std::string text = test::readFile(std::string(HALE_SOURCE_DIR) + "/packaging/" + u.name);
    for (const char* line :
         {"Type=notify", "WatchdogSec=", "Restart=on-failure", "User=hale", "Group=hale", "RuntimeDirectory=hale",
          "RuntimeDirectoryPreserve=yes", "StateDirectory=hale", "ProtectSystem=strict", "ProtectHome=yes",
          "PrivateTmp=yes", "NoNewPrivileges=yes", "CapabilityBoundingSet=\n", "SystemCallFilter=@system-service"}) {
      EXPECT_NE(text.find(line), std::string::npos) << u.name << " lacks " << line;
    }
  }
  EXPECT_NE(test::readFile(std::string(HALE_SOURCE_DIR) + "/packaging/hale-agent.service")
                .find("ExecReload=/bin/kill -HUP $MAINPID"),
            std::string::npos)
      << "the agent reloads its configuration on SIGHUP";
}

}  // namespace
}  // namespace hale
