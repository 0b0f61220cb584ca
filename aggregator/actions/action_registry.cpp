#include "action_registry.h"

namespace hale::aggregator {
namespace {

constexpr ActionType kActionTypes[] = {
    {"exec", makeExecAction},
    {"linode_dns", makeLinodeDnsAction},
    {"linode_nodebalancer", makeLinodeNodeBalancerAction},
    {"mysql_promote", makeMysqlPromoteAction},
    {"ovh_dns", makeOvhDnsAction},
    {"ovh_iplb", makeOvhIplbAction},
    {"postgres_promote", makePostgresPromoteAction},
    {"record", makeRecordAction},
    {"rfc2136", makeRfc2136Action},
    {"route53", makeRoute53Action},
    {"webhook", makeWebhookAction},
};

}  // namespace

std::span<const ActionType> actionTypes() { return kActionTypes; }

const ActionType* findActionType(std::string_view name) {
  for (const ActionType& t : kActionTypes) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace hale::aggregator
