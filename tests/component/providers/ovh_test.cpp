// ovh_dns and ovh_iplb: the request signature against OVH's published test vectors and an independent
// sha1sum; every request against Prism serving the published OVH contract (signature headers required and
// shaped as specified); and a scripted fake for what Prism cannot do: server time, state that changes,
// refresh tasks, error codes, 429 with Retry-After, 500, stalls.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "action_fixture.h"
#include "canned_http_server.h"
#include "ovh_api.h"
#include "prism_server.h"
#include "process.h"
#include "temp_dir.h"

namespace hale::aggregator {
namespace {

using hale::test::CannedHttpServer;
using std::chrono::milliseconds;

constexpr const char* kSecret = "9ufkBmLaTQ9nz5yMUlg79taH0GNnzDjk";
constexpr const char* kConsumer = "5mBuy6SUQcRw2ZUxg0cG68BoDKpED4KY";

TEST(OvhSignature, MatchesThePublishedTestVectors) {
  const std::string url = "https://eu.api.ovh.com/1.0/auth";
  const std::string body = R"({"a":"b","c":"d"})";
  EXPECT_EQ(ovhSignature(kSecret, kConsumer, "GET", url, "", 1457018875),
            "$1$e9556054b6309771395efa467c22e627407461ad");
  EXPECT_EQ(ovhSignature(kSecret, kConsumer, "POST", url, body, 1457018875),
            "$1$ec2fb5c7a81f64723c77d2e5b609ae6f58a84fc1");
  EXPECT_EQ(ovhSignature(kSecret, kConsumer, "PUT", url, body, 1457018875),
            "$1$8a75a9e7c8e7296c9dbeda6a2a735eb6bd58ec4b");
  EXPECT_EQ(ovhSignature(kSecret, kConsumer, "DELETE", url, "", 1457018875),
            "$1$a1eecd00b3b02b6cf5708b84b9ff42059a950d85");
}

// GET /auth/time: only a plausible Unix time is taken. Found by reading for the fuzz target: a huge one was
// taken as the offset, and the timestamps computed from it could overflow.
TEST(OvhServerTime, OnlyAPlausibleUnixTimeIsTaken) {
  EXPECT_EQ(parseOvhServerTime("1457018875"), 1457018875);
  EXPECT_EQ(parseOvhServerTime("1457018875\n"), 1457018875);
  EXPECT_EQ(parseOvhServerTime("9223372036854775807"), std::nullopt);
  EXPECT_EQ(parseOvhServerTime("99999999999999999999999"), std::nullopt);
  EXPECT_EQ(parseOvhServerTime("-1457018875"), std::nullopt);
  EXPECT_EQ(parseOvhServerTime("12"), std::nullopt);
  EXPECT_EQ(parseOvhServerTime("not a time"), std::nullopt);
  EXPECT_EQ(parseOvhServerTime(""), std::nullopt);
}

// The value of header `name` in a raw request ("" when absent).
std::string headerOf(const std::string& request, const std::string& name) {
  const size_t at = request.find("\r\n" + name + ": ");
  if (at == std::string::npos) return "";
  const size_t begin = at + name.size() + 4;
  return request.substr(begin, request.find("\r\n", begin) - begin);
}
std::string bodyOf(const std::string& request) { return request.substr(request.find("\r\n\r\n") + 4); }

class OvhTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    prism_ = new hale::test::PrismServer("ovh/openapi-subset.json");
    prism_->start();
    dir_ = new hale::test::TempDir("ovh");
    keys_ = "application_key = \"7kbG7Bk7S9Nt7ZSV\"\napplication_secret_file = \"" +
            dir_->writeFile("as", std::string(kSecret) + "\n", 0600) + "\"\nconsumer_key_file = \"" +
            dir_->writeFile("ck", std::string(kConsumer) + "\n", 0600) + "\"\n";
  }
  static void TearDownTestSuite() {
    delete prism_;
    delete dir_;
  }
  static std::shared_ptr<Action> action(const std::string& endpoint, const std::string& body) {
    return test::actionFromConfig("endpoint = \"" + endpoint + "\"\n" + keys_ + body);
  }

  static hale::test::PrismServer* prism_;
  static hale::test::TempDir* dir_;
  static std::string keys_;
};
hale::test::PrismServer* OvhTest::prism_ = nullptr;
hale::test::TempDir* OvhTest::dir_ = nullptr;
std::string OvhTest::keys_;

