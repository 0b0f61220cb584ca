#pragma once

// Every action type, registered explicitly in one table (action_registry.cpp). Adding a provider: its own
// file here, one line in the table, one line in CMake, and its test.

#include <memory>
#include <span>
#include <string_view>

#include "action.h"
#include "config_reader.h"
#include "etcd_config.h"

namespace hale::aggregator {

// What an action may use beyond its own table: the coordination store, for the promotions that wait for
// the old primary's lease (nullptr when the aggregator has no [etcd]).
struct ActionEnvironment {
  const etcd::StoreConfig* etcd = nullptr;
};

// Reads the type's own keys from `table` and builds the action; nullptr when they are invalid (the
// errors are recorded in the table's ConfigErrors).
using ActionFactory = std::unique_ptr<Action> (*)(ConfigTable& table, const ActionEnvironment& env);

struct ActionType {
  std::string_view name;
  ActionFactory create;
  // What a done step of this type changes, tracked per region in status (resource_board.h): "database",
  // "dns", "load_balancer"; empty for side effects that move nothing (notifications, scripts, markers).
  std::string_view resource;
};

std::span<const ActionType> actionTypes();
const ActionType* findActionType(std::string_view name);

std::unique_ptr<Action> makeExecAction(ConfigTable& table, const ActionEnvironment& env);
std::unique_ptr<Action> makeLinodeDnsAction(ConfigTable& table, const ActionEnvironment& env);
std::unique_ptr<Action> makeLinodeNodeBalancerAction(ConfigTable& table, const ActionEnvironment& env);
std::unique_ptr<Action> makeMysqlPromoteAction(ConfigTable& table, const ActionEnvironment& env);
std::unique_ptr<Action> makeOvhDnsAction(ConfigTable& table, const ActionEnvironment& env);
std::unique_ptr<Action> makeOvhIplbAction(ConfigTable& table, const ActionEnvironment& env);
std::unique_ptr<Action> makePostgresPromoteAction(ConfigTable& table, const ActionEnvironment& env);
std::unique_ptr<Action> makeRecordAction(ConfigTable& table, const ActionEnvironment& env);
std::unique_ptr<Action> makeRfc2136Action(ConfigTable& table, const ActionEnvironment& env);
std::unique_ptr<Action> makeRoute53Action(ConfigTable& table, const ActionEnvironment& env);
std::unique_ptr<Action> makeWebhookAction(ConfigTable& table, const ActionEnvironment& env);

}  // namespace hale::aggregator
