#include "alerter.h"

#include "log.h"
#include "thread_name.h"

namespace hale::aggregator {

std::string alertKey(const std::string& cluster, const std::string& observer, const Event& e) {
  const std::string_view name = e.name;
  const size_t sign = !name.empty() && (name.front() == '+' || name.front() == '-') ? 1 : 0;
  std::string key = cluster + "/" + std::string(name.substr(sign));
  // The aggregator's own events (+tilt, +fail-static) have no subject: each observer's are its own.
  const std::string& subject = e.subject.empty() ? observer : e.subject;
  if (!subject.empty()) key += "/" + subject;
  return key;
}

Alerter::Alerter(AlertConfig config, const ActionTable& actions, Journal& journal, const Clock& clock,
                 std::string observer, std::string cluster)
    : config_(std::move(config)),
      observer_(std::move(observer)),
      cluster_(std::move(cluster)),
      actions_(actions),
      journal_(journal),
      clock_(clock) {}

Alerter::~Alerter() { stop(); }

void Alerter::start() {
  if (config_.actions.empty()) return;
  thread_ = std::thread([this] { loop(); });
}

void Alerter::stop() {
  size_t unsent = 0;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    unsent = pending_.size();
    pending_.clear();
  }
  cancel_ = true;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Not sent, and said so: a stop does not wait for a slow pager, and the events are in the log.
  if (unsent > 0) {
    dropped_.fetch_add(unsent);
    logWarn("-alerts-dropped", std::to_string(unsent) + " alerts waiting to be sent are dropped at stop");
  }
}

void Alerter::notify(const Event& e) {
  if (!config_.alerts(e.name)) return;
  std::lock_guard lock(mu_);
  if (stopping_ || pending_.size() >= kMaxPending) {  // after stop() nothing would send it
    dropped_.fetch_add(1);
    return;
  }
  pending_.push_back(e);
  cv_.notify_one();
}

void Alerter::loop() {
  nameThisThread("alerts");
  uint64_t seq = 0;
  for (;;) {
    Event e;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
      if (stopping_) return;
      e = std::move(pending_.front());
      pending_.pop_front();
    }
    send(e, ++seq);
  }
}

void Alerter::send(const Event& e, uint64_t seq) {
  const int64_t now_ms = toUnixMillis(clock_.wallNow());
  const std::string key = alertKey(cluster_, observer_, e);
  bool sent = false;
  for (size_t i = 0; i < config_.actions.size(); ++i) {
    const auto it = actions_.find(config_.actions[i]);
    if (it == actions_.end()) continue;  // the config loader refuses unknown names
    ActionRequest r;
    // Unique per alert and action, so an idempotent action (a webhook's memo) never swallows a later one.
    r.request_id = "alert." + std::to_string(now_ms) + "." + std::to_string(seq) + "." + std::to_string(i);
    r.event = e.name;
    r.from = e.subject;
    r.reason = e.detail;
    r.observer = observer_;
    r.alert_key = key;
    r.clock = &clock_;
    r.cancel = &cancel_;
    r.deadline = clock_.steadyNow() + it->second.policy.timeout;
    ActionResult result;
    try {
      result = it->second.action->execute(r);
    } catch (const std::exception& ex) {
      result = {ActionStatus::permanent, std::string("threw: ") + ex.what()};
    }
    const bool ok = result.status == ActionStatus::applied || result.status == ActionStatus::already_applied;
    (ok ? sent_ : failed_).fetch_add(1);
    sent = sent || ok;
    const std::string detail = e.name + " " + e.subject + " via " + it->first + ": " + result.detail;
    if (ok) {
      logInfo("+alert-sent", detail);
    } else {
      logError("-alert-failed", detail);
    }
    if (!journal_.event({0, toUnixMillis(clock_.wallNow()), ok ? "+alert-sent" : "-alert-failed", e.subject, detail}))
      logError("-journal-failed", "alert " + detail);
  }
  if (sent && on_sent_) on_sent_(e, key);
}

}  // namespace hale::aggregator
