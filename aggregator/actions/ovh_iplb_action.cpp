// ovh_iplb: sets the status of OVH IP Load Balancing farm servers (active / inactive), then applies the
// staged change with POST /ipLoadbalancing/{service}/refresh and waits for its task to be done.
//   endpoint / application_key / application_secret_file / consumer_key_file: see ovh_api.h
//   service_name = "loadbalancer-0123abcd"
//   farm_type = "http" | "tcp"   farm_id = 11
//   servers = [21, 22]
//   status = "active" | "inactive"
// Reads each server first and writes only those whose status differs; nothing differs and no refresh is
// owed for this request -> already_applied. A refresh task that ends in error or is cancelled is
// permanent; one still todo, doing or blocked at the deadline is retryable, and the retry waits for the
// same task.

#include "action_registry.h"
#include "http_outcome.h"
#include "ovh_api.h"
#include "request_memo.h"

namespace hale::aggregator {
namespace {

struct Options {
  std::string service;
  std::string farm_type = "http";
  int64_t farm_id = 0;
  std::vector<int64_t> servers;
  std::string status;
};

class OvhIplbAction final : public Action {
 public:
  OvhIplbAction(std::unique_ptr<OvhApi> api, Options o) : api_(std::move(api)), o_(std::move(o)) {}

  ActionResult execute(const ActionRequest& req) override {
    std::string changed;
    for (int64_t server : o_.servers) {
      const std::string what = "server " + std::to_string(server);
      OvhApi::Answer current = api_->call(req, "GET", path(server), nullptr, "GET " + what);
      if (current.failure) return *current.failure;
      if (!current.body.is_object()) return {ActionStatus::retryable, "GET " + what + ": not a farm server"};
      if (jsonText(current.body, "status", "") == o_.status) continue;
      tasks_.set(req.request_id, 0);  // staged from here on: the refresh is owed even if a later call fails
      OvhApi::Answer put = api_->call(req, "PUT", path(server), {{"status", o_.status}}, "PUT " + what);
      if (put.failure) return *put.failure;
      changed += (changed.empty() ? "" : ", ") + std::to_string(server);
    }
    std::optional<int64_t> task = tasks_.get(req.request_id);
    if (!task) return {ActionStatus::already_applied, "servers already " + o_.status};
    if (*task == 0) {
      OvhApi::Answer refresh =
          api_->call(req, "POST", "/ipLoadbalancing/" + o_.service + "/refresh", nullptr, "POST refresh");
      if (refresh.failure) return *refresh.failure;
      if (!refresh.body.is_object() || !refresh.body.contains("id") || !refresh.body["id"].is_number_integer())
        return {ActionStatus::retryable, "POST refresh: answer has no task id"};
      task = refresh.body["id"].get<int64_t>();
      tasks_.set(req.request_id, *task);
      if (jsonText(refresh.body, "status", "") == "done") {
        tasks_.forget(req.request_id);
        return {ActionStatus::applied,
                "servers " + changed + " " + o_.status + ", refresh task " + std::to_string(*task) + " done"};
      }
    }
    ActionResult waited = waitForTask(req, *task);
    if (waited.status == ActionStatus::applied && !changed.empty())
      waited.detail = "servers " + changed + " " + o_.status + ", " + waited.detail;
    return waited;
  }

  ActionResult verify(const ActionRequest& req) override {
    for (int64_t server : o_.servers) {
      OvhApi::Answer current = api_->call(req, "GET", path(server), nullptr, "GET server " + std::to_string(server));
      if (current.failure) return *current.failure;
      const std::string status = current.body.is_object() ? jsonText(current.body, "status", "?") : "?";
      if (status != o_.status)
        return {ActionStatus::permanent, "server " + std::to_string(server) + " is " + status + ", not " + o_.status};
    }
    return {ActionStatus::applied, "servers " + o_.status};
  }

 private:
  std::string path(int64_t server) const {
    return "/ipLoadbalancing/" + o_.service + "/" + o_.farm_type + "/farm/" + std::to_string(o_.farm_id) + "/server/" +
           std::to_string(server);
  }

  ActionResult waitForTask(const ActionRequest& req, int64_t task) {
    const std::string what = "refresh task " + std::to_string(task);
    for (;;) {
      OvhApi::Answer t = api_->call(req, "GET", "/ipLoadbalancing/" + o_.service + "/task/" + std::to_string(task),
                                    nullptr, "GET " + what);
      if (t.failure) return *t.failure;
      const std::string status = t.body.is_object() ? jsonText(t.body, "status", "") : "";
      if (status == "done") {
        tasks_.forget(req.request_id);
        return {ActionStatus::applied, what + " done"};
      }
      if (status == "error" || status == "cancelled") {
        tasks_.forget(req.request_id);  // a new attempt stages and refreshes again
        return {ActionStatus::permanent, what + " " + status};
      }
      if (!pauseBeforePoll(req, std::chrono::milliseconds{500}))
        return {ActionStatus::retryable, what + " still " + (status.empty() ? "unknown" : status)};
    }
  }

  std::unique_ptr<OvhApi> api_;
  Options o_;
  RequestMemo<int64_t> tasks_;  // the refresh owed (0: not yet asked for) or the task to wait for
};

}  // namespace

std::unique_ptr<Action> makeOvhIplbAction(ConfigTable& t, const ActionEnvironment&) {
  auto api = std::make_unique<OvhApi>();
  Options o;
  bool ok = api->read(t);
  ok &= t.get("service_name", o.service, Presence::required);
  t.getEnum("farm_type", o.farm_type, {"http", "tcp"});
  ok &= t.get("farm_id", o.farm_id, Presence::required, 1, INT64_MAX);
  ok &= t.get("servers", o.servers, Presence::required, 1, INT64_MAX);
  if (ok && o.servers.empty()) {
    t.error("servers", "must name at least one server id");
    ok = false;
  }
  ok &= t.getEnum("status", o.status, {"active", "inactive"}, Presence::required);
  if (!ok) return nullptr;
  return std::make_unique<OvhIplbAction>(std::move(api), std::move(o));
}

}  // namespace hale::aggregator
