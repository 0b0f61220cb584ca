#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "canned_http_server.h"
#include "check_runner.h"
#include "http_client.h"
#include "moto_server.h"
#include "ports.h"
#include "process.h"
#include "temp_dir.h"
#include "test_certificates.h"

namespace hale::agent {
namespace {

using hale::test::MotoServer;
using std::chrono::milliseconds;
using test::runCheck;

// Creates the table "app" the checks probe, on the DynamoDB endpoint `endpoint` (moto).
HttpResponse createAppTable(const std::string& endpoint, const std::string& ca_file = "") {
  return httpPerform(
      {.method = "POST",
       .url = endpoint + "/",
       .headers = {"Content-Type: application/x-amz-json-1.0", "X-Amz-Target: DynamoDB_20120810.CreateTable"},
       .body = nlohmann::json({{"TableName", "app"},
                               {"AttributeDefinitions", {{{"AttributeName", "pk"}, {"AttributeType", "S"}}}},
                               {"KeySchema", {{{"AttributeName", "pk"}, {"KeyType", "HASH"}}}},
                               {"BillingMode", "PAY_PER_REQUEST"}})
                   .dump(),
       .ca_file = ca_file,
       .aws_sigv4 = "aws:amz:eu-west-1:dynamodb",
       .userpwd = std::string(MotoServer::kAccessKey) + ":" + MotoServer::kSecretKey});
}

class DynamodbCheckTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    moto_ = new MotoServer();
    moto_->start();
    dir_ = new hale::test::TempDir("ddbcheck");
    writeKeys(MotoServer::kAccessKey, MotoServer::kSecretKey);
    ASSERT_EQ(createAppTable(moto_->endpoint()).status, 200);
  }
  static void TearDownTestSuite() {
    delete moto_;
    delete dir_;
  }
  static void writeKeys(const std::string& id, const std::string& secret) {
    access_file_ = dir_->writeFile("ak", id, 0600);
    secret_file_ = dir_->writeFile("sk", secret, 0600);
  }
  static HttpResponse call(const std::string& op, const nlohmann::json& body) {
    HttpRequest r;
    r.method = "POST";
    r.url = moto_->endpoint() + "/";
    r.headers = {"Content-Type: application/x-amz-json-1.0", "X-Amz-Target: DynamoDB_20120810." + op};
    r.body = body.dump();
    r.aws_sigv4 = "aws:amz:eu-west-1:dynamodb";
    r.userpwd = std::string(MotoServer::kAccessKey) + ":" + MotoServer::kSecretKey;
    return httpPerform(r);
  }
  static void putHeartbeat(double unix_seconds) {
    ASSERT_EQ(
        call("PutItem", {{"TableName", "app"},
                         {"Item", {{"pk", {{"S", "hale-heartbeat"}}}, {"ts", {{"N", std::to_string(unix_seconds)}}}}}})
            .status,
        200);
  }
  static std::string conf(const std::string& extra, const std::string& endpoint = "") {
    return "type = \"dynamodb\"\nregion = \"eu-west-1\"\nendpoint = \"" +
           (endpoint.empty() ? moto_->endpoint() : endpoint) + "\"\naccess_key_file = \"" + access_file_ +
           "\"\nsecret_key_file = \"" + secret_file_ + "\"\n" + extra;
  }
  static double nowSeconds() { return static_cast<double>(toUnixMillis(SystemClock::instance().wallNow())) / 1000.0; }

  static MotoServer* moto_;
  static hale::test::TempDir* dir_;
  static std::string access_file_;
  static std::string secret_file_;
};
MotoServer* DynamodbCheckTest::moto_ = nullptr;
hale::test::TempDir* DynamodbCheckTest::dir_ = nullptr;
std::string DynamodbCheckTest::access_file_;
std::string DynamodbCheckTest::secret_file_;

TEST_F(DynamodbCheckTest, ActiveTablePasses) {
  auto r = runCheck(conf("table = \"app\"\n"));
  EXPECT_OUTCOME(r, Outcome::pass);
  EXPECT_EQ(r.result.message, "table ACTIVE");
}

