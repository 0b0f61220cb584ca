// linode_dns and linode_nodebalancer against Prism serving Linode's published API v4 contract (every request
// validated against the schema; a request that breaks it gets 422, which the actions treat as permanent),
// and against a scripted fake for what Prism cannot do: state that changes, 429 with Retry-After, 500,
// stalls. The plan runner's retries and deadline are exercised with the real runner.

#include <gtest/gtest.h>

#include "action_fixture.h"
#include "canned_http_server.h"
#include "linode_api.h"
#include "prism_server.h"
#include "temp_dir.h"

namespace hale::aggregator {
namespace {

using hale::test::CannedHttpServer;
using std::chrono::milliseconds;

class LinodeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    prism_ = new hale::test::PrismServer("linode/openapi.json");
    prism_->start();
    dir_ = new hale::test::TempDir("linode");
    token_file_ = dir_->writeFile("token", "linode-test-token\n", 0600);
  }
  static void TearDownTestSuite() {
    delete prism_;
    delete dir_;
  }

  static std::shared_ptr<Action> action(const std::string& api_url, const std::string& keys) {
    return test::actionFromConfig("api_url = \"" + api_url + "\"\ntoken_file = \"" + token_file_ + "\"\n" + keys);
  }
  static std::string prismApi() { return prism_->url("/v4"); }

  static hale::test::PrismServer* prism_;
  static hale::test::TempDir* dir_;
  static std::string token_file_;
};
hale::test::PrismServer* LinodeTest::prism_ = nullptr;
hale::test::TempDir* LinodeTest::dir_ = nullptr;
std::string LinodeTest::token_file_;

constexpr const char* kNodes = "type = \"linode_nodebalancer\"\nnodebalancer_id = 12345\nconfig_id = 4567\n";

TEST_F(LinodeTest, NodeModeChangesPassTheContract) {
  // The contract's example node is in mode accept: switching to reject sends one PUT per node.
  const ActionResult r = action(prismApi(), std::string(kNodes) + "nodes = [54321, 54322]\nmode = \"reject\"\n")
                             ->execute(test::actionRequest());
  EXPECT_EQ(r.status, ActionStatus::applied) << r.detail << "\n" << prism_->log();
  EXPECT_EQ(r.detail, "nodes 54321 accept->reject, 54322 accept->reject");
}

TEST_F(LinodeTest, NodeAlreadyInModeIsLeftAlone) {
  const ActionResult r =
      action(prismApi(), std::string(kNodes) + "nodes = [54321]\nmode = \"accept\"\n")->execute(test::actionRequest());
  EXPECT_EQ(r.status, ActionStatus::already_applied) << r.detail;
}

TEST_F(LinodeTest, DnsRecordFoundByNameAndUpdatedWithinTheContract) {
  // The contract's example domain holds one A record named "test" (id 123456, target 192.0.2.0).
  const ActionResult r =
      action(prismApi(),
             "type = \"linode_dns\"\ndomain_id = 1234\nrecord_name = \"test\"\ntarget = \"198.51.100.7\"\n"
             "ttl = 300\n")
          ->execute(test::actionRequest());
  EXPECT_EQ(r.status, ActionStatus::applied) << r.detail << "\n" << prism_->log();
  EXPECT_EQ(r.detail, "record 123456 (test A) 192.0.2.0 -> 198.51.100.7");

  const ActionResult same =
      action(prismApi(), "type = \"linode_dns\"\ndomain_id = 1234\nrecord_id = 123456\ntarget = \"192.0.2.0\"\n")
          ->execute(test::actionRequest());
  EXPECT_EQ(same.status, ActionStatus::already_applied) << same.detail;

  const ActionResult missing =
      action(prismApi(),
             "type = \"linode_dns\"\ndomain_id = 1234\nrecord_name = \"nosuch\"\ntarget = \"198.51.100.7\"\n")
          ->execute(test::actionRequest());
  EXPECT_EQ(missing.status, ActionStatus::permanent);
  EXPECT_EQ(missing.detail, "0 records named nosuch A in domain 1234");
}

TEST_F(LinodeTest, ARequestThatBreaksTheContractIsRefusedAndPermanent) {
  LinodeEndpoint api{prismApi(), "linode-test-token"};
  const LinodeAnswer a = linodeCall(test::actionRequest(), api, "PUT", "/nodebalancers/1/configs/2/nodes/3",
                                    {{"mode", "sideways"}}, "PUT node 3");
  ASSERT_TRUE(a.failure.has_value());
  EXPECT_EQ(a.failure->status, ActionStatus::permanent);
  EXPECT_NE(a.failure->detail.find("HTTP 422"), std::string::npos) << a.failure->detail;
}

