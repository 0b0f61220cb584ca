#include "linode_api.h"

#include "http_outcome.h"
#include "secret_file.h"

namespace hale::aggregator {

bool readLinodeEndpoint(ConfigTable& t, LinodeEndpoint& out) {
  bool ok = true;
  if (t.get("api_url", out.api_url) && out.api_url.rfind("http://", 0) != 0 && out.api_url.rfind("https://", 0) != 0) {
    t.error("api_url", "must start with http:// or https://");
    ok = false;
  }
  while (!out.api_url.empty() && out.api_url.back() == '/') out.api_url.pop_back();
  std::string token_file;
  if (!t.get("token_file", token_file, Presence::required)) return false;
  auto token = readSecretFile(token_file);
  if (!token) {
    t.error("token_file", token.error().message);
    return false;
  }
  out.token = token.value();
  return ok;
}

LinodeAnswer linodeCall(const ActionRequest& r, const LinodeEndpoint& api, const std::string& method,
                        const std::string& path, const nlohmann::json& body, const std::string& what) {
  HttpRequest req = boundedRequest(r, method, api.api_url + path);
  req.headers = {"Authorization: Bearer " + api.token, "Accept: application/json"};
  if (!body.is_null()) {
    req.headers.emplace_back("Content-Type: application/json");
    req.body = body.dump();
  }
  return linodeAnswer(httpPerform(req), what);
}

LinodeAnswer linodeAnswer(const HttpResponse& resp, const std::string& what) {
  LinodeAnswer out;
  const bool ok = resp.status >= 200 && resp.status < 300;
  out.body = nlohmann::json::parse(resp.body, nullptr, false);
  // Every Linode API v4 answer is a JSON object (lists come paginated inside one).
  if (ok && out.body.is_object()) return out;
  std::string problem;
  if (!ok && out.body.is_object() && out.body.contains("errors") && out.body["errors"].is_array()) {
    for (const auto& e : out.body["errors"]) {
      if (!e.is_object()) continue;
      if (!problem.empty()) problem += "; ";
      if (e.contains("field") && e["field"].is_string()) problem += e["field"].get<std::string>() + ": ";
      if (e.contains("reason") && e["reason"].is_string()) problem += e["reason"].get<std::string>();
    }
  }
  ActionResult failed = classifyHttp(resp, what, problem);
  // A 2xx that is not a JSON object: the API (or something in front of it) is not answering as Linode does.
  if (ok) failed = {ActionStatus::retryable, what + ": answer is not a JSON object"};
  out.failure = failed;
  return out;
}

}  // namespace hale::aggregator
