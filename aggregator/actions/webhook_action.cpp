// webhook: POSTs the event as JSON.
//   url = "https://hooks.example.com/hale"
//   format = "json" | "slack"   json: {"event","from","to","reason","plan_id","step","request_id","forced"},
//                                     and for an alert "alert_key" and "observer" (alerter.h);
//                               slack: {"text": "hale: failover eu -> us (region eu down ...)"}, an alert's
//                                     ending "[seen by <observer>]"
//   header_file = "webhook-auth"  (optional: one "Name: value" header, e.g. a bearer token, from a secret file)
// Answers are classified by http_outcome.h: 2xx applied; no answer, 408, 429, 5xx retryable (Retry-After
// honoured); anything else permanent.

#include <nlohmann/json.hpp>

#include "action_registry.h"
#include "http_client.h"
#include "http_outcome.h"
#include "secret_file.h"

namespace hale::aggregator {
namespace {

class WebhookAction final : public Action {
 public:
  WebhookAction(std::string url, bool slack, std::string header)
      : url_(std::move(url)), slack_(slack), header_(std::move(header)) {}

  ActionResult execute(const ActionRequest& r) override {
    nlohmann::json body;
    if (slack_) {
      body = {{"text", "hale: " + r.event + " " + r.from + (r.to.empty() ? "" : " -> " + r.to) + " (" + r.reason + ")" +
                           (r.forced ? " [forced]" : "") +
                           (r.observer.empty() ? std::string() : " [seen by " + r.observer + "]")}};
    } else {
      body = {{"event", r.event},           {"from", r.from},       {"to", r.to},
              {"reason", r.reason},         {"plan_id", r.plan_id}, {"step", r.step},
              {"request_id", r.request_id}, {"forced", r.forced}};
      if (!r.alert_key.empty()) {
        body["alert_key"] = r.alert_key;
        body["observer"] = r.observer;
      }
    }
    HttpRequest req = boundedRequest(r, "POST", url_);
    req.headers = {"Content-Type: application/json", "Idempotency-Key: hale-" + r.request_id};
    if (!header_.empty()) req.headers.push_back(header_);
    req.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    req.max_body = 4096;
    return classifyHttp(httpPerform(req), "POST webhook");
  }

 private:
  std::string url_;
  bool slack_;
  std::string header_;
};

}  // namespace

std::unique_ptr<Action> makeWebhookAction(ConfigTable& t, const ActionEnvironment&) {
  std::string url;
  std::string format = "json";
  std::string header_file;
  bool ok = t.get("url", url, Presence::required);
  if (ok && url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    t.error("url", "must start with http:// or https://");
    ok = false;
  }
  t.getEnum("format", format, {"json", "slack"});
  std::string header;
  if (t.get("header_file", header_file)) {
    auto secret = readSecretFile(header_file);
    if (!secret) {
      t.error("header_file", secret.error().message);
      ok = false;
    } else if (secret.value().find(':') == std::string::npos || secret.value().find('\n') != std::string::npos) {
      t.error("header_file", "must hold one \"Name: value\" line");
      ok = false;
    } else {
      header = secret.value();
    }
  }
  if (!ok) return nullptr;
  return std::make_unique<WebhookAction>(url, format == "slack", header);
}

}  // namespace hale::aggregator
