#pragma once

// Where each resource a failover moves (the database primary, a DNS record, a load balancer) was last put,
// step by step: a plan that stopped half-way ("promoted, DNS failed") leaves the database in the new
// region and DNS in the old, while the active region changes only when a plan completes. Fed by the plan
// runner as steps complete and, at start-up, from the journal's done steps; shown in `status`. A plan
// resumed (or a later one) continues from the journal's step states, not from this board: it only tells.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace hale::aggregator {

struct ResourcePlacement {
  std::string region;  // the target region of the plan whose step last changed it
  std::string action;  // that step's action
  int64_t plan_id = 0;
  int step = 0;
  int64_t at_ms = 0;  // Unix ms the step completed
};

class ResourceBoard {
 public:
  // A step of `resource` completed; an empty resource (a notification, a script) is not tracked.
  void record(const std::string& resource, ResourcePlacement p);
  // The resources last put somewhere other than `active`, by name.
  std::vector<std::string> elsewhere(const std::string& active) const;
  nlohmann::json json() const;

 private:
  std::map<std::string, ResourcePlacement> placed_;
};

}  // namespace hale::aggregator
