#include "ovh_api.h"

#include <cerrno>
#include <ctime>

#include "digest.h"
#include "http_outcome.h"
#include "secret_file.h"

namespace hale::aggregator {

std::string ovhSignature(const std::string& app_secret, const std::string& consumer_key, const std::string& method,
                         const std::string& url, const std::string& body, int64_t timestamp) {
  const std::string text =
      app_secret + "+" + consumer_key + "+" + method + "+" + url + "+" + body + "+" + std::to_string(timestamp);
  return "$1$" + sha1Hex(text);
}

bool OvhApi::read(ConfigTable& t) {
  bool ok = true;
  std::string endpoint = "ovh-eu";
  t.get("endpoint", endpoint);
  if (endpoint == "ovh-eu") {
    base_url_ = "https://eu.api.ovh.com/1.0";
  } else if (endpoint == "ovh-ca") {
    base_url_ = "https://ca.api.ovh.com/1.0";
  } else if (endpoint == "ovh-us") {
    base_url_ = "https://api.us.ovhcloud.com/1.0";
  } else if (endpoint.rfind("http://", 0) == 0 || endpoint.rfind("https://", 0) == 0) {
    base_url_ = endpoint;
    while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
  } else {
    t.error("endpoint", "must be ovh-eu, ovh-ca, ovh-us or a URL");
    ok = false;
  }
  ok &= t.get("application_key", app_key_, Presence::required);
  for (auto [key, out] :
       {std::pair{"application_secret_file", &app_secret_}, std::pair{"consumer_key_file", &consumer_key_}}) {
    std::string file;
    if (!t.get(key, file, Presence::required)) {
      ok = false;
      continue;
    }
    auto secret = readSecretFile(file);
    if (!secret) {
      t.error(key, secret.error().message);
      ok = false;
    } else {
      *out = secret.value();
    }
  }
  return ok;
}

std::optional<ActionResult> OvhApi::learnClockOffset(const ActionRequest& r) {
  const HttpResponse resp = httpPerform(boundedRequest(r, "GET", base_url_ + "/auth/time"));
  if (resp.status != 200) return classifyHttp(resp, "GET /auth/time", excerpt(resp.body));
  const std::optional<int64_t> server = parseOvhServerTime(resp.body);
  if (!server) return ActionResult{ActionStatus::retryable, "GET /auth/time: not a time: " + excerpt(resp.body, 40)};
  offset_ = *server - static_cast<int64_t>(std::time(nullptr));
  offset_known_ = true;
  return std::nullopt;
}

OvhApi::Answer OvhApi::call(const ActionRequest& r, const std::string& method, const std::string& path,
                            const nlohmann::json& body, const std::string& what) {
  Answer out;
  if (!offset_known_) {
    if (auto failed = learnClockOffset(r)) {
      out.failure = failed;
      return out;
    }
  }
  HttpRequest req = boundedRequest(r, method, base_url_ + path);
  if (!body.is_null()) req.body = body.dump();
  const int64_t ts = static_cast<int64_t>(std::time(nullptr)) + offset_.load();
  req.headers = {"Accept: application/json", "X-Ovh-Application: " + app_key_, "X-Ovh-Consumer: " + consumer_key_,
                 "X-Ovh-Timestamp: " + std::to_string(ts),
                 "X-Ovh-Signature: " + ovhSignature(app_secret_, consumer_key_, method, req.url, req.body, ts)};
  if (!body.is_null()) req.headers.emplace_back("Content-Type: application/json");
  bool clock_suspect = false;
  out = interpretAnswer(httpPerform(req), what, clock_suspect);
  if (clock_suspect) offset_known_ = false;  // our clock or the learned offset drifted: learn it again, then retry
  return out;
}

OvhApi::Answer OvhApi::interpretAnswer(const HttpResponse& resp, const std::string& what, bool& clock_suspect) {
  Answer out;
  const bool ok = resp.status >= 200 && resp.status < 300;
  out.body = resp.body.empty() ? nlohmann::json() : nlohmann::json::parse(resp.body, nullptr, false);
  if (ok && !out.body.is_discarded()) return out;
  if (ok) {
    out.failure = ActionResult{ActionStatus::retryable, what + ": answer is not JSON"};
    return out;
  }
  // OVH says what went wrong in errorCode and class; the HTTP status alone is not reliable.
  std::string code;
  std::string cls;
  std::string message;
  if (out.body.is_object()) {
    code = jsonText(out.body, "errorCode", "");
    cls = jsonText(out.body, "class", "");
    message = jsonText(out.body, "message", "");
  }
  const std::string query_id = resp.header("x-ovh-queryid");
  std::string problem = (code.empty() ? cls : code) + (message.empty() ? "" : ": " + message);
  if (!query_id.empty()) problem += " (query " + query_id + ")";
  ActionResult failed = classifyHttp(resp, what, problem);
  if (code == "QUERY_TIME_OUT" || code == "INVALID_TIMESTAMP") {
    clock_suspect = true;
    failed.status = ActionStatus::retryable;
  } else if (cls.rfind("Server::", 0) == 0) {
    failed.status = ActionStatus::retryable;
  }
  out.failure = failed;
  return out;
}

std::optional<int64_t> parseOvhServerTime(std::string_view body) {
  // Seconds since the epoch, between 2000 and 2200: anything else is not OVH's clock, and a wild value
  // would overflow the timestamps computed from the offset.
  constexpr int64_t kEarliest = 946684800;  // 2000-01-01
  constexpr int64_t kLatest = 7258118400;   // 2200-01-01
  const std::string text(body.substr(0, 32));
  char* end = nullptr;
  errno = 0;
  const long long server = std::strtoll(text.c_str(), &end, 10);
  if (end == text.c_str() || errno != 0 || server < kEarliest || server > kLatest) return std::nullopt;
  return server;
}

}  // namespace hale::aggregator
