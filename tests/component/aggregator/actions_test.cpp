// The exec and webhook actions against real processes and a real HTTP peer.

#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "action_fixture.h"
#include "canned_http_server.h"
#include "temp_dir.h"

namespace hale::aggregator {
namespace {

using std::chrono::milliseconds;

// What the alerter sends for a split brain, seen by observer "us" of cluster "prod".
ActionRequest alertRequest() {
  ActionRequest r = test::actionRequest(std::chrono::seconds{2});
  r.request_id = "alert.1.1.0";
  r.plan_id = 0;
  r.step = 0;
  r.event = "+split-brain";
  r.from = "eu-1";
  r.to.clear();
  r.reason = "writable while etcd named another primary";
  r.observer = "us";
  r.alert_key = "prod/split-brain/eu-1";
  return r;
}

TEST(ExecAction, PassesTheEventAndMapsExitCodes) {
  hale::test::TempDir dir("execaction");
  const std::string out = dir.path() + "/env";
  auto a = test::actionFromConfig("type = \"exec\"\ncommand = [\"/bin/sh\", \"-c\", \"env | grep ^HALE_ | sort > " +
                                  out + "; echo fenced\"]\n");
  const ActionResult r = a->execute(test::actionRequest(std::chrono::seconds{2}, true));
  EXPECT_EQ(r.status, ActionStatus::applied);
  EXPECT_EQ(r.detail, "fenced");
  std::ifstream in(out);
  std::string env((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(env,
            "HALE_EVENT=failover\nHALE_FORCED=1\nHALE_FROM=eu\nHALE_PLAN_ID=7\nHALE_REASON=region eu down\n"
            "HALE_REQUEST_ID=7.2\nHALE_STEP=2\nHALE_TO=us\n");  // a plan step: no alert key, no observer
  ASSERT_EQ(a->execute(alertRequest()).status, ActionStatus::applied);
  std::ifstream alert(out);
  const std::string alert_env((std::istreambuf_iterator<char>(alert)), std::istreambuf_iterator<char>());
  EXPECT_NE(alert_env.find("HALE_ALERT_KEY=prod/split-brain/eu-1\n"), std::string::npos) << alert_env;
  EXPECT_NE(alert_env.find("HALE_OBSERVER=us\n"), std::string::npos) << alert_env;

  EXPECT_EQ(test::actionFromConfig("type = \"exec\"\ncommand = [\"/bin/sh\", \"-c\", \"exit 75\"]\n")
                ->execute(test::actionRequest(std::chrono::seconds{2}, true))
                .status,
            ActionStatus::retryable);
  const ActionResult refused =
      test::actionFromConfig("type = \"exec\"\ncommand = [\"/bin/sh\", \"-c\", \"echo nope; exit 1\"]\n")
          ->execute(test::actionRequest(std::chrono::seconds{2}, true));
  EXPECT_EQ(refused.status, ActionStatus::permanent);
  EXPECT_EQ(refused.detail, "exit 1: nope");
  const ActionResult slow = test::actionFromConfig("type = \"exec\"\ncommand = [\"/bin/sleep\", \"30\"]\n")
                                ->execute(test::actionRequest(milliseconds{200}, true));
  EXPECT_EQ(slow.status, ActionStatus::retryable);
  EXPECT_NE(slow.detail.find("timed out"), std::string::npos);
}

TEST(WebhookAction, PostsJsonAndClassifiesAnswers) {
  hale::test::CannedHttpServer hook;
  auto a = test::actionFromConfig("type = \"webhook\"\nurl = \"" + hook.url("/hale") + "\"\n");
  hook.respond(204, "");
  EXPECT_EQ(a->execute(test::actionRequest(std::chrono::seconds{2}, true)).status, ActionStatus::applied);
  const std::string sent = hook.lastRequest();
  EXPECT_EQ(sent.rfind("POST /hale HTTP/1.1", 0), 0u) << sent;
  EXPECT_NE(sent.find("Idempotency-Key: hale-7.2"), std::string::npos) << sent;
  const auto body = nlohmann::json::parse(sent.substr(sent.find("\r\n\r\n") + 4));
  EXPECT_EQ(body["event"], "failover");
  EXPECT_EQ(body["from"], "eu");
  EXPECT_EQ(body["to"], "us");
  EXPECT_EQ(body["request_id"], "7.2");
  EXPECT_EQ(body["forced"], true);
  EXPECT_FALSE(body.contains("alert_key")) << body;  // a plan step
  EXPECT_FALSE(body.contains("observer")) << body;
  ASSERT_EQ(a->execute(alertRequest()).status, ActionStatus::applied);
  const std::string alert = hook.lastRequest();
  const auto alert_body = nlohmann::json::parse(alert.substr(alert.find("\r\n\r\n") + 4));
  EXPECT_EQ(alert_body["event"], "+split-brain");
  EXPECT_EQ(alert_body["alert_key"], "prod/split-brain/eu-1");
  EXPECT_EQ(alert_body["observer"], "us");

  hook.respond(503, "busy");
  EXPECT_EQ(a->execute(test::actionRequest(std::chrono::seconds{2}, true)).status, ActionStatus::retryable);
  hook.respond(429, "slow down", milliseconds{0}, "Retry-After: 3\r\n");
  const ActionResult limited = a->execute(test::actionRequest(std::chrono::seconds{2}, true));
  EXPECT_EQ(limited.status, ActionStatus::retryable);
  EXPECT_EQ(limited.retry_after, std::chrono::seconds{3});
  hook.respond(404, "no such hook");
  const ActionResult missing = a->execute(test::actionRequest(std::chrono::seconds{2}, true));
  EXPECT_EQ(missing.status, ActionStatus::permanent);
  EXPECT_EQ(missing.detail, "POST webhook: HTTP 404");
  hook.respond(200, "late", milliseconds{2000});
  const ActionResult slow = a->execute(test::actionRequest(milliseconds{300}, true));
  EXPECT_EQ(slow.status, ActionStatus::retryable);
}

TEST(WebhookAction, SlackFormatAndAuthHeaderFromASecretFile) {
  hale::test::TempDir dir("hook");
  hale::test::CannedHttpServer hook;
  const std::string secret = dir.writeFile("auth", "Authorization: Bearer s3cret\n", 0600);
  auto a = test::actionFromConfig("type = \"webhook\"\nurl = \"" + hook.url() +
                                  "\"\nformat = \"slack\"\nheader_file = \"" + secret + "\"\n");
  hook.respond(200, "ok");
  const ActionResult r = a->execute(test::actionRequest(std::chrono::seconds{2}, true));
  EXPECT_EQ(r.status, ActionStatus::applied);
  EXPECT_EQ(r.detail.find("s3cret"), std::string::npos);  // secrets never reach the journal
  const std::string sent = hook.lastRequest();
  EXPECT_NE(sent.find("Authorization: Bearer s3cret"), std::string::npos);
  const auto body = nlohmann::json::parse(sent.substr(sent.find("\r\n\r\n") + 4));
  EXPECT_EQ(body["text"], "hale: failover eu -> us (region eu down) [forced]");
  ASSERT_EQ(a->execute(alertRequest()).status, ActionStatus::applied);
  const std::string alert = hook.lastRequest();
  EXPECT_EQ(nlohmann::json::parse(alert.substr(alert.find("\r\n\r\n") + 4))["text"],
            "hale: +split-brain eu-1 (writable while etcd named another primary) [seen by us]");
}

}  // namespace
}  // namespace hale::aggregator
