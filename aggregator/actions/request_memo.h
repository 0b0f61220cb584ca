#pragma once

// What an action has started for a request but not finished (a Route 53 change still PENDING, an OVH
// refresh still owed, an IPLB task still running), remembered per request id so a retry of the same
// request finishes that work instead of starting it again. In memory only: gone with the process.

#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace hale::aggregator {

template <class T>
class RequestMemo {
 public:
  std::optional<T> get(const std::string& request_id) const {
    std::lock_guard lock(mu_);
    auto it = values_.find(request_id);
    return it == values_.end() ? std::nullopt : std::optional<T>(it->second);
  }
  void set(const std::string& request_id, T value) {
    std::lock_guard lock(mu_);
    values_[request_id] = std::move(value);
  }
  void forget(const std::string& request_id) {
    std::lock_guard lock(mu_);
    values_.erase(request_id);
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, T> values_;
};

}  // namespace hale::aggregator
