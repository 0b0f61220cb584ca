#pragma once

// Questions asked of several hale-aggregators at once, for the coordination tests: who leads, what each
// journaled, how the newest plan ended. An aggregator that does not answer is never read as "nothing".

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hale_processes.h"

namespace hale::test {

class AggregatorGroup {
 public:
  explicit AggregatorGroup(const std::vector<std::unique_ptr<AggregatorProcess>>& members) : members_(members) {}

  // `status` of member i; an empty object when it does not answer.
  nlohmann::json status(size_t i) const;
  // The index of the running member that leads; -1 when none does.
  int leader() const;
  // Member i's journal (oldest first); a discarded value when it cannot be read.
  nlohmann::json journal(size_t i) const;
  // Events named `event` in member i's journal; -1 when it cannot be read (so `== 0` cannot pass by it).
  int count(size_t i, const std::string& event) const;
  // Some running member says its newest plan is in `state`.
  bool planState(const std::string& state) const;
  // The leader once its journal holds `event`; -1 when that takes longer than `within`.
  int leaderOnceItJournals(const std::string& event, std::chrono::milliseconds within) const;

 private:
  const std::vector<std::unique_ptr<AggregatorProcess>>& members_;
};

}  // namespace hale::test
