#include "action.h"

#include <thread>

namespace hale::aggregator {

std::string_view toString(ActionStatus s) {
  switch (s) {
    case ActionStatus::applied: return "applied";
    case ActionStatus::already_applied: return "already_applied";
    case ActionStatus::retryable: return "retryable";
    case ActionStatus::permanent: return "permanent";
  }
  return "?";
}

bool pauseBeforePoll(const ActionRequest& r, std::chrono::milliseconds interval) {
  const SteadyTime next = r.clock->steadyNow() + interval;
  if (next >= r.deadline) return false;
  while (r.clock->steadyNow() < next) {
    if (r.cancel != nullptr && r.cancel->load()) return false;
    std::this_thread::sleep_for(std::min(interval, std::chrono::milliseconds{20}));
  }
  return true;
}

}  // namespace hale::aggregator
