#pragma once

// The drill's scenarios on a Deployment, shared by hale-drill and the end-to-end tests: kill a region
// and follow the failover to its verified end, fail back, and check the end state.

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "deployment.h"
#include "timeline.h"

namespace hale::drill {

using Printer = std::function<void(const std::string&)>;

struct FailoverRun {
  Timeline timeline{0};
  int64_t decided_ms = 0;  // the decision's journal time, 0 before one
  int64_t plan_id = 0;
  bool plan_done = false;
  bool plan_failed = false;
  bool dns_switched = false;
  bool interrupted = false;
};

// Kills region eu, then prints the timeline as it happens until the plan finished and DNS answers us
// (or `limit` passes, or `stop` becomes true). In dry-run mode it follows until the decision plus a
// settling time, since nothing will change.
FailoverRun killAndFollow(Deployment& d, const Printer& print, std::chrono::milliseconds limit,
                          const std::atomic<bool>& stop);

// Prints the acting aggregator's new journal entries on `timeline` and returns them.
std::vector<TimelineEntry> printNew(Deployment& d, Timeline& timeline, const Printer& print);
// Adds one of the drill's own marks to `timeline` and prints it.
void mark(Timeline& timeline, const TimelineEntry& e, const Printer& print);
// One look at the journal for `run`: prints the new entries, notes the decision (and its plan) and the
// plan's end; returns the new entries.
std::vector<TimelineEntry> followJournal(Deployment& d, FailoverRun& run, const Printer& print);
// Until DNS answers us, a real query at most every 100 ms (`next` holds when); its first answer of us is
// marked on the timeline.
void followDns(Deployment& d, FailoverRun& run, const Printer& print, std::chrono::steady_clock::time_point& next);

// Waits for plan `plan_id`'s end (done or failed), printing its journal entries; true when done.
bool followPlan(Deployment& d, Timeline& timeline, int64_t plan_id, const Printer& print,
                std::chrono::milliseconds limit, const std::atomic<bool>& stop);

struct Check {
  std::string what;
  bool ok = false;
  std::string detail;
};

// The verified end state of a failover to `region`: its database is the writable primary, DNS answers
// its address, the notification was sent once, and the journal holds each step of plan `plan_id` started
// once and done once.
std::vector<Check> verifyFailover(Deployment& d, const std::string& region, int64_t plan_id);

// The newest plan's id and state (0, "" when none).
std::pair<int64_t, std::string> newestPlan(Deployment& d);

}  // namespace hale::drill
