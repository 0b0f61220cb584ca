#include "reconnect_backoff.h"

#include <algorithm>

#include "check_util.h"

namespace hale::agent {

void ReconnectBackoff::failed(SteadyTime now, std::string why) {
  // No wait after the first failure, then 1 s doubling to the cap; the count stops growing long before
  // the shift could overflow.
  failures_ = failures_ < 1000 ? failures_ + 1 : failures_;
  const auto wait =
      failures_ == 1 ? std::chrono::milliseconds{0} : std::min(kMax, kFirst * (1 << std::min(failures_ - 2, 3)));
  next_attempt_ = now + wait;
  last_error_ = std::move(why);
}

void ReconnectBackoff::succeeded() {
  failures_ = 0;
  last_error_.clear();
}

std::string ReconnectBackoff::waitingMessage(SteadyTime now) const {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next_attempt_ - now);
  return last_error_ + " (not connected; next attempt in " +
         humanDuration(std::max(left, std::chrono::milliseconds{0})) + ")";
}

}  // namespace hale::agent
