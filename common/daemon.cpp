#include "daemon.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "cli_args.h"
#include "log.h"
#include "sd_notify.h"

namespace hale {
namespace {

sigset_t daemonSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
  return set;
}

}  // namespace

void prepareDaemonProcess() {
  const sigset_t signals = daemonSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  // Room for connections and checks alike: the soft descriptor limit up to the hard one (systemd sets a
  // soft 1024 and a generous hard limit).
  if (rlimit limit{}; ::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 65536);
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  if (stderrIsTheJournal()) {
    setLogTimestamps(false);
    setLogPriorityPrefixes(true);
  }
}

bool stderrIsTheJournal() {
  // systemd sets JOURNAL_STREAM to the device and inode of the stream it connected; a stderr redirected
  // since (to a file, a pipe) is not the journal, and gets plain lines (sd-daemon(3), systemd.exec(5)).
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  unsigned long long dev = 0;
  unsigned long long ino = 0;
  struct stat st {};
  return std::sscanf(stream, "%llu:%llu", &dev, &ino) == 2 && ::fstat(STDERR_FILENO, &st) == 0 &&
         static_cast<unsigned long long>(st.st_dev) == dev && static_cast<unsigned long long>(st.st_ino) == ino;
}

void serveUntilStopped(const std::function<void()>& on_reload) {
  const sigset_t signals = daemonSignals();
  systemd::notify("READY=1\nSTATUS=running");
  const auto watchdog_interval = systemd::watchdogInterval();
  const bool watchdog = watchdog_interval.has_value();
  // At half the interval, as systemd.service(5) advises; at least 1 ms, so a tiny interval cannot spin.
  const long wait_ms = watchdog ? std::max<long>(1, static_cast<long>(watchdog_interval->count() / 2000)) : 1000;
  for (;;) {
    const timespec timeout{wait_ms / 1000, (wait_ms % 1000) * 1'000'000};
    const int sig = sigtimedwait(&signals, nullptr, &timeout);
    if (watchdog) systemd::notify("WATCHDOG=1");
    if (sig == SIGHUP) {
      systemd::notify("RELOADING=1");
      on_reload();
      systemd::notify("READY=1");
    } else if (sig == SIGTERM || sig == SIGINT) {
      systemd::notify("STOPPING=1");
      logInfo("+stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      return;
    }
  }
}

StopDeadline::StopDeadline(std::chrono::milliseconds budget) {
  const auto until = std::chrono::steady_clock::now() + budget;
  thread_ = std::thread([this, until, budget] {
    const sigset_t signals = daemonSignals();
    // In short waits, so the destructor's join is prompt once the stop is done.
    constexpr long kSliceNs = 50'000'000;
    while (!done_.load()) {
      if (std::chrono::steady_clock::now() >= until) {
        logError("-stop-forced", "the stop took longer than " + std::to_string(budget.count()) +
                                     " ms; exiting now: a lease not revoked lapses by itself, events not "
                                     "journaled are in the log");
        ::_exit(kExitFailure);
      }
      const timespec slice{0, kSliceNs};
      const int sig = sigtimedwait(&signals, nullptr, &slice);
      if (sig == SIGTERM || sig == SIGINT) {
        logError("-stop-forced", std::string(sig == SIGTERM ? "SIGTERM" : "SIGINT") +
                                     " again while stopping; exiting now: a lease not revoked lapses by "
                                     "itself, events not journaled are in the log");
        ::_exit(kExitFailure);
      }
    }
  });
}

StopDeadline::~StopDeadline() {
  done_ = true;
  thread_.join();
}

}  // namespace hale
