#pragma once

// The factory of each check type, one per file in this folder; the registry lists them.

#include "check_registry.h"

namespace hale::agent {

std::unique_ptr<Check> makeDynamodbCheck(ConfigTable& table, const CheckSettings& settings);
std::unique_ptr<Check> makeExecCheck(ConfigTable& table, const CheckSettings& settings);
std::unique_ptr<Check> makeHttpCheck(ConfigTable& table, const CheckSettings& settings);
std::unique_ptr<Check> makeMysqlCheck(ConfigTable& table, const CheckSettings& settings);
std::unique_ptr<Check> makePostgresCheck(ConfigTable& table, const CheckSettings& settings);
std::unique_ptr<Check> makeTcpCheck(ConfigTable& table, const CheckSettings& settings);

}  // namespace hale::agent