TEST_F(LinodeTest, ConfigErrorsAreNamed) {
  auto c = parseAggregatorConfig(
      "coordination = \"none\"\ninsecure = true\nlisten = [\"tcp://127.0.0.1:1\"]\n[[region]]\nname = \"eu\"\nrole = "
      "\"active\"\nnodes "
      "= [\"x\"]\n"
      "[[action]]\nname = \"a\"\ntype = \"linode_dns\"\ntoken_file = \"" +
          token_file_ + "\"\ndomain_id = 1\ntarget = \"198.51.100.7\"\nttl = 60\n",
      "t.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("set record_id, or record_name"), std::string::npos) << c.error().message;
  EXPECT_NE(c.error().message.find("ttl: Linode keeps only 300"), std::string::npos) << c.error().message;
}

// The scripted fake: answers in the order the action asks.
constexpr const char* kNodeAccept = R"({"id":1,"mode":"accept","status":"UP"})";
constexpr const char* kNodeReject = R"({"id":1,"mode":"reject","status":"UP"})";

TEST_F(LinodeTest, ClassifiesRateLimitsServerErrorsAuthAndStalls) {
  CannedHttpServer fake;
  auto a = action(fake.url("/v4"), std::string(kNodes) + "nodes = [1]\nmode = \"reject\"\n");
  fake.enqueue(429, R"({"errors":[{"reason":"Too many requests"}]})", milliseconds{0}, "Retry-After: 7\r\n");
  const ActionResult limited = a->execute(test::actionRequest());
  EXPECT_EQ(limited.status, ActionStatus::retryable);
  EXPECT_EQ(limited.retry_after, std::chrono::seconds{7});
  EXPECT_EQ(limited.detail, "GET node 1: HTTP 429 Too many requests");

  fake.enqueue(500, "");
  EXPECT_EQ(a->execute(test::actionRequest()).status, ActionStatus::retryable);

  fake.enqueue(401, R"({"errors":[{"reason":"Invalid Token"}]})");
  const ActionResult denied = a->execute(test::actionRequest());
  EXPECT_EQ(denied.status, ActionStatus::permanent);
  EXPECT_EQ(denied.detail, "GET node 1: HTTP 401 Invalid Token");

  fake.enqueue(200, kNodeAccept, milliseconds{3000});
  const ActionResult stalled = a->execute(test::actionRequest(milliseconds{300}));
  EXPECT_EQ(stalled.status, ActionStatus::retryable);
  EXPECT_EQ(stalled.detail, "GET node 1: no answer within the timeout");

  // The token is sent as a bearer token and appears nowhere in a detail.
  EXPECT_NE(fake.lastRequest().find("Authorization: Bearer linode-test-token"), std::string::npos);
  for (const ActionResult& r : {limited, denied, stalled})
    EXPECT_EQ(r.detail.find("linode-test-token"), std::string::npos);
}

TEST_F(LinodeTest, TheRunnerRetriesHonoursRetryAfterThenVerifies) {
  CannedHttpServer fake;
  fake.enqueue(503, "");                                         // attempt 1: GET
  fake.enqueue(429, "", milliseconds{0}, "Retry-After: 1\r\n");  // attempt 2: GET
  fake.enqueue(200, kNodeAccept);                                // attempt 3: GET
  fake.enqueue(200, kNodeReject);                                //            PUT
  fake.enqueue(200, kNodeReject);                                // verify:    GET
  const auto started = std::chrono::steady_clock::now();
  std::string state;
  const StepRecord step = test::runAsPlanStep(
      action(fake.url("/v4"), std::string(kNodes) + "nodes = [1]\nmode = \"reject\"\n"),
      StepPolicy{.timeout = milliseconds{2000}, .attempts = 5, .backoff = milliseconds{50}}, &state);
  EXPECT_EQ(state, "done") << step.detail;
  EXPECT_EQ(step.attempts, 3);
  EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds{1000}) << "Retry-After: 1 was not honoured";
  EXPECT_EQ(fake.requests(), (std::vector<std::string>{
                                 "GET /v4/nodebalancers/12345/configs/4567/nodes/1 HTTP/1.1",
                                 "GET /v4/nodebalancers/12345/configs/4567/nodes/1 HTTP/1.1",
                                 "GET /v4/nodebalancers/12345/configs/4567/nodes/1 HTTP/1.1",
                                 "PUT /v4/nodebalancers/12345/configs/4567/nodes/1 HTTP/1.1",
                                 "GET /v4/nodebalancers/12345/configs/4567/nodes/1 HTTP/1.1",
                             }));
  EXPECT_NE(fake.fullRequests()[3].find(R"({"mode":"reject"})"), std::string::npos) << fake.fullRequests()[3];
}

