#include "daemon.h"

#include <curl/curl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "log.h"

namespace hale {
namespace {

sigset_t daemonSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
  return set;
}

}  // namespace

int runGuarded(int (*run)(int, char**), int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "fatal: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "fatal: unknown exception\n";
  }
  return 2;
}

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
  curl_global_init(CURL_GLOBAL_DEFAULT);
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
  sd_notify(0, "READY=1\nSTATUS=running");
  uint64_t watchdog_usec = 0;
  const bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0;
  const long wait_ms = watchdog ? static_cast<long>(watchdog_usec / 2000) : 1000;
  for (;;) {
    const timespec timeout{wait_ms / 1000, (wait_ms % 1000) * 1'000'000};
    const int sig = sigtimedwait(&signals, nullptr, &timeout);
    if (watchdog) sd_notify(0, "WATCHDOG=1");
    if (sig == SIGHUP) {
      sd_notify(0, "RELOADING=1");
      on_reload();
      sd_notify(0, "READY=1");
    } else if (sig == SIGTERM || sig == SIGINT) {
      sd_notify(0, "STOPPING=1");
      logInfo("+stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      return;
    }
  }
}

}  // namespace hale
