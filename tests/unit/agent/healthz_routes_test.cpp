// The HTTP server on a real loopback port, fed a snapshot the test controls.

#include "healthz_routes.h"

#include <gtest/gtest.h>

#include <mutex>

#include <nlohmann/json.hpp>

#include "http_client.h"

namespace hale::agent {
namespace {

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setHealthy(true);
    ASSERT_TRUE(server_.start("127.0.0.1", 0).ok());
    ASSERT_NE(server_.port(), 0);
  }

  void setHealthy(bool healthy) {
    auto s = std::make_shared<Snapshot>();
    s->node_id = "n";
    s->region = "r";
    CheckView c;
    c.settings.name = "db";
    c.settings.type = "tcp";
    c.state.status = healthy ? heartbeat::CheckStatus::pass : heartbeat::CheckStatus::fail;
    c.has_run = true;
    c.last_run = clock_.steadyNow();
    s->checks.push_back(c);
    std::lock_guard lock(mu_);
    snapshot_ = s;
  }

  HttpResponse get(const std::string& path, const std::string& method = "GET") {
    HttpRequest r;
    r.method = method;
    r.url = "http://127.0.0.1:" + std::to_string(server_.port()) + path;
    return httpPerform(r);
  }

  std::mutex mu_;
  std::shared_ptr<const Snapshot> snapshot_;
  AgentCounters counters_;
  const Clock& clock_ = SystemClock::instance();
  HttpServer server_{healthzRoutes(
      [this] {
        std::lock_guard lock(mu_);
        return snapshot_;
      },
      counters_, SystemClock::instance())};
};

TEST_F(HttpServerTest, HealthzFollowsTheSnapshot) {
  HttpResponse r = get("/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(nlohmann::json::parse(r.body)["status"], "healthy");
  setHealthy(false);
  r = get("/healthz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(nlohmann::json::parse(r.body)["status"], "unhealthy");
}

TEST_F(HttpServerTest, HeadAnswersTheStatusWithoutABody) {
  setHealthy(false);
  const HttpResponse r = get("/healthz", "HEAD");
  EXPECT_EQ(r.status, 503);
  EXPECT_TRUE(r.body.empty());
}

TEST_F(HttpServerTest, MetricsOtherPathsAndMethods) {
  HttpResponse r = get("/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("hale_agent_healthy 1"), std::string::npos);
  EXPECT_EQ(get("/").status, 404);
  EXPECT_EQ(get("/healthz/extra").status, 404);
  r = get("/healthz", "POST");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow"), "GET, HEAD");
  EXPECT_EQ(counters_.http_requests.load(), 4u);
}

TEST_F(HttpServerTest, KeepsConnectionsAlive) {
  // libmicrohttpd closes every connection when the response is queued on the first callback; the server
  // queues on the second, so a response must not carry "Connection: close".
  const HttpResponse r = get("/healthz");
  EXPECT_NE(r.header("connection"), "close");
}

// Without details (the default off loopback) /healthz says only node, region and status: no check names,
// hosts or error messages for whoever can reach the port.
TEST(HealthzDetails, OffLoopbackOnlyTheVerdictIsShown) {
  AgentCounters counters;
  auto details = std::make_shared<std::atomic<bool>>(false);
  auto snap = std::make_shared<Snapshot>();
  snap->node_id = "n1";
  snap->region = "eu";
  CheckView c;
  c.settings.name = "db";
  c.settings.type = "postgres";
  c.message = "connection to 10.0.0.9 refused";
  snap->checks.push_back(c);
  HttpServer server(healthzRoutes([snap] { return snap; }, counters, SystemClock::instance(), details));
  ASSERT_TRUE(server.start("127.0.0.1", 0).ok());
  HttpRequest r;
  r.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/healthz";
  HttpResponse brief = httpPerform(r);
  const nlohmann::json j = nlohmann::json::parse(brief.body);
  EXPECT_EQ(j.size(), 3u) << brief.body;  // node, region, status
  EXPECT_EQ(j["node"], "n1");
  EXPECT_TRUE(j.contains("status"));
  EXPECT_EQ(brief.body.find("10.0.0.9"), std::string::npos);
  details->store(true);  // a reload turns them on, on the same listener
  HttpResponse full = httpPerform(r);
  EXPECT_NE(full.body.find("10.0.0.9"), std::string::npos) << full.body;
}

TEST(HttpServerStart, RefusesBadAddressesAndTakenPorts) {
  AgentCounters counters;
  HttpServer a(healthzRoutes([] { return std::make_shared<const Snapshot>(); }, counters, SystemClock::instance()));
  EXPECT_EQ(a.start("not-an-ip", 0).error().code, "config");
  ASSERT_TRUE(a.start("127.0.0.1", 0).ok());
  HttpServer b(healthzRoutes([] { return std::make_shared<const Snapshot>(); }, counters, SystemClock::instance()));
  const auto r = b.start("127.0.0.1", a.port());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "bind");
}

}  // namespace
}  // namespace hale::agent