TEST_F(LinodeTest, TheRunnerGivesUpAtTheDeadlineAndNeverRetriesAPermanentError) {
  CannedHttpServer stalling;
  stalling.respond(200, kNodeAccept, milliseconds{5000});
  std::string state;
  const StepRecord stalled = test::runAsPlanStep(
      action(stalling.url("/v4"), std::string(kNodes) + "nodes = [1]\nmode = \"reject\"\n"),
      StepPolicy{
          .timeout = milliseconds{300}, .attempts = 10, .backoff = milliseconds{100}, .deadline = milliseconds{1000}},
      &state);
  EXPECT_EQ(state, "failed");
  EXPECT_GE(stalled.attempts, 2);
  EXPECT_LE(stalled.attempts, 4);
  EXPECT_NE(stalled.detail.find("deadline"), std::string::npos) << stalled.detail;

  CannedHttpServer refusing;
  refusing.respond(403, R"({"errors":[{"reason":"Unauthorized"}]})");
  const StepRecord denied = test::runAsPlanStep(
      action(refusing.url("/v4"), std::string(kNodes) + "nodes = [1]\nmode = \"reject\"\n"),
      StepPolicy{.timeout = milliseconds{1000}, .attempts = 5, .backoff = milliseconds{10}}, &state);
  EXPECT_EQ(state, "failed");
  EXPECT_EQ(denied.attempts, 1);
  EXPECT_EQ(refusing.requests().size(), 1u);
}

TEST_F(LinodeTest, MalformedAnswersAreErrorsNotCrashes) {
  CannedHttpServer fake;
  auto nodes = action(fake.url("/v4"), std::string(kNodes) + "nodes = [1]\nmode = \"reject\"\n");
  auto dns = action(fake.url("/v4"),
                    "type = \"linode_dns\"\ndomain_id = 9\nrecord_name = \"app\"\ntarget = \"198.51.100.7\"\n");
  // Whatever an action makes of a malformed answer, execute-then-verify never reports success on it.
  auto succeeds = [](Action& a) {
    const ActionStatus e = a.execute(test::actionRequest()).status;
    if (e != ActionStatus::applied && e != ActionStatus::already_applied) return false;
    const ActionStatus v = a.verify(test::actionRequest()).status;
    return v == ActionStatus::applied || v == ActionStatus::already_applied;
  };
  for (const char* body : {"[]", "\"mode\"", R"({"mode": 5})", "null", "{not json", ""}) {
    SCOPED_TRACE(body);
    fake.respond(200, body);
    EXPECT_FALSE(succeeds(*nodes));
    EXPECT_FALSE(succeeds(*dns));
  }
  fake.respond(200, R"({"data": [{"id": "x", "name": "app", "type": "A"}, 7], "pages": "many"})");
  EXPECT_EQ(dns->execute(test::actionRequest()).status, ActionStatus::permanent);
}

TEST_F(LinodeTest, AlreadyInTheDesiredStateWritesNothing) {
  CannedHttpServer fake;
  fake.respond(200, R"({"id":5,"name":"app","type":"A","target":"198.51.100.7","ttl_sec":300})");
  auto a = action(fake.url("/v4"),
                  "type = \"linode_dns\"\ndomain_id = 9\nrecord_id = 5\ntarget = \"198.51.100.7\"\nttl = 300\n");
  EXPECT_EQ(a->execute(test::actionRequest()).status, ActionStatus::already_applied);
  EXPECT_EQ(a->verify(test::actionRequest()).status, ActionStatus::applied);
  EXPECT_EQ(fake.requests(),
            (std::vector<std::string>{"GET /v4/domains/9/records/5 HTTP/1.1", "GET /v4/domains/9/records/5 HTTP/1.1"}));
}

}  // namespace
}  // namespace hale::aggregator
