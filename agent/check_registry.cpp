#include "check_registry.h"

#include "checks/factories.h"
#include "fencer.h"

namespace hale::agent {
namespace {

constexpr CheckType kCheckTypes[] = {
    {"dynamodb", makeDynamodbCheck}, {"exec", makeExecCheck},         {"http", makeHttpCheck},
    {"mysql", makeMysqlCheck},       {"postgres", makePostgresCheck}, {"tcp", makeTcpCheck},
};

}  // namespace

std::unique_ptr<Fencer> Check::makeFencer() const { return nullptr; }

std::span<const CheckType> checkTypes() { return kCheckTypes; }

const CheckType* findCheckType(std::string_view name) {
  for (const CheckType& t : kCheckTypes) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace hale::agent
