#include "clock.h"

namespace hale {

const SystemClock& SystemClock::instance() {
  static const SystemClock clock;
  return clock;
}

ManualClock::ManualClock(WallTime wall_start) : steady_(std::chrono::hours{1}), wall_(wall_start) {}

SteadyTime ManualClock::steadyNow() const {
  std::lock_guard lock(mu_);
  return steady_;
}

WallTime ManualClock::wallNow() const {
  std::lock_guard lock(mu_);
  return wall_;
}

void ManualClock::advance(std::chrono::nanoseconds d) {
  std::lock_guard lock(mu_);
  if (d.count() < 0) return;  // steady time never goes backwards
  steady_ += d;
  wall_ += std::chrono::duration_cast<WallTime::duration>(d);
}

void ManualClock::jumpWall(std::chrono::nanoseconds d) {
  std::lock_guard lock(mu_);
  wall_ += std::chrono::duration_cast<WallTime::duration>(d);
}

int64_t toUnixMillis(WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

WallTime fromUnixMillis(int64_t ms) {
  return WallTime{std::chrono::duration_cast<WallTime::duration>(std::chrono::milliseconds{ms})};
}

}  // namespace hale
