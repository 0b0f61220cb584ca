// route53: points a record of a Route 53 hosted zone at the target region (ChangeResourceRecordSets UPSERT,
// signed with SigV4 by libcurl).
//   hosted_zone_id = "Z0123456789ABC"
//   record = "app.example.com"   record_type = "A"   (A, AAAA or CNAME)
//   values = ["198.51.100.7"]    ttl = 60
//   wait_insync = false   (true: the step finishes only when Route 53 reports the change INSYNC)
//   endpoint = "https://route53.amazonaws.com"   (another partition, or a test server)
//   access_key_file / secret_key_file / session_token_file / profile: see common/aws_credentials.h
// Reads the record set first: already right -> already_applied, nothing written. Throttling and
// PriorRequestNotComplete (HTTP 400 on Route 53) are retryable, like 429, 5xx and no answer; auth and
// validation errors are permanent. A change still PENDING at the deadline is retryable; the retry resumes
// waiting for the same change instead of writing again.

#include <arpa/inet.h>

#include <algorithm>
#include <optional>

#include "action_registry.h"
#include "aws_credentials.h"
#include "aws_error.h"
#include "digest.h"
#include "http_outcome.h"
#include "request_memo.h"
#include "route53_answers.h"

namespace hale::aggregator {
namespace {

std::string xmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

struct Options {
  std::string endpoint = "https://route53.amazonaws.com";
  std::string zone_id;  // without "/hostedzone/"
  std::string record;   // with the final dot
  std::string type = "A";
  std::vector<std::string> values;  // sorted
  int64_t ttl = 60;
  bool wait_insync = false;
  AwsCredentialSource credentials;
};

class Route53Action final : public Action {
 public:
  explicit Route53Action(Options o) : o_(std::move(o)) {}

  ActionResult execute(const ActionRequest& req) override {
    auto creds = resolveAwsCredentials(o_.credentials);
    if (!creds) return {ActionStatus::permanent, creds.error().message};
    if (auto change = pending_.get(req.request_id)) return waitInsync(req, creds.value(), *change);

    Route53RecordSet current;
    if (auto failed = readRecordSet(req, creds.value(), current)) return *failed;
    if (current.exists && current.values == o_.values && current.ttl == o_.ttl)
      return {ActionStatus::already_applied, o_.record + " " + o_.type + " already " + join(o_.values)};

    const HttpResponse resp =
        send(req, creds.value(), "POST", "/2013-04-01/hostedzone/" + o_.zone_id + "/rrset/", changeBatch(req));
    if (resp.status != 200) return failure(resp, "ChangeResourceRecordSets");
    const Route53Change info = parseChangeInfo(resp.body);
    const std::string& change = info.id;
    const std::string& status = info.status;
    const std::string done =
        o_.record + " " + o_.type + " -> " + join(o_.values) + " (change " + change + " " + status + ")";
    if (!o_.wait_insync || status == "INSYNC") return {ActionStatus::applied, done};
    pending_.set(req.request_id, change);
    return waitInsync(req, creds.value(), change);
  }

  ActionResult verify(const ActionRequest& req) override {
    auto creds = resolveAwsCredentials(o_.credentials);
    if (!creds) return {ActionStatus::permanent, creds.error().message};
    Route53RecordSet current;
    if (auto failed = readRecordSet(req, creds.value(), current)) return *failed;
    if (current.values != o_.values) {
      return {ActionStatus::permanent, o_.record + " answers " + (current.exists ? join(current.values) : "nothing") +
                                           ", not " + join(o_.values)};
    }
    return {ActionStatus::applied, o_.record + " " + o_.type + " " + join(o_.values)};
  }

 private:
  static std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (const std::string& s : v) out += (out.empty() ? "" : ",") + s;
    return out;
  }

  HttpResponse send(const ActionRequest& req, const AwsCredentials& creds, std::string method, const std::string& path,
                    std::string body = "") const {
    HttpRequest http = boundedRequest(req, std::move(method), o_.endpoint + path);
    http.aws_sigv4 = "aws:amz:us-east-1:route53";  // Route 53 is global; it signs for us-east-1
    http.userpwd = creds.access_key_id + ":" + creds.secret_access_key;
    if (!creds.session_token.empty()) http.headers.push_back("X-Amz-Security-Token: " + creds.session_token);
    // The payload hash, signed along: optional for Route 53, but verifiers that recompute the signature
    // (moto's IAM mode among them) need it to agree on bodiless GETs.
    http.headers.push_back("x-amz-content-sha256: " + sha256Hex(body));
    if (!body.empty()) {
      // moto (and Route 53 itself) read a form-typed POST as the query protocol: say it is XML.
      http.headers.push_back("Content-Type: text/xml");
      http.body = std::move(body);
    }
    return httpPerform(http);
  }

