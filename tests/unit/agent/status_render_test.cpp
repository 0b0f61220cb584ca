#include "status_render.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace hale::agent {
namespace {

using std::chrono::milliseconds;

Snapshot sampleSnapshot(SteadyTime now) {
  Snapshot s;
  s.node_id = "app-\"1\"";
  s.region = "eu";
  CheckView db;
  db.settings.name = "db";
  db.settings.type = "postgres";
  db.settings.interval = milliseconds{1000};
  db.settings.timeout = milliseconds{500};
  db.state.status = heartbeat::CheckStatus::pass;
  db.has_run = true;
  db.last_run = now - milliseconds{300};
  db.latency_us = 850;
  db.message = "primary\nwith \"quotes\" and \x01 control";
  db.outcomes[0] = 7;
  CheckView disk = db;
  disk.settings.name = "disk";
  disk.settings.type = "exec";
  disk.settings.critical = false;
  disk.state.status = heartbeat::CheckStatus::warn;
  disk.message = "82% used";
  s.checks = {db, disk};
  return s;
}

TEST(StatusRender, HealthzIsValidJsonWithEveryField) {
  const SteadyTime now = SteadyTime{} + std::chrono::hours{5};
  std::string out;
  renderHealthz(sampleSnapshot(now), now, out);
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["node"], "app-\"1\"");
  EXPECT_EQ(j["region"], "eu");
  EXPECT_EQ(j["status"], "degraded");
  ASSERT_EQ(j["checks"].size(), 2u);
  EXPECT_EQ(j["checks"][0]["name"], "db");
  EXPECT_EQ(j["checks"][0]["type"], "postgres");
  EXPECT_EQ(j["checks"][0]["status"], "pass");
  EXPECT_EQ(j["checks"][0]["critical"], true);
  EXPECT_EQ(j["checks"][0]["age_ms"], 300);
  EXPECT_EQ(j["checks"][0]["latency_us"], 850);
  EXPECT_EQ(j["checks"][0]["message"], "primary\nwith \"quotes\" and \x01 control");
  EXPECT_EQ(j["checks"][1]["critical"], false);
}

TEST(StatusRender, StaleAndUnrunChecksAreNotHealthy) {
  const SteadyTime now = SteadyTime{} + std::chrono::hours{5};
  Snapshot s = sampleSnapshot(now);
  s.checks[0].last_run = now - milliseconds{2501};  // past 2 x interval + timeout
  std::string out;
  renderHealthz(s, now, out);
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["checks"][0]["status"], "fail");
  EXPECT_EQ(j["status"], "unhealthy");

  s.checks[0].has_run = false;
  renderHealthz(s, now, out);
  j = nlohmann::json::parse(out);
  EXPECT_EQ(j["checks"][0]["status"], "unknown");
  EXPECT_EQ(j["checks"][0]["age_ms"], -1);
  EXPECT_EQ(j["status"], "unhealthy");
}

TEST(StatusRender, MetricsAreWellFormedPrometheusText) {
  const SteadyTime now = SteadyTime{} + std::chrono::hours{5};
  AgentCounters counters;
  counters.heartbeats_sent = 42;
  std::string out;
  renderMetrics(sampleSnapshot(now), now, counters, out);
  EXPECT_NE(out.find("hale_agent_healthy 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("hale_agent_node_status 1\n"), std::string::npos);
  EXPECT_NE(out.find("hale_agent_check_status{check=\"db\"} 0\n"), std::string::npos);
  EXPECT_NE(out.find("hale_agent_check_status{check=\"disk\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find("hale_agent_check_latency_seconds{check=\"db\"} 0.000850\n"), std::string::npos);
  EXPECT_NE(out.find("hale_agent_check_runs_total{check=\"db\",outcome=\"pass\"} 7\n"), std::string::npos);
  EXPECT_NE(out.find("hale_agent_heartbeats_sent_total 42\n"), std::string::npos);
  // Every line is a comment or "name{labels} value".
  size_t start = 0;
  while (start < out.size()) {
    const size_t nl = out.find('\n', start);
    ASSERT_NE(nl, std::string::npos);
    const std::string line = out.substr(start, nl - start);
    if (line[0] != '#') {
      EXPECT_EQ(std::count(line.begin(), line.end(), ' '), 1) << line;
    }
    start = nl + 1;
  }
}

}  // namespace
}  // namespace hale::agent
