// linode_nodebalancer: sets the mode of NodeBalancer backend nodes, e.g. reject the old region's nodes and
// accept the new region's (two steps of a plan).
//   api_url / token_file: see linode_api.h
//   nodebalancer_id = 11   config_id = 22
//   nodes = [33, 34]
//   mode = "accept" | "reject" | "drain" | "backup"
// Reads each node first and writes only those whose mode differs; verify() reads them all back.

#include "action_registry.h"
#include "http_outcome.h"
#include "linode_api.h"

namespace hale::aggregator {
namespace {

struct Options {
  LinodeEndpoint api;
  int64_t nodebalancer_id = 0;
  int64_t config_id = 0;
  std::vector<int64_t> nodes;
  std::string mode;
};

class LinodeNodeBalancerAction final : public Action {
 public:
  explicit LinodeNodeBalancerAction(Options o) : o_(std::move(o)) {}

  ActionResult execute(const ActionRequest& req) override {
    std::string changed;
    for (int64_t node : o_.nodes) {
      const std::string what = "node " + std::to_string(node);
      LinodeAnswer current = linodeCall(req, o_.api, "GET", path(node), nullptr, "GET " + what);
      if (current.failure) return *current.failure;
      if (jsonText(current.body, "mode", "") == o_.mode) continue;
      LinodeAnswer put = linodeCall(req, o_.api, "PUT", path(node), {{"mode", o_.mode}}, "PUT " + what);
      if (put.failure) return *put.failure;
      changed += (changed.empty() ? "" : ", ") + std::to_string(node) + " " + jsonText(current.body, "mode", "?") +
                 "->" + o_.mode;
    }
    if (changed.empty()) return {ActionStatus::already_applied, "nodes already " + o_.mode};
    return {ActionStatus::applied, "nodes " + changed};
  }

  ActionResult verify(const ActionRequest& req) override {
    for (int64_t node : o_.nodes) {
      LinodeAnswer current = linodeCall(req, o_.api, "GET", path(node), nullptr, "GET node " + std::to_string(node));
      if (current.failure) return *current.failure;
      if (jsonText(current.body, "mode", "") != o_.mode) {
        return {ActionStatus::permanent,
                "node " + std::to_string(node) + " is " + jsonText(current.body, "mode", "?") + ", not " + o_.mode};
      }
    }
    return {ActionStatus::applied, "nodes " + o_.mode};
  }

 private:
  std::string path(int64_t node) const {
    return "/nodebalancers/" + std::to_string(o_.nodebalancer_id) + "/configs/" + std::to_string(o_.config_id) +
           "/nodes/" + std::to_string(node);
  }

  Options o_;
};

}  // namespace

std::unique_ptr<Action> makeLinodeNodeBalancerAction(ConfigTable& t, const ActionEnvironment&) {
  Options o;
  bool ok = readLinodeEndpoint(t, o.api);
  ok &= t.get("nodebalancer_id", o.nodebalancer_id, Presence::required, 1, INT64_MAX);
  ok &= t.get("config_id", o.config_id, Presence::required, 1, INT64_MAX);
  ok &= t.get("nodes", o.nodes, Presence::required, 1, INT64_MAX);
  if (ok && o.nodes.empty()) {
    t.error("nodes", "must name at least one node id");
    ok = false;
  }
  ok &= t.getEnum("mode", o.mode, {"accept", "reject", "drain", "backup"}, Presence::required);
  if (!ok) return nullptr;
  return std::make_unique<LinodeNodeBalancerAction>(std::move(o));
}

}  // namespace hale::aggregator