constexpr const char* kDns =
    "type = \"ovh_dns\"\nzone = \"example.com\"\nrecord_id = 5\ntarget = \"198.51.100.7\"\nttl = 60\n";
constexpr const char* kIplb =
    "type = \"ovh_iplb\"\nservice_name = \"loadbalancer-1\"\nfarm_id = 2\nservers = [3, 4]\nstatus = \"inactive\"\n";

TEST_F(OvhTest, DnsUpdateAndZoneRefreshPassTheContract) {
  // The contract's generated record has target "string": one PUT, then the refresh.
  const ActionResult r = action(prism_->url(), kDns)->execute(test::actionRequest());
  EXPECT_EQ(r.status, ActionStatus::applied) << r.detail << "\n" << prism_->log();
  EXPECT_EQ(r.detail, "record 5 string -> 198.51.100.7, zone refreshed");
}

TEST_F(OvhTest, FarmServerChangesAndRefreshPassTheContract) {
  // Server GETs, PUTs and the refresh are in the contract and accepted by it; the task they return is
  // "blocked" and the published subset has no task path, so the first poll is Prism's 404: proof that every
  // earlier request was valid, since a violation is a 422 at that request.
  const ActionResult r = action(prism_->url(), kIplb)->execute(test::actionRequest());
  EXPECT_EQ(r.status, ActionStatus::permanent) << r.detail;
  EXPECT_EQ(r.detail, "GET refresh task -9007199254740991: HTTP 404") << prism_->log();
}

// The whole success path through the contract. The published subset has no task path, but OVH's own schema
// (ovh/ipLoadbalancing.json) declares GET /ipLoadbalancing/{serviceName}/task/{id} answering an
// ipLoadbalancing.Task.Task. The test serves the subset plus that path, signed like every other call, with a
// schema-valid "done" task as its answer: Prism still validates every request hale sends.
nlohmann::json withTaskPath(const std::string& contracts) {
  const auto published = nlohmann::json::parse(hale::test::readFile(contracts + "/ovh/ipLoadbalancing.json"));
  bool declared = false;
  for (const auto& api : published["apis"]) {
    if (api["path"] != "/ipLoadbalancing/{serviceName}/task/{id}") continue;
    for (const auto& op : api["operations"])
      declared |= op["httpMethod"] == "GET" && op["responseType"] == "ipLoadbalancing.Task.Task";
  }
  EXPECT_TRUE(declared) << "OVH's schema no longer declares the task path as the test serves it";

  auto spec = nlohmann::json::parse(hale::test::readFile(contracts + "/ovh/openapi-subset.json"));
  const auto& statuses = spec["components"]["schemas"]["ipLoadbalancing.TaskStatusEnum"]["enum"];
  EXPECT_NE(std::find(statuses.begin(), statuses.end(), "done"), statuses.end());
  const nlohmann::json& refresh = spec["paths"]["/ipLoadbalancing/{serviceName}/refresh"]["post"];
  nlohmann::json get = {{"operationId", "get_ipLoadbalancing_serviceName_task_id"},
                        {"parameters", nlohmann::json::array()},
                        {"responses",
                         {{"default", refresh["responses"]["default"]},
                          {"200",
                           {{"description", "OK"},
                            {"content",
                             {{"application/json",
                               {{"schema", {{"$ref", "#/components/schemas/ipLoadbalancing.Task.Task"}}},
                                {"example", {{"id", 42}, {"action", "refreshIplb"}, {"status", "done"}}}}}}}}}}}};
  for (const auto& p : refresh["parameters"]) get["parameters"].push_back(p);  // the signature headers, serviceName
  get["parameters"].push_back(
      {{"name", "id"}, {"in", "path"}, {"required", true}, {"schema", {{"type", "integer"}, {"format", "int64"}}}});
  spec["paths"]["/ipLoadbalancing/{serviceName}/task/{id}"]["get"] = get;
  return spec;
}

