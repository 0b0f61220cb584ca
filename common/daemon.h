#pragma once

// What hale-agent and hale-aggregator do the same way as processes: how signals are taken, how systemd is
// told about readiness and liveness (runGuarded, for every program's main, is in run_guarded.h).

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

namespace hale {

// Call before starting any thread: blocks SIGTERM, SIGINT and SIGHUP in this and every later thread (only
// serveUntilStopped sees them), ignores SIGPIPE, raises the descriptor limit. When stderr is journald's stream
// (stderrIsTheJournal) log lines lose their own timestamps, since journald adds them, and carry their
// priority ("<3>" ...).
void prepareDaemonProcess();

// Whether stderr is the stream systemd connected to journald: JOURNAL_STREAM names its device and inode,
// and stderr is still that file (not redirected since).
bool stderrIsTheJournal();

// Tells systemd READY=1, then waits for signals, petting the watchdog (WATCHDOG=1 at half its interval)
// when systemd asked for one. SIGHUP calls `on_reload` between RELOADING=1 and READY=1. Returns after
// SIGTERM or SIGINT, having said STOPPING=1.
void serveUntilStopped(const std::function<void()>& on_reload);

// What a stop may take: inside the units' TimeoutStopSec=10s, so the process says why it ends before
// systemd's SIGKILL would end it silently.
inline constexpr std::chrono::milliseconds kStopBudget{9000};

// Bounds the stop that follows serveUntilStopped, for as long as it lives: a second SIGTERM or SIGINT (the
// operator's second Ctrl-C), or `budget` passing, logs -stop-forced and ends the process at once with exit
// status 1, as SIGKILL would but said: a lease not revoked lapses by itself, events not journaled are in the log.
class StopDeadline {
 public:
  explicit StopDeadline(std::chrono::milliseconds budget = kStopBudget);
  ~StopDeadline();  // the stop ended in time
  StopDeadline(const StopDeadline&) = delete;
  StopDeadline& operator=(const StopDeadline&) = delete;

 private:
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace hale
