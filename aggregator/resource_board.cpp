#include "resource_board.h"

namespace hale::aggregator {

void ResourceBoard::record(const std::string& resource, ResourcePlacement p) {
  if (resource.empty()) return;
  placed_[resource] = std::move(p);
}

std::vector<std::string> ResourceBoard::elsewhere(const std::string& active) const {
  std::vector<std::string> out;
  for (const auto& [name, p] : placed_) {
    if (p.region != active) out.push_back(name);
  }
  return out;
}

nlohmann::json ResourceBoard::json() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, p] : placed_) {
    out[name] = {{"region", p.region}, {"action", p.action}, {"plan", p.plan_id}, {"step", p.step}, {"at_ms", p.at_ms}};
  }
  return out;
}

}  // namespace hale::aggregator