TEST_F(OvhTest, FarmServerChangesRefreshAndTaskDonePassTheContract) {
  hale::test::TempDir dir("ovh-task");
  hale::test::PrismServer prism(dir.writeFile("ovh-with-task.json", withTaskPath(prism_->contractsDir()).dump()));
  prism.start();
  const ActionResult r = action(prism.url(), kIplb)->execute(test::actionRequest());
  EXPECT_EQ(r.status, ActionStatus::applied) << r.detail << "\n" << prism.log();
  EXPECT_NE(r.detail.find(" inactive, refresh task "), std::string::npos) << r.detail;
  EXPECT_NE(r.detail.find(" done"), std::string::npos) << r.detail;
  const std::string log = prism.log();
  EXPECT_EQ(log.find("Violation"), std::string::npos) << log;
  EXPECT_NE(log.find("/ipLoadbalancing/loadbalancer-1/refresh"), std::string::npos) << log;
  EXPECT_NE(log.find("/ipLoadbalancing/loadbalancer-1/task/"), std::string::npos) << log;
}

TEST_F(OvhTest, SignsEveryRequestWithTheServerClockOffset) {
  CannedHttpServer fake;
  fake.enqueue(200, "1457018875");  // GET /auth/time: the server is years behind this machine
  fake.enqueue(200,
               R"({"id":5,"subDomain":"app","fieldType":"A","target":"192.0.2.10","ttl":60,"zone":"example.com"})");
  fake.enqueue(200, "");      // PUT
  fake.enqueue(200, "null");  // refresh
  const ActionResult r = action(fake.url("/1.0"), kDns)->execute(test::actionRequest());
  ASSERT_EQ(r.status, ActionStatus::applied) << r.detail;
  EXPECT_EQ(r.detail, "record 5 192.0.2.10 -> 198.51.100.7, zone refreshed");
  EXPECT_EQ(fake.requests(), (std::vector<std::string>{"GET /1.0/auth/time HTTP/1.1",
                                                       "GET /1.0/domain/zone/example.com/record/5 HTTP/1.1",
                                                       "PUT /1.0/domain/zone/example.com/record/5 HTTP/1.1",
                                                       "POST /1.0/domain/zone/example.com/refresh HTTP/1.1"}));
  const std::vector<std::string> sent = fake.fullRequests();
  EXPECT_EQ(bodyOf(sent[2]), R"({"target":"198.51.100.7","ttl":60})");
  for (size_t i = 1; i < sent.size(); ++i) {
    const std::string ts = headerOf(sent[i], "X-Ovh-Timestamp");
    EXPECT_NEAR(std::stoll(ts), 1457018875, 3) << "the timestamp follows the server's clock";
    EXPECT_EQ(headerOf(sent[i], "X-Ovh-Application"), "7kbG7Bk7S9Nt7ZSV");
    EXPECT_EQ(headerOf(sent[i], "X-Ovh-Consumer"), kConsumer);
    // Recomputed independently of the code under test.
    const std::string line = sent[i].substr(0, sent[i].find("\r\n"));
    const std::string method = line.substr(0, line.find(' '));
    const std::string path = line.substr(method.size() + 1, line.rfind(' ') - method.size() - 1);
    const std::string text =
        std::string(kSecret) + "+" + kConsumer + "+" + method + "+" + fake.url(path) + "+" + bodyOf(sent[i]) + "+" + ts;
    const hale::test::CommandResult sha = hale::test::runCommand(
        {.argv = {"/bin/sh", "-c", "printf '%s' \"$0\" | sha1sum", text}}, std::chrono::seconds{5});
    EXPECT_EQ(headerOf(sent[i], "X-Ovh-Signature"), "$1$" + sha.output.substr(0, 40)) << line;
  }
}

TEST_F(OvhTest, AFailedRefreshIsRetriedWithoutWritingAgain) {
  CannedHttpServer fake;
  auto a = action(fake.url("/1.0"), kDns);
  fake.enqueue(200, "1457018875");
  fake.enqueue(200, R"({"id":5,"target":"192.0.2.10","ttl":60})");
  fake.enqueue(200, "");                                                                   // PUT
  fake.enqueue(503, R"({"class":"Server::ServiceUnavailable","message":"maintenance"})");  // refresh
  const ActionResult first = a->execute(test::actionRequest());
  EXPECT_EQ(first.status, ActionStatus::retryable) << first.detail;
  EXPECT_EQ(first.detail, "POST zone refresh: HTTP 503 Server::ServiceUnavailable: maintenance");

  fake.enqueue(200, R"({"id":5,"target":"198.51.100.7","ttl":60})");  // the write did land
  fake.enqueue(200, "null");                                          // refresh
  const ActionResult second = a->execute(test::actionRequest());
  EXPECT_EQ(second.status, ActionStatus::applied) << second.detail;
  EXPECT_EQ(second.detail, "record 5 198.51.100.7 (refresh retried), zone refreshed");
  const std::vector<std::string> lines = fake.requests();
  EXPECT_EQ(std::count(lines.begin(), lines.end(), "PUT /1.0/domain/zone/example.com/record/5 HTTP/1.1"), 1);

  // Right, and nothing owed for this request: nothing written at all.
  fake.enqueue(200, R"({"id":5,"target":"198.51.100.7","ttl":60})");
  EXPECT_EQ(a->execute(test::actionRequest()).status, ActionStatus::already_applied);
  EXPECT_EQ(fake.requests().size(), lines.size() + 1);
}

