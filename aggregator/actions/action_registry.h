#pragma once

// Every action type, registered explicitly in one table (action_registry.cpp). Adding a provider: its own
// file here, one line in the table, one line in CMake, and its test.

#include <memory>
#include <span>
#include <string_view>

#include "action.h"
#include "config_reader.h"

namespace hale::aggregator {

// Reads the type's own keys from `table` and builds the action; nullptr when they are invalid (the
// errors are recorded in the table's ConfigErrors).
using ActionFactory = std::unique_ptr<Action> (*)(ConfigTable& table);

struct ActionType {
  std::string_view name;
  ActionFactory create;
};

std::span<const ActionType> actionTypes();
const ActionType* findActionType(std::string_view name);

std::unique_ptr<Action> makeExecAction(ConfigTable& table);
std::unique_ptr<Action> makeLinodeDnsAction(ConfigTable& table);
std::unique_ptr<Action> makeLinodeNodeBalancerAction(ConfigTable& table);
std::unique_ptr<Action> makeMysqlPromoteAction(ConfigTable& table);
std::unique_ptr<Action> makeOvhDnsAction(ConfigTable& table);
std::unique_ptr<Action> makeOvhIplbAction(ConfigTable& table);
std::unique_ptr<Action> makePostgresPromoteAction(ConfigTable& table);
std::unique_ptr<Action> makeRecordAction(ConfigTable& table);
std::unique_ptr<Action> makeRfc2136Action(ConfigTable& table);
std::unique_ptr<Action> makeRoute53Action(ConfigTable& table);
std::unique_ptr<Action> makeWebhookAction(ConfigTable& table);

}  // namespace hale::aggregator
