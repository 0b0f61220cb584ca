#include "subprocess.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace hale {
namespace {

using std::chrono::milliseconds;

SubprocessResult sh(const std::string& script, milliseconds deadline, const std::vector<std::string>& env = {}) {
  const Clock& clock = SystemClock::instance();
  return runSubprocess("/bin/sh", {"sh", "-c", script}, env, clock.steadyNow() + deadline, nullptr, clock);
}

// A child that closes its output and goes on running is still bound by the deadline: the caller (an
// executor thread, a stopping daemon) never waits on it past that.
TEST(Subprocess, AChildThatClosesItsOutputIsKilledAtTheDeadline) {
  const auto started = std::chrono::steady_clock::now();
  const SubprocessResult r = sh("exec >/dev/null 2>&1; sleep 5", milliseconds{300});
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.exited);
  EXPECT_LT(took, std::chrono::seconds{4}) << "waited for the child's own end (5 s), not the deadline";
}

TEST(Subprocess, ExitCodeAndOutputOfAChildThatEndsInTime) {
  const SubprocessResult r = sh("echo hello; exit 3", milliseconds{5000});
  EXPECT_TRUE(r.exited);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.output, "hello\n");
}

TEST(Subprocess, AChildThatClosesItsOutputAndEndsInTimeIsNotATimeout) {
  const SubprocessResult r = sh("exec >/dev/null 2>&1; sleep 0.2; exit 4", milliseconds{5000});
  EXPECT_TRUE(r.exited);
  EXPECT_EQ(r.exit_code, 4);
}

// Children get a minimal environment: the daemon's secrets (cloud keys, systemd credentials) stay with
// the daemon; what a script needs is passed explicitly.
TEST(Subprocess, TheEnvironmentIsMinimalPlusWhatIsPassed) {
  ::setenv("AWS_SECRET_ACCESS_KEY", "do-not-leak", 1);
  ::setenv("CREDENTIALS_DIRECTORY", "/run/credentials/hale-aggregator.service", 1);
  const SubprocessResult r = sh("env", milliseconds{5000}, {"HALE_EVENT=failover"});
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  ::unsetenv("CREDENTIALS_DIRECTORY");
  ASSERT_TRUE(r.exited);
  EXPECT_EQ(r.output.find("do-not-leak"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("CREDENTIALS_DIRECTORY"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("HALE_EVENT=failover"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("PATH="), std::string::npos) << r.output;
}

}  // namespace
}  // namespace hale
