#include "scheduler.h"

#include <condition_variable>
#include <mutex>
#include <optional>

#include "log.h"
#include "thread_name.h"

namespace hale::agent {
namespace {

using std::chrono::milliseconds;

// A probe that honours its deadline returns right at it; the watchdog waits this much longer before
// calling it hung, so the two never race to report the same run.
constexpr milliseconds kWatchdogGrace{100};

}  // namespace

// What wakes the watchdog: a run started (a new deadline to watch) or the scheduler stops. Shared, since a
// worker left behind at stop() outlives the scheduler.
struct Scheduler::Watch {
  std::mutex mu;
  std::condition_variable cv;
  bool changed = false;

  void poke() {
    {
      std::lock_guard lock(mu);
      changed = true;
    }
    cv.notify_one();
  }
};

struct Scheduler::Worker {
  size_t index = 0;
  CheckSettings settings;
  std::shared_ptr<Check> check;
  std::shared_ptr<HealthBoard> board;
  std::shared_ptr<std::atomic<bool>> stopping;
  std::shared_ptr<Watch> watch;
  const Clock* clock = nullptr;

  std::mutex mu;
  std::condition_variable cv;
  bool running = false;           // a probe is in progress
  bool timeout_reported = false;  // the watchdog already reported this run
  SteadyTime deadline{};          // of the run in progress
  bool done = false;
  std::thread thread;

  void loop() {
    nameThisThread("chk:" + settings.name);
    SteadyTime next = clock->steadyNow();
    while (!stopping->load()) {
      {
        std::unique_lock lock(mu);
        // Real time for waiting: the injectable clock is for reading, tests drive timing with short intervals.
        cv.wait_until(lock, std::chrono::steady_clock::now() + (next - clock->steadyNow()),
                      [&] { return stopping->load(); });
        if (stopping->load()) break;
      }
      const SteadyTime started = clock->steadyNow();
      const CheckContext ctx{started + settings.timeout, stopping.get(), clock};
      {
        // The deadline with the running flag, in one step: the watchdog never sees this run with the
        // previous run's deadline (which it would take for a hang).
        std::lock_guard lock(mu);
        deadline = ctx.deadline;
        running = true;
        timeout_reported = false;
      }
      watch->poke();
      const CheckResult result = check->run(ctx);
      const SteadyTime finished = clock->steadyNow();
      bool late = false;
      {
        std::lock_guard lock(mu);
        running = false;
        late = timeout_reported;
      }
      if (stopping->load()) break;
      if (!late) {
        board->record(index, result, std::chrono::duration_cast<std::chrono::microseconds>(finished - started),
                      finished);
      }
      next = started + settings.interval;
      if (next < finished) next = finished;  // a slow probe does not cause a burst of catch-up runs
    }
    std::lock_guard lock(mu);
    done = true;
    cv.notify_all();
  }
};

Scheduler::Scheduler(const std::vector<ConfiguredCheck>& checks, std::shared_ptr<HealthBoard> board, const Clock& clock)
    : board_(std::move(board)),
      clock_(clock),
      stopping_(std::make_shared<std::atomic<bool>>(false)),
      watch_(std::make_shared<Watch>()) {
  for (size_t i = 0; i < checks.size(); ++i) {
    auto w = std::make_shared<Worker>();
    w->index = i;
    w->settings = checks[i].settings;
    w->check = checks[i].check;
    w->board = board_;
    w->stopping = stopping_;
    w->watch = watch_;
    w->clock = &clock_;
    workers_.push_back(std::move(w));
  }
}

Scheduler::~Scheduler() { stop(); }

void Scheduler::start() {
  for (const auto& w : workers_) {
    w->thread = std::thread([w] { w->loop(); });  // the lambda's copy keeps the worker alive if detached
  }
  watchdog_ = std::thread([this] { watchdogLoop(); });
}

void Scheduler::watchdogLoop() {
  nameThisThread("watchdog");
  // Sleeps until the earliest deadline (plus the grace) of a run in progress, or until a run starts; with
  // no run in progress, until one does (once more at the deadline of a run that has finished since). No
  // polling: between runs the watchdog sleeps.
  while (!stopping_->load()) {
    std::optional<SteadyTime> earliest;
    for (const auto& w : workers_) {
      std::lock_guard lock(w->mu);
      if (w->running && !w->timeout_reported && (!earliest || w->deadline < *earliest)) earliest = w->deadline;
    }
    {
      std::unique_lock lock(watch_->mu);
      const auto woken = [&] { return watch_->changed || stopping_->load(); };
      if (earliest) {
        // Real time for waiting, as the workers do: the injectable clock is for reading.
        watch_->cv.wait_until(
            lock, std::chrono::steady_clock::now() + (*earliest + kWatchdogGrace - clock_.steadyNow()), woken);
      } else {
        watch_->cv.wait(lock, woken);
      }
      watch_->changed = false;
    }
    const SteadyTime now = clock_.steadyNow();
    for (const auto& w : workers_) {
      bool report = false;
      {
        std::lock_guard lock(w->mu);
        if (w->running && !w->timeout_reported && now >= w->deadline + kWatchdogGrace) {
          w->timeout_reported = true;
          report = true;
        }
      }
      if (report) {
        logWarn("-check-hung",
                w->settings.name + ": no answer within " + std::to_string(w->settings.timeout.count()) + "ms");
        board_->record(
            w->index,
            CheckResult{Outcome::error, "timed out after " + std::to_string(w->settings.timeout.count()) + "ms"},
            std::chrono::duration_cast<std::chrono::microseconds>(w->settings.timeout), now, /*timed_out=*/true);
      }
    }
  }
}

bool Scheduler::stop(std::chrono::milliseconds grace) {
  if (stopping_->exchange(true)) return true;
  for (const auto& w : workers_) {
    std::lock_guard lock(w->mu);
    w->cv.notify_all();
  }
  watch_->poke();
  if (watchdog_.joinable()) watchdog_.join();
  const auto deadline = std::chrono::steady_clock::now() + grace;
  bool all_joined = true;
  for (const auto& w : workers_) {
    if (!w->thread.joinable()) continue;
    std::unique_lock lock(w->mu);
    const bool finished = w->cv.wait_until(lock, deadline, [&] { return w->done; });
    lock.unlock();
    if (finished) {
      w->thread.join();
    } else {
      logWarn("-check-abandoned", w->settings.name + ": still running at shutdown");
      w->thread.detach();
      all_joined = false;
    }
  }
  return all_joined;
}

}  // namespace hale::agent