  // Route 53 says "slow down" with HTTP 400 and a code, not with 429.
  static ActionResult failure(const HttpResponse& resp, std::string_view what) {
    const AwsError e = parseAwsError(resp.body);
    const std::string problem =
        e.code.empty() ? excerpt(resp.body) : e.code + (e.message.empty() ? "" : ": " + e.message);
    ActionResult r = classifyHttp(resp, what, problem);
    if (e.code == "Throttling" || e.code == "PriorRequestNotComplete" || e.code == "ServiceUnavailable")
      r.status = ActionStatus::retryable;
    if (r.status == ActionStatus::applied) r.status = ActionStatus::permanent;  // 2xx, but not the expected 200
    return r;
  }

  std::optional<ActionResult> readRecordSet(const ActionRequest& req, const AwsCredentials& creds,
                                            Route53RecordSet& out) const {
    // Query parameters in key order: libcurl signs the query string as given, and AWS wants it sorted.
    const HttpResponse resp =
        send(req, creds, "GET",
             "/2013-04-01/hostedzone/" + o_.zone_id + "/rrset?maxitems=1&name=" + o_.record + "&type=" + o_.type);
    if (resp.status != 200) return failure(resp, "ListResourceRecordSets");
    out = parseRecordSetAnswer(resp.body, o_.record, o_.type);
    return std::nullopt;
  }

  std::string changeBatch(const ActionRequest& req) const {
    std::string xml =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<ChangeResourceRecordSetsRequest xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><ChangeBatch>"
        "<Comment>" +
        xmlEscape("hale " + req.event + " " + req.from + " -> " + req.to + " (" + req.request_id + ")") +
        "</Comment><Changes><Change><Action>UPSERT</Action><ResourceRecordSet><Name>" + xmlEscape(o_.record) +
        "</Name><Type>" + o_.type + "</Type><TTL>" + std::to_string(o_.ttl) + "</TTL><ResourceRecords>";
    for (const std::string& v : o_.values)
      xml += "<ResourceRecord><Value>" + xmlEscape(v) + "</Value></ResourceRecord>";
    return xml +
           "</ResourceRecords></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>";
  }

  ActionResult waitInsync(const ActionRequest& req, const AwsCredentials& creds, const std::string& change) {
    // "/change/C123" or "C123", depending on who answers.
    const std::string id = change.substr(change.rfind('/') == std::string::npos ? 0 : change.rfind('/') + 1);
    for (;;) {
      const HttpResponse resp = send(req, creds, "GET", "/2013-04-01/change/" + id);
      if (resp.status != 200) return failure(resp, "GetChange " + id);
      const std::string status = parseChangeInfo(resp.body).status;
      if (status == "INSYNC") {
        pending_.forget(req.request_id);
        return {ActionStatus::applied,
                o_.record + " " + o_.type + " -> " + join(o_.values) + " (change " + id + " INSYNC)"};
      }
      if (!pauseBeforePoll(req, std::chrono::seconds{1}))
        return {ActionStatus::retryable, "change " + id + " still " + std::string(status)};
    }
  }

  Options o_;
  RequestMemo<std::string> pending_;  // the change id still PENDING
};

}  // namespace

std::unique_ptr<Action> makeRoute53Action(ConfigTable& t, const ActionEnvironment&) {
  Options o;
  bool ok = t.get("hosted_zone_id", o.zone_id, Presence::required);
  if (o.zone_id.rfind("/hostedzone/", 0) == 0) o.zone_id.erase(0, 12);
  if (ok &&
      (o.zone_id.empty() || o.zone_id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != std::string::npos)) {
    t.error("hosted_zone_id", "must be a hosted zone id such as Z0123456789ABC");
    ok = false;
  }
  ok &= t.get("record", o.record, Presence::required);
  t.getEnum("record_type", o.type, {"A", "AAAA", "CNAME"});
  ok &= t.get("values", o.values, Presence::required);
  if (ok && o.values.empty()) {
    t.error("values", "must name at least one value");
    ok = false;
  }
  in6_addr scratch{};
  for (const std::string& v : o.values) {
    if (o.type != "CNAME" && ::inet_pton(o.type == "AAAA" ? AF_INET6 : AF_INET, v.c_str(), &scratch) != 1) {
      t.error("values", "\"" + v + "\" is not an " + (o.type == "AAAA" ? "IPv6" : "IPv4") + " address");
      ok = false;
    }
  }
  if (o.type == "CNAME" && o.values.size() != 1) {
    t.error("values", "a CNAME has exactly one value");
    ok = false;
  }
  std::sort(o.values.begin(), o.values.end());
  t.get("ttl", o.ttl, Presence::optional, 0, 2147483647);
  t.get("wait_insync", o.wait_insync);
  if (t.get("endpoint", o.endpoint) && o.endpoint.rfind("http://", 0) != 0 && o.endpoint.rfind("https://", 0) != 0) {
    t.error("endpoint", "must start with http:// or https://");
    ok = false;
  }
  while (!o.endpoint.empty() && o.endpoint.back() == '/') o.endpoint.pop_back();
  if (ok) ok = readAwsCredentialSource(t, o.credentials);
  if (!ok) return nullptr;
  o.record = withDot(o.record);
  return std::make_unique<Route53Action>(std::move(o));
}

}  // namespace hale::aggregator
