#include "subprocess.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <csignal>
#include <cstdio>
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

// The child leads a process group of its own (so the deadline kills everything it started), with no
// signal blocked and none ignored, whatever the daemon blocks or ignores (SIGPIPE, the signals its
// signal thread takes).
TEST(Subprocess, TheChildLeadsItsOwnGroupWithNoSignalBlockedOrIgnored) {
  const auto old_pipe = std::signal(SIGPIPE, SIG_IGN);
  sigset_t term;
  sigset_t old_mask;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, &old_mask);
  // exec: grep reads the masks of the very process posix_spawn started. A grep forked by the shell
  // would read the shell's, and dash blocks every signal while it waits for a child (a race that
  // failed CI).
  const SubprocessResult r =
      sh("read -r pid comm state ppid pgrp rest < /proc/$$/stat; echo \"pid=$pid pgrp=$pgrp\"; "
         "exec grep -E '^Sig(Blk|Ign)' /proc/self/status",
         milliseconds{5000});
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  std::signal(SIGPIPE, old_pipe);
  ASSERT_TRUE(r.exited) << r.output;
  int pid = 0;
  int pgrp = -1;
  ASSERT_EQ(std::sscanf(r.output.c_str(), "pid=%d pgrp=%d", &pid, &pgrp), 2) << r.output;
  EXPECT_EQ(pid, pgrp) << r.output;
  EXPECT_NE(pgrp, static_cast<int>(::getpgrp()));
  EXPECT_NE(r.output.find("SigBlk:\t0000000000000000"), std::string::npos) << r.output;
  // Standard signals (1-31); glibc's posix_spawn leaves its own internal signals (32, 33) ignored.
  const size_t ign = r.output.find("SigIgn:\t");
  ASSERT_NE(ign, std::string::npos) << r.output;
  EXPECT_EQ(std::stoull(r.output.substr(ign + 8, 16), nullptr, 16) & 0x7fffffffULL, 0u) << r.output;
}

TEST(Subprocess, AProgramThatCannotBeExecutedIsNotStarted) {
  const Clock& clock = SystemClock::instance();
  const SubprocessResult r =
      runSubprocess("/nonexistent/plugin", {"plugin"}, {}, clock.steadyNow() + milliseconds{2000}, nullptr, clock);
  EXPECT_FALSE(r.started);
  EXPECT_NE(r.output.find("No such file"), std::string::npos) << r.output;
}

// A descriptor the daemon left inheritable (MariaDB Connector/C's and libcurl's sockets are) never
// reaches the child: it has stdin, its output pipe and nothing else.
TEST(Subprocess, TheChildGetsNoDescriptorButItsOwnThree) {
  int leaky[2];
  ASSERT_EQ(::pipe(leaky), 0);  // not close-on-exec
  const SubprocessResult r = sh("ls /proc/$$/fd", milliseconds{5000});
  ::close(leaky[0]);
  ::close(leaky[1]);
  ASSERT_TRUE(r.exited) << r.output;
  EXPECT_EQ(r.output, "0\n1\n2\n") << "the pipe was " << leaky[0] << ", " << leaky[1];
}

}  // namespace
}  // namespace hale
