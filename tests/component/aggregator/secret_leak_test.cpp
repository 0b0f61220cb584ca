// No secret leaves the process: a real aggregator and agent configured with a secret of every kind (API
// token, webhook header, TSIG secret, database password, CURVE secret keys), a provider that echoes the
// token in its error answer, a failed plan and its alert; then the logs, the journal, every socket answer,
// /metrics, /healthz and the environments of exec children are searched for each secret. Labelled `security`.

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "canned_http_server.h"
#include "curve_ring.h"
#include "hale_processes.h"
#include "http_client.h"
#include "temp_dir.h"

namespace hale {
namespace {

using std::chrono::milliseconds;
using test::waitFor;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string randomSecret(const std::string& tag) {
  std::random_device rd;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
  return tag + "-" + buf;
}

std::string get(uint16_t port, const std::string& path) {
  HttpRequest r;
  r.url = "http://127.0.0.1:" + std::to_string(port) + path;
  r.timeout = milliseconds{2000};
  return httpPerform(r).body;
}

TEST(SecretLeak, NoConfiguredSecretReachesLogsJournalAnswersMetricsOrChildren) {
  test::TempDir dir("leak");
  const std::string token = randomSecret("linode-token");
  const std::string header = randomSecret("hook-bearer");
  const std::string tsig = "c2VjcmV0LXRzaWcta2V5LXZhbHVl" + randomSecret("");  // base64-looking
  const std::string db_password = randomSecret("db-password");
  const std::string token_file = dir.writeFile("linode-token", token + "\n", 0600);
  const std::string header_file = dir.writeFile("hook-header", "Authorization: Bearer " + header + "\n", 0600);
  const std::string tsig_file = dir.writeFile("tsig", tsig + "\n", 0600);
  const std::string db_file = dir.writeFile("db-password", db_password + "\n", 0600);

  // A provider that repeats what it was sent in its refusal, as some do.
  test::CannedHttpServer api;
  api.respond(401, "{\"errors\":[{\"reason\":\"invalid token Bearer " + token + " / " + header + "\"}]}");

  test::AggregatorProcess agg(
      dir,
      "[detection]\nstartup_grace = \"0s\"\n[guards]\nmin_failover_interval = \"0s\"\n"
      "[[region]]\nname = \"eu\"\nrole = \"active\"\nnodes = [\"eu-1\"]\n"
      "[[region]]\nname = \"us\"\nnodes = [\"us-1\"]\n"
      "[[action]]\nname = \"env\"\ntype = \"exec\"\ncommand = [\"/bin/sh\", \"-c\", \"env > " +
          dir.path() +
          "/action-env\"]\n"
          "[[action]]\nname = \"dns\"\ntype = \"linode_dns\"\napi_url = \"" +
          api.url("/v4") + "\"\ntoken_file = \"" + token_file +
          "\"\ndomain_id = 1\nrecord_id = 2\ntarget = \"192.0.2.1\"\nattempts = 1\n"
          "[[action]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"" +
          api.url("/hook") + "\"\nheader_file = \"" + header_file +
          "\"\n"
          "[[action]]\nname = \"tsig\"\ntype = \"rfc2136\"\nserver = \"127.0.0.1\"\nport = 1\nzone = \"example.com\"\n"
          "record = \"app.example.com\"\nvalues = [\"192.0.2.1\"]\nkey_name = \"k\"\nkey_secret_file = \"" +
          tsig_file +
          "\"\n"
          "[[plan]]\nfrom = \"eu\"\nto = \"us\"\nsteps = [\"env\", \"dns\", \"tsig\"]\non_failure = [\"hook\"]\n"
          "[alerts]\nactions = [\"hook\"]\nevents = [\"-plan-failed\"]\n");
  agg.start();
  test::AgentProcess agent(
      dir, "eu-1", "eu", {agg.endpoint()},
      "heartbeat_interval = \"200ms\"\n"
      "[[check]]\nname = \"db\"\ntype = \"postgres\"\nconninfo = \"host=127.0.0.1 port=1 user=hale dbname=x\"\n"
      "password_file = \"" +
          db_file +
          "\"\ninterval = \"500ms\"\ntimeout = \"400ms\"\n"
          "[[check]]\nname = \"env\"\ntype = \"exec\"\ncommand = [\"/bin/sh\", \"-c\", \"env > " +
          dir.path() + "/check-env; echo ok\"]\ninterval = \"500ms\"\ntimeout = \"400ms\"\n");
  agent.start();

  const test::CommandResult failover = agg.halectl({"failover", "--to", "us", "--force"});
  ASSERT_EQ(failover.exit_code, 0) << failover.output;
  ASSERT_TRUE(waitFor(
      [&] {
        const nlohmann::json p = agg.json({"plans", "--limit", "1"});
        return p.is_array() && !p.empty() && p[0]["state"] == "failed";
      },
      milliseconds{15000}))
      << agg.halectl({"plans"}).output << agg.log();
  ASSERT_TRUE(waitFor([&] { return api.requests().size() >= 2; }, milliseconds{5000}));  // the step, the alert
  ASSERT_TRUE(waitFor([&] { return !slurp(dir.path() + "/check-env").empty(); }, milliseconds{5000}));

  // The secrets were really used (so not finding them below means something).
  bool sent_token = false;
  bool sent_header = false;
  for (const std::string& r : api.fullRequests()) {
    sent_token |= r.find(token) != std::string::npos;
    sent_header |= r.find(header) != std::string::npos;
  }
  EXPECT_TRUE(sent_token);
  EXPECT_TRUE(sent_header);

  std::vector<std::pair<std::string, std::string>> places = {
      {"aggregator log", agg.log()},
      {"agent log", agent.log()},
      {"journal", agg.halectl({"journal", "--limit", "1000", "--json"}).output},
      {"plans", agg.halectl({"plans", "--json"}).output},
      {"aggregator status", agg.halectl({"raw", "status"}).output},
      {"regions", agg.halectl({"regions", "--json"}).output},
      {"nodes", agg.halectl({"nodes", "--json"}).output},
      {"aggregator metrics", agg.metrics()},
      {"agent status", test::halectl(agent.socket(), {"raw", "status"}).output},
      {"agent checks", test::halectl(agent.socket(), {"checks", "--json"}).output},
      {"agent healthz", get(agent.httpPort(), "/healthz")},
      {"agent metrics", get(agent.httpPort(), "/metrics")},
      {"exec action environment", slurp(dir.path() + "/action-env")},
      {"exec check environment", slurp(dir.path() + "/check-env")},
      {"journal file", slurp(agg.journalPath())},
  };
  const std::vector<std::pair<std::string, std::string>> secrets = {
      {"linode token", token},
      {"webhook header", header},
      {"tsig secret", tsig},
      {"database password", db_password},
      {"aggregator CURVE secret", test::curveKeys(dir, "aggregator-aggregator").secret_key},
      {"agent CURVE secret", test::curveKeys(dir, "agent-eu-1").secret_key},
  };
  for (const auto& [where, text] : places) {
    EXPECT_FALSE(text.empty()) << where << " is empty: nothing was searched";
    for (const auto& [what, secret] : secrets) {
      EXPECT_EQ(text.find(secret), std::string::npos) << "the " << what << " leaked into the " << where;
    }
  }
  // The echoed token was there to leak, and was redacted where it was kept.
  EXPECT_NE(places[2].second.find("[redacted]"), std::string::npos) << places[2].second;
}

}  // namespace
}  // namespace hale