TEST_F(OvhTest, WaitsForTheFarmRefreshTask) {
  CannedHttpServer fake;
  fake.enqueue(200, "1457018875");
  fake.enqueue(200, R"({"serverId":3,"status":"active"})");
  fake.enqueue(200, R"({"serverId":3,"status":"inactive"})");  // PUT 3
  fake.enqueue(200, R"({"serverId":4,"status":"inactive"})");  // 4 is already inactive: no PUT
  fake.enqueue(200, R"({"id":42,"action":"refreshIplb","status":"todo"})");
  fake.enqueue(200, R"({"id":42,"status":"doing"})");
  fake.enqueue(200, R"({"id":42,"status":"done"})");
  const ActionResult r = action(fake.url("/1.0"), kIplb)->execute(test::actionRequest());
  EXPECT_EQ(r.status, ActionStatus::applied) << r.detail;
  EXPECT_EQ(r.detail, "servers 3 inactive, refresh task 42 done");
  EXPECT_EQ(fake.requests(), (std::vector<std::string>{
                                 "GET /1.0/auth/time HTTP/1.1",
                                 "GET /1.0/ipLoadbalancing/loadbalancer-1/http/farm/2/server/3 HTTP/1.1",
                                 "PUT /1.0/ipLoadbalancing/loadbalancer-1/http/farm/2/server/3 HTTP/1.1",
                                 "GET /1.0/ipLoadbalancing/loadbalancer-1/http/farm/2/server/4 HTTP/1.1",
                                 "POST /1.0/ipLoadbalancing/loadbalancer-1/refresh HTTP/1.1",
                                 "GET /1.0/ipLoadbalancing/loadbalancer-1/task/42 HTTP/1.1",
                                 "GET /1.0/ipLoadbalancing/loadbalancer-1/task/42 HTTP/1.1",
                             }));
  EXPECT_EQ(bodyOf(fake.fullRequests()[2]), R"({"status":"inactive"})");
}

TEST_F(OvhTest, ATaskInErrorIsPermanentAndARunningOneAtTheDeadlineRetryable) {
  CannedHttpServer fake;
  auto a = action(fake.url("/1.0"), kIplb);
  fake.enqueue(200, "1457018875");
  fake.enqueue(200, R"({"serverId":3,"status":"active"})");
  fake.enqueue(200, "{}");
  fake.enqueue(200, R"({"serverId":4,"status":"inactive"})");
  fake.enqueue(200, R"({"id":43,"status":"todo"})");
  fake.respond(200, R"({"id":43,"status":"doing"})");
  const ActionResult running = a->execute(test::actionRequest(milliseconds{1200}));
  EXPECT_EQ(running.status, ActionStatus::retryable) << running.detail;
  EXPECT_EQ(running.detail, "refresh task 43 still doing");

  // The retry finds the servers right and waits for the same task instead of refreshing again.
  fake.enqueue(200, R"({"serverId":3,"status":"inactive"})");
  fake.enqueue(200, R"({"serverId":4,"status":"inactive"})");
  fake.respond(200, R"({"id":43,"status":"error"})");
  const ActionResult failed = a->execute(test::actionRequest());
  EXPECT_EQ(failed.status, ActionStatus::permanent);
  EXPECT_EQ(failed.detail, "refresh task 43 error");
  const std::vector<std::string> lines = fake.requests();
  EXPECT_EQ(std::count(lines.begin(), lines.end(), "POST /1.0/ipLoadbalancing/loadbalancer-1/refresh HTTP/1.1"), 1);
}

