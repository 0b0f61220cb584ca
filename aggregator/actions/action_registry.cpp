#include "action_registry.h"

namespace hale::aggregator {
namespace {

constexpr ActionType kActionTypes[] = {
    {"exec", makeExecAction, ""},
    {"linode_dns", makeLinodeDnsAction, "dns"},
    {"linode_nodebalancer", makeLinodeNodeBalancerAction, "load_balancer"},
    {"mysql_promote", makeMysqlPromoteAction, "database"},
    {"ovh_dns", makeOvhDnsAction, "dns"},
    {"ovh_iplb", makeOvhIplbAction, "load_balancer"},
    {"postgres_promote", makePostgresPromoteAction, "database"},
    {"record", makeRecordAction, ""},
    {"rfc2136", makeRfc2136Action, "dns"},
    {"route53", makeRoute53Action, "dns"},
    {"webhook", makeWebhookAction, ""},
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
