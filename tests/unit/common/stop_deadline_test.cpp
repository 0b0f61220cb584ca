// StopDeadline, which both daemons' mains hold around their stop: past its budget, or at a second SIGTERM or
// SIGINT, the process says -stop-forced and exits 1 at once; a stop that ends in time is left alone. Each
// case runs in a child process, set up as a daemon is (prepareDaemonProcess), since the deadline ends it.

#include "daemon.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <string>
#include <thread>

namespace hale {
namespace {

using std::chrono::milliseconds;

struct Ended {
  int status = -1;  // the exit status; -1 when still running after the wait (then killed)
  std::string err;  // what it wrote to stderr
  milliseconds took{0};
};

// Runs `stop` in a child as a daemon's main runs its stop (the deadline held around it), then exits 0.
Ended runStop(milliseconds budget, const std::function<void()>& stop, milliseconds wait) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return {};
  const auto started = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid < 0) {  // nothing ran: status -1 fails every case
    ::close(out[0]);
    ::close(out[1]);
    return {};
  }
  if (pid == 0) {
    ::dup2(out[1], STDERR_FILENO);
    prepareDaemonProcess();
    {
      const StopDeadline deadline(budget);
      stop();
    }
    ::_exit(0);
  }
  ::close(out[1]);
  Ended e;
  int status = 0;
  pid_t done = 0;
  while ((done = ::waitpid(pid, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() - started < wait) {
    std::this_thread::sleep_for(milliseconds{10});
  }
  e.took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started);
  if (done == pid && WIFEXITED(status)) {
    e.status = WEXITSTATUS(status);
  } else if (done == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  char buf[4096];
  for (ssize_t n = 0; (n = ::read(out[0], buf, sizeof buf)) > 0;) e.err.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  return e;
}

TEST(StopDeadline, AStopPastItsBudgetEndsTheProcessWithStatusOne) {
  const Ended e = runStop(
      milliseconds{300}, [] { std::this_thread::sleep_for(milliseconds{20000}); }, milliseconds{5000});
  EXPECT_EQ(e.status, 1) << e.err;
  EXPECT_LT(e.took, milliseconds{3000});
  EXPECT_NE(e.err.find("-stop-forced"), std::string::npos) << e.err;
  EXPECT_NE(e.err.find("longer than 300 ms"), std::string::npos) << e.err;
}

TEST(StopDeadline, ASecondSigtermWhileStoppingEndsTheProcessAtOnce) {
  const Ended e = runStop(
      milliseconds{60000},
      [] {
        ::kill(::getpid(), SIGTERM);
        std::this_thread::sleep_for(milliseconds{20000});
      },
      milliseconds{5000});
  EXPECT_EQ(e.status, 1) << e.err;
  EXPECT_LT(e.took, milliseconds{3000});
  EXPECT_NE(e.err.find("SIGTERM again while stopping"), std::string::npos) << e.err;
}

TEST(StopDeadline, AStopThatEndsInTimeIsLeftAlone) {
  const Ended e = runStop(
      milliseconds{2000}, [] { std::this_thread::sleep_for(milliseconds{100}); }, milliseconds{5000});
  EXPECT_EQ(e.status, 0) << e.err;
  EXPECT_EQ(e.err.find("-stop-forced"), std::string::npos) << e.err;
  EXPECT_LT(e.took, milliseconds{1500}) << "the deadline's thread held the exit up";
}

}  // namespace
}  // namespace hale
