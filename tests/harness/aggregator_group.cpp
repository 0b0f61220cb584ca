#include "aggregator_group.h"

#include "control_client.h"
#include "process.h"

namespace hale::test {

using std::chrono::milliseconds;

nlohmann::json AggregatorGroup::status(size_t i) const {
  auto r = control::call(members_.at(i)->socket(), "status", nlohmann::json::object(), milliseconds{2000});
  return r && r.value().is_object() ? r.value() : nlohmann::json::object();
}

int AggregatorGroup::leader() const {
  for (size_t i = 0; i < members_.size(); ++i) {
    if (members_[i]->running() && status(i).value("coordination", nlohmann::json::object()).value("leading", false))
      return static_cast<int>(i);
  }
  return -1;
}

nlohmann::json AggregatorGroup::journal(size_t i) const {
  const nlohmann::json j = members_.at(i)->json({"journal", "--limit", "1000"});
  return j.is_array() ? j : nlohmann::json(nlohmann::json::value_t::discarded);
}

int AggregatorGroup::count(size_t i, const std::string& event) const {
  const nlohmann::json j = journal(i);
  if (!j.is_array()) return -1;
  int n = 0;
  for (const auto& e : j) n += e.value("event", "") == event ? 1 : 0;
  return n;
}

bool AggregatorGroup::planState(const std::string& state) const {
  for (const auto& m : members_) {
    if (!m->running()) continue;
    const nlohmann::json p = m->json({"plans", "--limit", "1"});
    if (p.is_array() && !p.empty() && p[0].value("state", "") == state) return true;
  }
  return false;
}

int AggregatorGroup::leaderOnceItJournals(const std::string& event, milliseconds within) const {
  int l = -1;
  const bool found = waitFor(
      [&] {
        l = leader();
        return l >= 0 && count(static_cast<size_t>(l), event) >= 1;
      },
      within);
  return found ? l : -1;
}

}  // namespace hale::test
