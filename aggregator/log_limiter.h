#pragma once

// Keeps warnings about what the network sends from flooding the log: each subject (a key, a node name) is
// logged at most once per interval, and at most `lines_per_interval` lines in all per interval; what was
// held back is summed up once the interval ends. The subjects remembered are bounded (the oldest half is
// forgotten when full), so a stream of made-up names cannot grow memory. Not thread-safe: one owner
// thread, or the owner's lock.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "clock.h"

namespace hale::aggregator {

class LogLimiter {
 public:
  LogLimiter(std::chrono::milliseconds interval, int lines_per_interval, size_t max_subjects = 1024)
      : interval_(interval), lines_per_interval_(lines_per_interval), max_subjects_(max_subjects) {}

  // Whether a line about `subject` may be logged now. When an interval ended with lines held back,
  // `held_back` is set to how many (the caller logs one summary line), else 0.
  bool allow(std::string_view subject, SteadyTime now, uint64_t& held_back);

 private:
  std::chrono::milliseconds interval_;
  int lines_per_interval_;
  size_t max_subjects_;
  std::map<std::string, SteadyTime, std::less<>> last_;
  SteadyTime window_start_{};
  int lines_ = 0;
  uint64_t suppressed_ = 0;
};

}  // namespace hale::aggregator
