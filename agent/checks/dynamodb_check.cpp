// dynamodb: a signed (SigV4) call to the DynamoDB API.
//   region = "eu-west-1"   table = "app-sessions"
//   endpoint = "https://dynamodb.eu-west-1.amazonaws.com"   (default from region; override for VPC
//                                                             endpoints and tests)
//   mode = "describe"   DescribeTable must say ACTIVE (default), or
//   mode = "item"       GetItem of a heartbeat item whose number attribute `ts` (Unix seconds) is at most
//                       `max_age` old: key_attribute (default "pk") = key_value (default "hale-heartbeat")
//   write_probe = true  also PutItem a probe item and read it back (consistent read)
//   ca_file = "/etc/hale/private-ca.pem"   (optional) verify the endpoint against this CA bundle instead
//                                          of the system's (a private endpoint, a TLS-intercepting proxy)
//   access_key_file / secret_key_file / session_token_file / profile: see common/aws_credentials.h
// No answer, throttling, a 5xx, unreadable credentials or an answer without what it must hold are transient
// errors (subject to `fall`: DynamoDB's moment of trouble is not every node failing at once); an API error
// (missing table, denied) or a stale item is definitive. The HTTPS connection (for 10 s) and its TLS
// session are kept across probes (http_client.h's HttpSession).

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "aws_credentials.h"
#include "aws_error.h"
#include "check_util.h"
#include "factories.h"
#include "http_client.h"

namespace hale::agent {
namespace {

struct Options {
  std::string region;
  std::string table;
  std::string endpoint;
  std::string mode = "describe";
  std::string key_attribute = "pk";
  std::string key_value = "hale-heartbeat";
  std::string ts_attribute = "ts";
  std::chrono::milliseconds max_age{0};
  bool write_probe = false;
  std::string node_id;
  std::string ca_file;
  AwsCredentialSource credentials;
};

// NOLINTNEXTLINE(bugprone-exception-escape): the implicit move of nlohmann::json does not throw.
struct ApiAnswer {
  bool answered = false;   // an HTTP answer came back
  bool ok = false;         // 200
  bool transient = false;  // not ok, but DynamoDB's passing trouble (throttling, 5xx), not an answer about us
  nlohmann::json body;
  std::string problem;  // for the check message
};

// DynamoDB's "slow down" codes: retry later, nothing is wrong with the table or with us.
bool throttled(const std::string& code) {
  return code == "ThrottlingException" || code == "ProvisionedThroughputExceededException" ||
         code == "RequestLimitExceeded" || code == "TooManyRequestsException";
}

// What a not-ok answer means for this probe.
CheckResult notOk(const ApiAnswer& a) {
  return {!a.answered || a.transient ? Outcome::error : Outcome::fail, a.problem};
}

class DynamodbCheck final : public Check {
 public:
  explicit DynamodbCheck(Options o) : o_(std::move(o)) {}

  CheckResult run(const CheckContext& ctx) noexcept override {
    try {
      auto creds = resolveAwsCredentials(o_.credentials);
      if (!creds) return {Outcome::error, creds.error().message};  // our own file, read again next time
      if (o_.mode == "describe") {
        const ApiAnswer a = call(ctx, creds.value(), "DescribeTable", {{"TableName", o_.table}});
        if (!a.ok) return notOk(a);
        const auto table = a.body.find("Table");
        if (table == a.body.end() || !table->is_object())
          return {Outcome::error, "DescribeTable: the answer has no Table"};
        const std::string status = table->value("TableStatus", "");
        if (status != "ACTIVE")
          return {Outcome::fail, "table " + o_.table + " is " + (status.empty() ? "in an unknown state" : status)};
      } else if (CheckResult r = checkItem(ctx, creds.value()); r.outcome != Outcome::pass) {
        return r;
      }
      if (o_.write_probe) return writeProbe(ctx, creds.value());
      return {Outcome::pass, o_.mode == "describe" ? "table ACTIVE" : "heartbeat item fresh"};
    } catch (const std::exception& e) {
      return {Outcome::error, std::string("unexpected answer: ") + e.what()};
    }
  }

 private:
  ApiAnswer call(const CheckContext& ctx, const AwsCredentials& creds, const std::string& op,
                 const nlohmann::json& body) const {
    HttpRequest req;
    req.method = "POST";
    req.url = o_.endpoint + "/";
    req.headers = {"Content-Type: application/x-amz-json-1.0", "X-Amz-Target: DynamoDB_20120810." + op};
    if (!creds.session_token.empty()) req.headers.push_back("X-Amz-Security-Token: " + creds.session_token);
    req.body = body.dump();
    req.timeout = ctx.remaining();
    req.cancel = ctx.stopping;
    req.aws_sigv4 = "aws:amz:" + o_.region + ":dynamodb";
    req.userpwd = creds.access_key_id + ":" + creds.secret_access_key;
    req.ca_file = o_.ca_file;
    const HttpResponse r = session_.perform(req);
    ApiAnswer a;
    if (r.status == 0) {
      a.problem = r.timed_out ? "no answer within the timeout" : r.error;
      return a;
    }
    a.answered = true;
    a.ok = r.status == 200;
    a.body = nlohmann::json::parse(r.body, nullptr, false);
    if (!a.ok) {
      const AwsError e = parseAwsError(r.body);
      a.transient = r.status >= 500 || r.status == 429 || throttled(e.code);
      a.problem = op + ": HTTP " + std::to_string(r.status) + (e.code.empty() ? "" : " " + e.code) +
                  (e.message.empty() ? "" : ": " + firstLine(e.message, 160));
    } else if (a.body.is_discarded()) {
      a.ok = false;
      a.problem = op + ": answer is not JSON";
    }
    return a;
  }

