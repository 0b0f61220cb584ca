// ovh_dns: points one record of an OVH DNS zone at the target region, then refreshes the zone (an OVH
// record change is live only after POST /domain/zone/{zone}/refresh).
//   endpoint / application_key / application_secret_file / consumer_key_file: see ovh_api.h
//   zone = "example.com"
//   record_id = 1234                         (or sub_domain + record_type: looked up once, then remembered)
//   sub_domain = "app"   record_type = "A"
//   target = "198.51.100.7"   ttl = 60       (ttl optional: leave as it is)
// Reads the record first: already right -> already_applied, nothing written, unless this process changed
// it for the same request and the refresh has not succeeded yet (then only the refresh is sent).

#include <mutex>

#include "action_registry.h"
#include "http_outcome.h"
#include "ovh_api.h"
#include "request_memo.h"

namespace hale::aggregator {
namespace {

struct Options {
  std::string zone;
  int64_t record_id = 0;
  std::string sub_domain;
  std::string type = "A";
  std::string target;
  int64_t ttl = -1;  // -1: leave as it is
};

class OvhDnsAction final : public Action {
 public:
  OvhDnsAction(std::unique_ptr<OvhApi> api, Options o) : api_(std::move(api)), o_(std::move(o)) {}

  ActionResult execute(const ActionRequest& req) override {
    int64_t id = 0;
    if (auto failed = resolveId(req, id)) return *failed;
    const std::string path = "/domain/zone/" + o_.zone + "/record/" + std::to_string(id);
    OvhApi::Answer current = api_->call(req, "GET", path, nullptr, "GET record " + std::to_string(id));
    if (current.failure) return *current.failure;
    if (!current.body.is_object())
      return {ActionStatus::retryable, "GET record " + std::to_string(id) + ": not a record"};
    std::string detail =
        "record " + std::to_string(id) + " " + jsonText(current.body, "target", "?") + " -> " + o_.target;
    if (matches(current.body)) {
      if (!refresh_owed_.get(req.request_id))
        return {ActionStatus::already_applied, "record " + std::to_string(id) + " already " + o_.target};
      detail = "record " + std::to_string(id) + " " + o_.target + " (refresh retried)";
    } else {
      nlohmann::json body = {{"target", o_.target}};
      if (o_.ttl >= 0) body["ttl"] = o_.ttl;
      refresh_owed_.set(req.request_id, true);  // before the write: a failed refresh must be retried
      OvhApi::Answer put = api_->call(req, "PUT", path, body, "PUT record " + std::to_string(id));
      if (put.failure) return *put.failure;
    }
    OvhApi::Answer refresh =
        api_->call(req, "POST", "/domain/zone/" + o_.zone + "/refresh", nullptr, "POST zone refresh");
    if (refresh.failure) return *refresh.failure;
    refresh_owed_.forget(req.request_id);
    return {ActionStatus::applied, detail + ", zone refreshed"};
  }

  ActionResult verify(const ActionRequest& req) override {
    int64_t id = 0;
    if (auto failed = resolveId(req, id)) return *failed;
    OvhApi::Answer current = api_->call(req, "GET", "/domain/zone/" + o_.zone + "/record/" + std::to_string(id),
                                        nullptr, "GET record " + std::to_string(id));
    if (current.failure) return *current.failure;
    if (!matches(current.body)) {
      return {ActionStatus::permanent,
              "record " + std::to_string(id) + " is " + jsonText(current.body, "target", "?") + ", not " + o_.target};
    }
    return {ActionStatus::applied, "record " + std::to_string(id) + " " + o_.target};
  }

 private:
  bool matches(const nlohmann::json& record) const {
    if (!record.is_object() || jsonText(record, "target", "") != o_.target) return false;
    return o_.ttl < 0 ||
           (record.contains("ttl") && record["ttl"].is_number_integer() && record["ttl"].get<int64_t>() == o_.ttl);
  }

  std::optional<ActionResult> resolveId(const ActionRequest& req, int64_t& id) {
    {
      std::lock_guard lock(mu_);
      if (o_.record_id != 0) {
        id = o_.record_id;
        return std::nullopt;
      }
    }
    // Query parameters in key order, like every signed client.
    OvhApi::Answer list = api_->call(
        req, "GET", "/domain/zone/" + o_.zone + "/record?fieldType=" + o_.type + "&subDomain=" + o_.sub_domain, nullptr,
        "GET records " + o_.sub_domain + " " + o_.type);
    if (list.failure) return list.failure;
    if (!list.body.is_array() || list.body.size() != 1 || !list.body[0].is_number_integer()) {
      return ActionResult{ActionStatus::permanent, std::to_string(list.body.is_array() ? list.body.size() : 0) +
                                                       " records " + o_.sub_domain + " " + o_.type + " in zone " +
                                                       o_.zone + " (exactly one expected; set record_id)"};
    }
    std::lock_guard lock(mu_);
    o_.record_id = id = list.body[0].get<int64_t>();
    return std::nullopt;
  }

  std::unique_ptr<OvhApi> api_;
  std::mutex mu_;
  Options o_;
  RequestMemo<bool> refresh_owed_;  // the record was written, the refresh has not succeeded yet
};

}  // namespace

std::unique_ptr<Action> makeOvhDnsAction(ConfigTable& t, const ActionEnvironment&) {
  auto api = std::make_unique<OvhApi>();
  Options o;
  bool ok = api->read(t);
  ok &= t.get("zone", o.zone, Presence::required);
  t.get("record_id", o.record_id, Presence::optional, 1, INT64_MAX);
  t.get("sub_domain", o.sub_domain);
  t.getEnum("record_type", o.type, {"A", "AAAA", "CNAME"});
  if (o.record_id == 0 && o.sub_domain.empty()) {
    t.error("record_id", "set record_id, or sub_domain (and record_type) to look the record up");
    ok = false;
  }
  ok &= t.get("target", o.target, Presence::required);
  t.get("ttl", o.ttl, Presence::optional, 0, 86400);
  if (!ok) return nullptr;
  return std::make_unique<OvhDnsAction>(std::move(api), std::move(o));
}

}  // namespace hale::aggregator
