#pragma once

// Every check type, registered explicitly in one table (check_registry.cpp). Adding a type: its own file
// in checks/, one line in the table, one line in CMake, and its test.

#include <memory>
#include <span>
#include <string_view>

#include "agent_config.h"

namespace hale::agent {

// Reads the type's own keys from `table` and builds the check. Returns nullptr when the keys are
// invalid; the errors are already recorded in the table's ConfigErrors.
using CheckFactory = std::unique_ptr<Check> (*)(ConfigTable& table, const CheckSettings& settings);

struct CheckType {
  std::string_view name;
  CheckFactory create;
};

std::span<const CheckType> checkTypes();
const CheckType* findCheckType(std::string_view name);

}  // namespace hale::agent
