// webhook: POSTs the event as JSON.
//   url = "https://hooks.example.com/hale"
//   format = "json" | "slack"   json: {"event","from","to","reason","plan_id","step","request_id","forced"};
//                               slack: {"text": "hale: failover eu -> us (region eu down ...)"}
//   header_file = "webhook-auth"  (optional: one "Name: value" header, e.g. a bearer token, from a secret file)
// 2xx: applied. 429, 5xx and no answer: retryable (Retry-After honoured). Other answers: permanent.

#include <nlohmann/json.hpp>

#include "action_registry.h"
#include "http_client.h"
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
      body = {{"text", "hale: " + r.event + " " + r.from + " -> " + r.to + " (" + r.reason + ")" +
                           (r.forced ? " [forced]" : "")}};
    } else {
      body = {{"event", r.event},           {"from", r.from},       {"to", r.to},
              {"reason", r.reason},         {"plan_id", r.plan_id}, {"step", r.step},
              {"request_id", r.request_id}, {"forced", r.forced}};
    }
    HttpRequest req;
    req.method = "POST";
    req.url = url_;
    req.headers = {"Content-Type: application/json", "Idempotency-Key: hale-" + r.request_id};
    if (!header_.empty()) req.headers.push_back(header_);
    req.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    req.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(r.deadline - r.clock->steadyNow());
    req.cancel = r.cancel;
    req.max_body = 4096;
    const HttpResponse resp = httpPerform(req);
    if (resp.status == 0)
      return {ActionStatus::retryable, resp.timed_out ? "no answer within the timeout" : resp.error};
    const std::string status = "HTTP " + std::to_string(resp.status);
    if (resp.status >= 200 && resp.status < 300) return {ActionStatus::applied, status};
    if (resp.status == 429 || resp.status >= 500) {
      ActionResult result{ActionStatus::retryable, status};
      const std::string retry_after = resp.header("retry-after");
      if (!retry_after.empty() && std::all_of(retry_after.begin(), retry_after.end(), ::isdigit)) {
        result.retry_after = std::chrono::seconds{std::stoll(retry_after)};
      }
      return result;
    }
    return {ActionStatus::permanent, status};
  }

 private:
  std::string url_;
  bool slack_;
  std::string header_;
};

}  // namespace

std::unique_ptr<Action> makeWebhookAction(ConfigTable& t) {
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