TEST_F(DynamodbCheckTest, MissingTableFailsWithTheApiError) {
  auto r = runCheck(conf("table = \"absent\"\n"));
  EXPECT_OUTCOME(r, Outcome::fail);
  EXPECT_NE(r.result.message.find("DescribeTable: HTTP 400 ResourceNotFoundException"), std::string::npos)
      << r.result.message;
}

// Throttling and 5xx are DynamoDB's own trouble for a moment, not this node's: errors, subject to `fall`,
// never a definitive failure of every node at once. An answer without what it must hold is an error too.
TEST_F(DynamodbCheckTest, ThrottlingServerErrorsAndOddAnswersAreTransientNotDefinitive) {
  hale::test::CannedHttpServer api;
  const std::string endpoint = "http://127.0.0.1:" + std::to_string(api.port());
  const struct {
    int status;
    std::string body;
    std::string expect;
  } cases[] = {
      {400, R"({"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds"})",
       "DescribeTable: HTTP 400 ThrottlingException"},
      {400, R"({"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow"})",
       "ProvisionedThroughputExceededException"},
      {500, R"({"__type":"com.amazon.coral.service#InternalFailure"})", "DescribeTable: HTTP 500"},
      {503, "Service Unavailable", "DescribeTable: HTTP 503"},
      {200, R"({"NotATable":{}})", "DescribeTable: the answer has no Table"},
      {200, R"({"Table":"ACTIVE"})", "DescribeTable: the answer has no Table"},
  };
  for (const auto& c : cases) {
    api.respond(c.status, c.body);
    auto r = runCheck(conf("table = \"app\"\n", endpoint));
    EXPECT_OUTCOME(r, Outcome::error);
    EXPECT_NE(r.result.message.find(c.expect), std::string::npos) << r.result.message;
  }
  // A definitive API error stays one.
  api.respond(400, R"({"__type":"com.amazonaws.dynamodb.v20120810#AccessDeniedException","message":"no"})");
  EXPECT_OUTCOME(runCheck(conf("table = \"app\"\n", endpoint)), Outcome::fail);
}

TEST_F(DynamodbCheckTest, CredentialsThatCannotBeReadAreAnErrorNotAFailure) {
  // Read at every probe (rotated keys are picked up): a file gone for a moment is our trouble, not the
  // table's.
  const std::string ak = dir_->writeFile("ak-rotating", MotoServer::kAccessKey, 0600);
  auto check = test::makeCheck("type = \"dynamodb\"\nregion = \"eu-west-1\"\nendpoint = \"" + moto_->endpoint() +
                               "\"\naccess_key_file = \"" + ak + "\"\nsecret_key_file = \"" + secret_file_ +
                               "\"\ntable = \"app\"\n");
  ASSERT_NE(check, nullptr);
  EXPECT_OUTCOME(runCheck(*check, milliseconds{2000}), Outcome::pass);
  ASSERT_EQ(::unlink(ak.c_str()), 0);
  EXPECT_OUTCOME(runCheck(*check, milliseconds{2000}), Outcome::error);
}

TEST_F(DynamodbCheckTest, SilentEndpointFailsAtTheTimeout) {
  const hale::test::LoopbackListener silent;  // accepts connections, never answers
  auto r = runCheck(conf("table = \"app\"\n", "http://127.0.0.1:" + std::to_string(silent.port())), milliseconds{500});
  EXPECT_OUTCOME(r, Outcome::error);
  EXPECT_EQ(r.result.message, "no answer within the timeout");
  EXPECT_GE(r.elapsed, milliseconds{450});
  EXPECT_LT(r.elapsed, milliseconds{1500});
}

TEST_F(DynamodbCheckTest, HeartbeatItemAge) {
  const std::string item = "table = \"app\"\nmode = \"item\"\nmax_age = \"60s\"\n";
  putHeartbeat(nowSeconds() - 5);
  auto fresh = runCheck(conf(item));
  EXPECT_OUTCOME(fresh, Outcome::pass);
  putHeartbeat(nowSeconds() - 600);
  auto stale = runCheck(conf(item));
  EXPECT_OUTCOME(stale, Outcome::fail);
  EXPECT_NE(stale.result.message.find("old (limit 60.0s)"), std::string::npos) << stale.result.message;
  auto missing = runCheck(conf(item + "key_value = \"nobody\"\n"));
  EXPECT_OUTCOME(missing, Outcome::fail);
  EXPECT_EQ(missing.result.message, "heartbeat item nobody not found");
}

TEST_F(DynamodbCheckTest, WriteProbeReadsBackWhatItWrote) {
  auto r = runCheck(conf("table = \"app\"\nwrite_probe = true\n"));
  EXPECT_OUTCOME(r, Outcome::pass);
  EXPECT_EQ(r.result.message, "table ACTIVE, write probe ok");
}

TEST_F(DynamodbCheckTest, SignaturesAreCheckedInIamMode) {
  // Last: IAM mode stays on for the rest of this server's life.
  const MotoServer::AccessKey key = moto_->enableIamAuth();
  writeKeys(key.id, key.secret);
  EXPECT_OUTCOME(runCheck(conf("table = \"app\"\n")), Outcome::pass);
  writeKeys(key.id, key.secret + "-wrong");
  auto r = runCheck(conf("table = \"app\"\n"));
  EXPECT_OUTCOME(r, Outcome::fail);
  EXPECT_NE(r.result.message.find("HTTP 403"), std::string::npos) << r.result.message;
  // moto answers an auth failure in XML, as AWS's query protocols do; the code is read from either shape.
  EXPECT_NE(r.result.message.find("SignatureDoesNotMatch"), std::string::npos) << r.result.message;
}

// #16: an endpoint behind a private CA is trusted through ca_file and only through it. A ca_file that cannot be read is
// a configuration error, not a failing probe.
TEST_F(DynamodbCheckTest, APrivateCaIsTrustedThroughCaFile) {
  hale::test::TempDir dir("ddbtls");
  const hale::test::TestCertificates certs(dir.path());
  MotoServer tls;
  tls.useTls(certs.server_cert, certs.server_key, certs.ca_file);
  tls.start();
  ASSERT_EQ(tls.endpoint().rfind("https://", 0), 0u);
  ASSERT_EQ(createAppTable(tls.endpoint(), certs.ca_file).status, 200);

  auto untrusted = runCheck(conf("table = \"app\"\n", tls.endpoint()));
  EXPECT_OUTCOME(untrusted, Outcome::error);
  EXPECT_NE(untrusted.result.message.find("certificate"), std::string::npos) << untrusted.result.message;

  auto check = test::makeCheck(conf("table = \"app\"\nca_file = \"" + certs.ca_file + "\"\n", tls.endpoint()));
  ASSERT_NE(check, nullptr);
  for (int i = 0; i < 5; ++i) {
    auto r = runCheck(*check, milliseconds{3000});
    EXPECT_OUTCOME(r, Outcome::pass);
  }

  auto wrong_ca = runCheck(conf("table = \"app\"\nca_file = \"" + certs.client_cert + "\"\n", tls.endpoint()));
  EXPECT_OUTCOME(wrong_ca, Outcome::error);

  auto unreadable = parseAgentConfig("region = \"t\"\n[[check]]\nname = \"c\"\n" +
                                         conf("table = \"app\"\nca_file = \"" + dir.path() + "/absent.pem\"\n"),
                                     "test.toml");
  ASSERT_FALSE(unreadable);
  EXPECT_NE(unreadable.error().message.find("ca_file"), std::string::npos) << unreadable.error().message;
}

// #16: probes reuse one TLS connection, so one handshake serves many probes (a fresh one costs 26-37 ms of CPU);
// a connection the server closes is followed by a new one that resumes the TLS session. moto closes every
// connection, so the endpoint is nginx with TLS in front of it, logging each request's connection, its count
// on that connection and whether the handshake resumed a session.
TEST_F(DynamodbCheckTest, ProbesKeepOneTlsConnectionAndResumeTheSessionOnANewOne) {
  hale::test::TempDir dir("ddbreuse");
  const hale::test::TestCertificates certs(dir.path());
  const uint16_t port = hale::test::freeLoopbackPort();
  const std::string log = dir.path() + "/access.log";
  MotoServer moto;  // its own: the suite's checks signatures once SignaturesAreCheckedInIamMode has run
  moto.start();
  ASSERT_EQ(createAppTable(moto.endpoint()).status, 200);
  const std::string upstream = moto.endpoint().substr(std::string("http://").size());
  const std::string nginx_conf = dir.writeFile(
      "nginx.conf",
      "daemon off;\nworker_processes 1;\npid " + dir.path() + "/nginx.pid;\nerror_log " + dir.path() +
          "/error.log;\nevents { worker_connections 64; }\nhttp {\n"
          "  log_format reuse '$connection $connection_requests $ssl_session_reused';\n"
          "  access_log " +
          log + " reuse;\n  client_body_temp_path " + dir.path() + "/body;\n  proxy_temp_path " + dir.path() +
          "/proxy;\n  keepalive_requests 4;\n  keepalive_timeout 60s;\n  server {\n    listen 127.0.0.1:" +
          std::to_string(port) +
          " ssl;\n    ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_session_cache shared:tls:1m;\n    ssl_certificate " +
          certs.server_cert + ";\n    ssl_certificate_key " + certs.server_key +
          ";\n    location / { proxy_pass http://" + upstream + "; proxy_set_header Host $http_host; }\n  }\n}\n");
  hale::test::ChildProcess nginx(hale::test::SpawnOptions{.argv = {"nginx", "-c", nginx_conf, "-p", dir.path()},
                                                          .log_path = dir.path() + "/nginx.log"});
  const std::string endpoint = "https://127.0.0.1:" + std::to_string(port);
  ASSERT_TRUE(hale::test::waitFor(
      [&] { return httpPerform({.url = endpoint + "/moto-api/data.json", .ca_file = certs.ca_file}).status == 200; },
      milliseconds{10000}))
      << nginx.logTail();
  // nginx logs a request once it has answered it: the readiness request's line may come a moment later.
  ASSERT_TRUE(hale::test::waitFor([&] { return !hale::test::readFile(log).empty(); }, milliseconds{5000}));
  const size_t before = hale::test::readFile(log).size();

  auto check = test::makeCheck(conf("table = \"app\"\nca_file = \"" + certs.ca_file + "\"\n", endpoint));
  ASSERT_NE(check, nullptr);
  for (int i = 0; i < 6; ++i) EXPECT_OUTCOME(runCheck(*check, milliseconds{3000}), Outcome::pass);

  // nginx closes a connection after its 4th request: probes 1-4 share the first, 5-6 the second.
  auto logged = [&] { return hale::test::readFile(log).substr(before); };
  EXPECT_TRUE(hale::test::waitFor([&] { return std::ranges::count(logged(), '\n') >= 6; }, milliseconds{5000}));
  std::istringstream lines(logged());
  std::vector<std::string> connection;
  std::vector<int> request;
  std::vector<std::string> resumed;
  for (std::string c, r, reused; lines >> c >> r >> reused;) {
    connection.push_back(c);
    request.push_back(std::stoi(r));
    resumed.push_back(reused);
  }
  ASSERT_EQ(connection.size(), 6u) << hale::test::readFile(log);
  EXPECT_EQ(request, (std::vector<int>{1, 2, 3, 4, 1, 2}));
  EXPECT_EQ(std::set<std::string>(connection.begin(), connection.begin() + 4).size(), 1u);
  EXPECT_NE(connection[4], connection[0]);
  EXPECT_EQ(connection[5], connection[4]);
  EXPECT_EQ(resumed[0], ".") << "the first handshake is a full one";
  EXPECT_EQ(resumed[4], "r") << "the second connection resumes the first one's TLS session";
}

}  // namespace
}  // namespace hale::agent
