#pragma once

// Alerts: events an operator must hear about at once (by default +split-brain), sent through configured
// actions (webhook, exec, ...) on a thread of their own, so a slow pager never holds up the tick. Each
// alert runs every alert action once, best effort, with event = the event's name, from = its subject and
// reason = its detail; the outcome is journaled (+alert-sent / -alert-failed). At most kMaxPending alerts
// wait (a new leader may page as many kept ones at once); more are dropped and counted, as are those still
// waiting at stop (logged once, -alerts-dropped) and any notified after it. With several aggregators the leader alerts,
// an observer that sees no live leader (see Engine::paging), and each observer its own events (+tilt, +fail-static), so
// one alert may come from more than one observer: each copy names its observer and carries the same key,
// "<cluster>/<event without its sign>/<subject>" (a split brain's start and end share it; the aggregator's own events
// have its observer name as subject, none deciding alone), for a pager to fold copies and pair ends.
//
//   [alerts]
//   actions = ["page"]                 # action names; none: no alerts
//   events = ["+split-brain"]          # which events alert (default)

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "journal.h"
#include "observer.h"
#include "plan_runner.h"

namespace hale::aggregator {

struct AlertConfig {
  std::vector<std::string> actions;
  std::vector<std::string> events{"+split-brain"};

  bool alerts(const std::string& event) const {
    return !actions.empty() && std::find(events.begin(), events.end(), event) != events.end();
  }
};

// The key every observer's copy of the alert for `e` carries in `cluster` (`observer`: the sender).
std::string alertKey(const std::string& cluster, const std::string& observer, const Event& e);

class Alerter {
 public:
  static constexpr size_t kMaxPending = 256;

  // `observer`: this aggregator's observer name ("" deciding alone); `cluster`: its etcd cluster name.
  Alerter(AlertConfig config, const ActionTable& actions, Journal& journal, const Clock& clock, std::string observer,
          std::string cluster);
  ~Alerter();
  Alerter(const Alerter&) = delete;
  Alerter& operator=(const Alerter&) = delete;

  void start();
  void stop();
  // Queues `e` when it is an alerting event; never blocks.
  void notify(const Event& e);
  // Called on the alerts thread with an alert's key once an action has sent it (set before start()).
  void onSent(std::function<void(const Event&, const std::string& key)> f) { on_sent_ = std::move(f); }

  uint64_t sent() const { return sent_.load(); }
  uint64_t failed() const { return failed_.load(); }
  uint64_t dropped() const { return dropped_.load(); }

 private:
  void loop();
  void send(const Event& e, uint64_t seq);

  AlertConfig config_;
  std::string observer_;
  std::string cluster_;
  std::function<void(const Event&, const std::string&)> on_sent_;
  const ActionTable& actions_;
  Journal& journal_;
  const Clock& clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> pending_;
  bool stopping_ = false;
  std::atomic<bool> cancel_{false};
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> failed_{0};
  std::atomic<uint64_t> dropped_{0};
  std::thread thread_;
};

}  // namespace hale::aggregator
