// linode_dns: points one record of a Linode-hosted domain at the target region.
//   api_url = "https://api.linode.com/v4"   token_file = "linode-token"   (see linode_api.h)
//   domain_id = 1234
//   record_id = 5678                          (or record_name + record_type: looked up once, then remembered)
//   record_name = "app"   record_type = "A"   (the name within the domain, as Linode shows it)
//   target = "198.51.100.7"
//   ttl = 300          (optional; one of Linode's values, which it would otherwise round: 300, 3600, ...)
// Reads the record first: already right -> already_applied, nothing written. Otherwise one PUT of target
// (and ttl_sec), and verify() reads it back.

#include <algorithm>
#include <mutex>

#include "action_registry.h"
#include "http_outcome.h"
#include "linode_api.h"

namespace hale::aggregator {
namespace {

// The TTLs Linode keeps as given (published API); any other is rounded, which would never compare equal.
constexpr int64_t kLinodeTtls[] = {300,   3600,   7200,   14400,  28800,   57600,
                                   86400, 172800, 345600, 604800, 1209600, 2419200};

struct Options {
  LinodeEndpoint api;
  int64_t domain_id = 0;
  int64_t record_id = 0;  // 0: look up by name and type
  std::string name;
  std::string type = "A";
  std::string target;
  int64_t ttl = 0;  // 0: leave as it is
};

class LinodeDnsAction final : public Action {
 public:
  explicit LinodeDnsAction(Options o) : o_(std::move(o)) {}

  ActionResult execute(const ActionRequest& req) override {
    int64_t id = 0;
    LinodeAnswer current;
    if (auto failed = readRecord(req, id, current)) return *failed;
    if (matches(current.body)) return {ActionStatus::already_applied, describe(id) + " already " + o_.target};
    nlohmann::json body = {{"target", o_.target}};
    if (o_.ttl != 0) body["ttl_sec"] = o_.ttl;
    LinodeAnswer put = linodeCall(req, o_.api, "PUT", recordPath(id), body, "PUT record " + std::to_string(id));
    if (put.failure) return *put.failure;
    return {ActionStatus::applied, describe(id) + " " + jsonText(current.body, "target", "?") + " -> " + o_.target};
  }

  ActionResult verify(const ActionRequest& req) override {
    int64_t id = 0;
    LinodeAnswer current;
    if (auto failed = readRecord(req, id, current)) return *failed;
    if (!matches(current.body))
      return {ActionStatus::permanent,
              describe(id) + " is " + jsonText(current.body, "target", "?") + ", not " + o_.target};
    return {ActionStatus::applied, describe(id) + " " + o_.target};
  }

 private:
  std::string recordPath(int64_t id) const {
    return "/domains/" + std::to_string(o_.domain_id) + "/records/" + std::to_string(id);
  }

  std::optional<ActionResult> readRecord(const ActionRequest& req, int64_t& id, LinodeAnswer& out) {
    if (auto failed = resolveId(req, id)) return failed;
    out = linodeCall(req, o_.api, "GET", recordPath(id), nullptr, "GET record " + std::to_string(id));
    return out.failure;
  }

  bool matches(const nlohmann::json& record) const {
    if (!record.is_object() || jsonText(record, "target", "") != o_.target) return false;
    return o_.ttl == 0 || (record.contains("ttl_sec") && record["ttl_sec"].is_number_integer() &&
                           record["ttl_sec"].get<int64_t>() == o_.ttl);
  }

  std::string describe(int64_t id) const {
    return "record " + std::to_string(id) + (o_.name.empty() ? "" : " (" + o_.name + " " + o_.type + ")");
  }

  // The configured id, or the one record named name/type, found by walking the pages of the domain.
  std::optional<ActionResult> resolveId(const ActionRequest& req, int64_t& id) {
    {
      std::lock_guard lock(mu_);
      if (o_.record_id != 0) {
        id = o_.record_id;
        return std::nullopt;
      }
    }
    std::vector<int64_t> found;
    for (int64_t page = 1, pages = 1; page <= pages && page <= 100; ++page) {
      LinodeAnswer list = linodeCall(
          req, o_.api, "GET",
          "/domains/" + std::to_string(o_.domain_id) + "/records?page=" + std::to_string(page) + "&page_size=500",
          nullptr, "GET records of domain " + std::to_string(o_.domain_id));
      if (list.failure) return list.failure;
      if (!list.body.contains("data") || !list.body["data"].is_array())
        return ActionResult{ActionStatus::retryable, "GET records: answer has no data list"};
      for (const auto& rec : list.body["data"]) {
        if (rec.is_object() && jsonText(rec, "name", "") == o_.name && jsonText(rec, "type", "") == o_.type &&
            rec.contains("id") && rec["id"].is_number_integer())
          found.push_back(rec["id"].get<int64_t>());
      }
      if (list.body.contains("pages") && list.body["pages"].is_number_integer())
        pages = list.body["pages"].get<int64_t>();
    }
    if (found.size() != 1) {
      return ActionResult{ActionStatus::permanent, std::to_string(found.size()) + " records named " + o_.name + " " +
                                                       o_.type + " in domain " + std::to_string(o_.domain_id) +
                                                       (found.empty() ? "" : ": set record_id")};
    }
    std::lock_guard lock(mu_);
    o_.record_id = id = found.front();
    return std::nullopt;
  }

  std::mutex mu_;
  Options o_;
};

}  // namespace

std::unique_ptr<Action> makeLinodeDnsAction(ConfigTable& t, const ActionEnvironment&) {
  Options o;
  bool ok = readLinodeEndpoint(t, o.api);
  ok &= t.get("domain_id", o.domain_id, Presence::required, 1, INT64_MAX);
  t.get("record_id", o.record_id, Presence::optional, 1, INT64_MAX);
  t.get("record_name", o.name);
  t.getEnum("record_type", o.type, {"A", "AAAA", "CNAME"});
  if (o.record_id == 0 && o.name.empty()) {
    t.error("record_id", "set record_id, or record_name (and record_type) to look the record up");
    ok = false;
  }
  ok &= t.get("target", o.target, Presence::required);
  if (t.get("ttl", o.ttl, Presence::optional, 1, 2419200) &&
      std::find(std::begin(kLinodeTtls), std::end(kLinodeTtls), o.ttl) == std::end(kLinodeTtls)) {
    t.error("ttl",
            "Linode keeps only 300, 3600, 7200, 14400, 28800, 57600, 86400, 172800, 345600, 604800, 1209600 "
            "or 2419200 (it rounds other values)");
    ok = false;
  }
  if (!ok) return nullptr;
  return std::make_unique<LinodeDnsAction>(std::move(o));
}

}  // namespace hale::aggregator
