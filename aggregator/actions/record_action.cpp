// record: appends "<request id> <label>" to a file, once per request id, and for an alert then its key and
// observer (alerter.h). A marker an operator can watch (a drill, a canary), and how tests prove that a
// step's side effect happened exactly once.
//   path = "/var/lib/hale/record.log"
//   label = "fence-eu"          (default: empty)
//   delay = "2s"                (optional: wait before writing, honouring the deadline)
//   fail_first = 2              (optional: answer retryable that many times per request id first)
//   fail = "permanent"          (optional: always refuse)

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "action_registry.h"

namespace hale::aggregator {
namespace {

class RecordAction final : public Action {
 public:
  RecordAction(std::string path, std::string label, std::chrono::milliseconds delay, int64_t fail_first, bool fail)
      : path_(std::move(path)), label_(std::move(label)), delay_(delay), fail_first_(fail_first), fail_(fail) {}

  ActionResult execute(const ActionRequest& r) override {
    if (fail_) return {ActionStatus::permanent, "configured to fail"};
    {
      std::lock_guard lock(mu_);
      if (failures_[r.request_id] < fail_first_) {
        ++failures_[r.request_id];
        return {ActionStatus::retryable, "configured to fail " + std::to_string(fail_first_) + " time(s) first"};
      }
    }
    if (recorded(r.request_id)) return {ActionStatus::already_applied, "already recorded"};
    const SteadyTime until = r.clock->steadyNow() + delay_;
    while (r.clock->steadyNow() < until) {
      if (r.clock->steadyNow() >= r.deadline) return {ActionStatus::retryable, "deadline passed while waiting"};
      if (r.cancel != nullptr && r.cancel->load()) return {ActionStatus::retryable, "cancelled"};
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    // An attempt that outlived its deadline (its aggregator was stopped, say) does nothing: another attempt,
    // maybe another aggregator's, owns the step by now.
    if (r.clock->steadyNow() >= r.deadline) return {ActionStatus::retryable, "deadline passed while waiting"};
    if (recorded(r.request_id)) return {ActionStatus::already_applied, "already recorded"};
    std::string line = r.request_id + " " + label_;
    if (!r.alert_key.empty()) line += " " + r.alert_key + " " + (r.observer.empty() ? "-" : r.observer);
    line += "\n";
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return {ActionStatus::permanent, "cannot open " + path_};
    const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
    ::close(fd);
    return ok ? ActionResult{ActionStatus::applied, "recorded " + r.request_id}
              : ActionResult{ActionStatus::retryable, "write failed"};
  }

  ActionResult verify(const ActionRequest& r) override {
    return recorded(r.request_id) ? ActionResult{ActionStatus::applied, ""}
                                  : ActionResult{ActionStatus::retryable, "record for " + r.request_id + " missing"};
  }

 private:
  bool recorded(const std::string& id) const {
    std::ifstream in(path_);
    for (std::string line; std::getline(in, line);) {
      if (line.compare(0, id.size() + 1, id + " ") == 0) return true;
    }
    return false;
  }

  std::string path_;
  std::string label_;
  std::chrono::milliseconds delay_;
  int64_t fail_first_;
  bool fail_;
  std::mutex mu_;
  std::map<std::string, int64_t> failures_;
};

}  // namespace

std::unique_ptr<Action> makeRecordAction(ConfigTable& t, const ActionEnvironment&) {
  std::string path;
  std::string label;
  std::chrono::milliseconds delay{0};
  int64_t fail_first = 0;
  std::string fail = "never";
  if (!t.get("path", path, Presence::required)) return nullptr;
  t.get("label", label);
  t.getDuration("delay", delay, Presence::optional, std::chrono::milliseconds{0}, std::chrono::minutes{10});
  t.get("fail_first", fail_first, Presence::optional, 0, 100);
  t.getEnum("fail", fail, {"never", "permanent"});
  return std::make_unique<RecordAction>(path, label, delay, fail_first, fail == "permanent");
}

}  // namespace hale::aggregator
