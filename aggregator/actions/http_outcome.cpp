#include "http_outcome.h"

#include <algorithm>
#include <cctype>

namespace hale::aggregator {

HttpRequest boundedRequest(const ActionRequest& r, std::string method, std::string url) {
  HttpRequest req;
  req.method = std::move(method);
  req.url = std::move(url);
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(r.deadline - r.clock->steadyNow());
  req.timeout = std::max(left, std::chrono::milliseconds{1});
  req.cancel = r.cancel;
  req.max_body = size_t{256} << 10;
  return req;
}

std::chrono::milliseconds retryAfter(const HttpResponse& resp) {
  const std::string v = resp.header("retry-after");
  if (v.empty() || v.size() > 6 || !std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c); }))
    return std::chrono::milliseconds{0};
  return std::chrono::seconds{std::stoll(v)};
}

std::string jsonText(const nlohmann::json& j, const char* key, const std::string& fallback) {
  if (!j.is_object()) return fallback;
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

std::string excerpt(std::string_view text, size_t max) {
  text = text.substr(0, text.find('\n'));
  std::string out(text.substr(0, max));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return out;
}

ActionResult classifyHttp(const HttpResponse& resp, std::string_view what, std::string_view problem) {
  std::string detail(what);
  if (resp.status == 0) {
    detail += resp.cancelled ? ": cancelled" : resp.timed_out ? ": no answer within the timeout" : ": " + resp.error;
    return {ActionStatus::retryable, detail};
  }
  detail += ": HTTP " + std::to_string(resp.status);
  if (!problem.empty()) detail += " " + excerpt(problem);
  if (resp.status >= 200 && resp.status < 300) return {ActionStatus::applied, detail};
  if (resp.status == 408 || resp.status == 429 || resp.status >= 500)
    return {ActionStatus::retryable, detail, retryAfter(resp)};
  return {ActionStatus::permanent, detail};
}

}  // namespace hale::aggregator
