#include "log_limiter.h"

namespace hale::aggregator {

bool LogLimiter::allow(std::string_view subject, SteadyTime now, uint64_t& held_back) {
  held_back = 0;
  if (window_start_ == SteadyTime{} || now - window_start_ >= interval_) {
    held_back = suppressed_;
    window_start_ = now;
    lines_ = 0;
    suppressed_ = 0;
  }
  auto it = last_.find(subject);
  if (it != last_.end() && now - it->second < interval_) return false;  // said about it lately
  if (lines_ >= lines_per_interval_) {
    ++suppressed_;
    return false;
  }
  if (it == last_.end()) {
    if (last_.size() >= max_subjects_) {
      // Forget the subjects heard longest ago, half of them: a flood of names costs bounded memory.
      std::multimap<SteadyTime, std::string> by_age;
      for (const auto& [name, at] : last_) by_age.emplace(at, name);
      size_t drop = last_.size() / 2;
      for (auto a = by_age.begin(); a != by_age.end() && drop > 0; ++a, --drop) last_.erase(a->second);
    }
    it = last_.emplace(std::string(subject), now).first;
  }
  it->second = now;
  ++lines_;
  return true;
}

}  // namespace hale::aggregator