  CheckResult checkItem(const CheckContext& ctx, const AwsCredentials& creds) const {
    const ApiAnswer a = call(ctx, creds, "GetItem",
                             {{"TableName", o_.table},
                              {"Key", {{o_.key_attribute, {{"S", o_.key_value}}}}},
                              {"ConsistentRead", false}});  // what this region's readers would see
    if (!a.ok) return notOk(a);
    if (!a.body.contains("Item")) return {Outcome::fail, "heartbeat item " + o_.key_value + " not found"};
    const auto& ts = a.body["Item"].value(o_.ts_attribute, nlohmann::json::object());
    if (!ts.contains("N")) return {Outcome::fail, "heartbeat item has no number attribute " + o_.ts_attribute};
    const double written = std::stod(ts["N"].get<std::string>());
    const double now = static_cast<double>(toUnixMillis(ctx.clock->wallNow())) / 1000.0;
    const auto age = std::chrono::milliseconds(static_cast<int64_t>((now - written) * 1000.0));
    if (age > o_.max_age) {
      return {Outcome::fail,
              "heartbeat item is " + humanDuration(age) + " old (limit " + humanDuration(o_.max_age) + ")"};
    }
    return {Outcome::pass, "heartbeat item " + humanDuration(std::max(age, std::chrono::milliseconds{0})) + " old"};
  }

  CheckResult writeProbe(const CheckContext& ctx, const AwsCredentials& creds) const {
    const std::string key = "hale-probe#" + o_.node_id;
    const std::string stamp = std::to_string(toUnixMillis(ctx.clock->wallNow()));
    const ApiAnswer put =
        call(ctx, creds, "PutItem",
             {{"TableName", o_.table}, {"Item", {{o_.key_attribute, {{"S", key}}}, {"probe", {{"N", stamp}}}}}});
    if (!put.ok) return notOk(put);
    const ApiAnswer get =
        call(ctx, creds, "GetItem",
             {{"TableName", o_.table}, {"Key", {{o_.key_attribute, {{"S", key}}}}}, {"ConsistentRead", true}});
    if (!get.ok) return notOk(get);
    const std::string read_back =
        get.body.contains("Item") ? get.body["Item"].value("probe", nlohmann::json::object()).value("N", "") : "";
    if (read_back != stamp)
      return {Outcome::fail, "write probe read back " + (read_back.empty() ? "nothing" : read_back)};
    return {Outcome::pass,
            o_.mode == "describe" ? "table ACTIVE, write probe ok" : "heartbeat item fresh, write probe ok"};
  }

  Options o_;
  // Kept across probes, used by one thread at a time (run() is); mutable because the API calls are const.
  mutable HttpSession session_;
};

}  // namespace

std::unique_ptr<Check> makeDynamodbCheck(ConfigTable& t, const CheckSettings&) {
  Options o;
  bool ok = t.get("region", o.region, Presence::required);
  if (auto driver = requireHttpDriver(); !driver) {
    t.error("type", driver.error().message);
    ok = false;
  }
  ok &= t.get("table", o.table, Presence::required);
  if (!t.get("endpoint", o.endpoint)) o.endpoint = "https://dynamodb." + o.region + ".amazonaws.com";
  while (!o.endpoint.empty() && o.endpoint.back() == '/') o.endpoint.pop_back();
  t.getEnum("mode", o.mode, {"describe", "item"});
  t.get("key_attribute", o.key_attribute);
  t.get("key_value", o.key_value);
  t.get("ts_attribute", o.ts_attribute);
  const bool has_age =
      t.getDuration("max_age", o.max_age, Presence::optional, std::chrono::seconds{1}, std::chrono::hours{24});
  if (o.mode == "item" && !has_age) {
    t.error("max_age", "required when mode = \"item\"");
    ok = false;
  }
  t.get("write_probe", o.write_probe);
  if (t.get("ca_file", o.ca_file) && ::access(o.ca_file.c_str(), R_OK) != 0) {
    t.error("ca_file", "cannot read " + o.ca_file);
    ok = false;
  }
  if (ok) ok = readAwsCredentialSource(t, o.credentials);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);  // the probe item is per machine, so nodes never overwrite each other
  o.node_id = host;
  if (!ok) return nullptr;
  return std::make_unique<DynamodbCheck>(std::move(o));
}

}  // namespace hale::agent