TEST_F(OvhTest, ErrorCodesDecideNotTheStatus) {
  CannedHttpServer fake;
  auto a = action(fake.url("/1.0"), kDns);
  fake.enqueue(200, "1457018875");
  fake.enqueue(403, R"({"class":"Client::Forbidden","errorCode":"INVALID_SIGNATURE","message":"Invalid signature"})",
               milliseconds{0}, "X-Ovh-QueryID: EU.ext-1.abc\r\n");
  const ActionResult bad = a->execute(test::actionRequest());
  EXPECT_EQ(bad.status, ActionStatus::permanent);
  EXPECT_EQ(bad.detail, "GET record 5: HTTP 403 INVALID_SIGNATURE: Invalid signature (query EU.ext-1.abc)");
  EXPECT_EQ(bad.detail.find(kSecret), std::string::npos);
  EXPECT_EQ(bad.detail.find(kConsumer), std::string::npos);

  // A timestamp OVH finds too old: retryable, and the next call learns the server time again.
  fake.enqueue(400, R"({"class":"Client::BadRequest","errorCode":"QUERY_TIME_OUT","message":"Query out of time"})");
  EXPECT_EQ(a->execute(test::actionRequest()).status, ActionStatus::retryable);
  fake.enqueue(200, "1457018875");
  fake.enqueue(429, R"({"message":"Too much requests"})", milliseconds{0}, "Retry-After: 4\r\n");
  const ActionResult limited = a->execute(test::actionRequest());
  EXPECT_EQ(limited.status, ActionStatus::retryable);
  EXPECT_EQ(limited.retry_after, std::chrono::seconds{4});
  EXPECT_EQ(fake.requests()[3], "GET /1.0/auth/time HTTP/1.1");

  fake.enqueue(500, "<html>proxy error</html>");
  EXPECT_EQ(a->execute(test::actionRequest()).status, ActionStatus::retryable);
  fake.enqueue(200, "{}", milliseconds{3000});
  const ActionResult stalled = a->execute(test::actionRequest(milliseconds{300}));
  EXPECT_EQ(stalled.status, ActionStatus::retryable);
  EXPECT_EQ(stalled.detail, "GET record 5: no answer within the timeout");
}

TEST_F(OvhTest, MalformedAnswersAreErrorsNotCrashes) {
  CannedHttpServer fake;
  auto dns = action(fake.url("/1.0"), kDns);
  auto lb = action(fake.url("/1.0"), kIplb);
  fake.enqueue(200, "not a time");
  EXPECT_EQ(dns->execute(test::actionRequest()).status, ActionStatus::retryable);
  for (const char* body : {"[]", R"({"target": 7})", R"({"status": ["done"]})", "{oops", "1457018875"}) {
    SCOPED_TRACE(body);
    fake.respond(200, body);
    const ActionResult r = dns->execute(test::actionRequest());
    EXPECT_NE(r.status, ActionStatus::already_applied) << r.detail;
    const ActionResult l = lb->execute(test::actionRequest(milliseconds{600}));
    EXPECT_NE(l.status, ActionStatus::already_applied) << l.detail;
  }
  fake.respond(403, R"({"errorCode": 12, "class": null, "message": ["x"]})");
  EXPECT_EQ(dns->execute(test::actionRequest()).status, ActionStatus::permanent);
}

TEST_F(OvhTest, EndpointNamesAndConfigErrors) {
  auto c = parseAggregatorConfig(
      "coordination = \"none\"\ninsecure = true\nlisten = [\"tcp://127.0.0.1:1\"]\n[[region]]\nname = \"eu\"\nrole = "
      "\"active\"\nnodes "
      "= [\"x\"]\n"
      "[[action]]\nname = \"a\"\ntype = \"ovh_dns\"\nendpoint = \"ovh-asia\"\nzone = \"z\"\ntarget = \"t\"\n",
      "t.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("endpoint: must be ovh-eu, ovh-ca, ovh-us or a URL"), std::string::npos)
      << c.error().message;
  EXPECT_NE(c.error().message.find("application_key"), std::string::npos) << c.error().message;
  EXPECT_NE(c.error().message.find("set record_id, or sub_domain"), std::string::npos) << c.error().message;
  for (const char* e : {"ovh-eu", "ovh-ca", "ovh-us"})
    EXPECT_NE(test::actionFromConfig("endpoint = \"" + std::string(e) + "\"\n" + keys_ + kDns), nullptr) << e;
}

}  // namespace
}  // namespace hale::aggregator
