// route53 against moto_server (Route 53's wire API, signatures checked in IAM mode) and, for the
// throttling answers moto never gives, a canned HTTP peer.

#include <gtest/gtest.h>

#include <algorithm>

#include "action_fixture.h"
#include "canned_http_server.h"
#include "http_client.h"
#include "moto_server.h"
#include "temp_dir.h"

namespace hale::aggregator {
namespace {

using hale::test::MotoServer;
using std::chrono::milliseconds;

class Route53Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    moto_ = new MotoServer();
    moto_->start();
    dir_ = new hale::test::TempDir("route53");
    zone_ = moto_->createHostedZone("hale.test.");
  }
  static void TearDownTestSuite() {
    delete moto_;
    delete dir_;
  }

  static std::string keys(const std::string& id, const std::string& secret) {
    return "access_key_file = \"" + dir_->writeFile("key-id", id + "\n", 0600) + "\"\nsecret_key_file = \"" +
           dir_->writeFile("key-secret", secret + "\n", 0600) + "\"\n";
  }

  static std::shared_ptr<Action> action(const std::string& endpoint, const std::string& zone, const std::string& values,
                                        const std::string& extra = "") {
    return test::actionFromConfig("type = \"route53\"\nendpoint = \"" + endpoint + "\"\nhosted_zone_id = \"" + zone +
                                  "\"\nrecord = \"app.hale.test\"\nvalues = " + values + "\nttl = 60\n" +
                                  keys(MotoServer::kAccessKey, MotoServer::kSecretKey) + extra);
  }

  // The record set as moto holds it, read with a plain signed GET.
  static std::string recordSet() {
    const HttpResponse r =
        httpPerform({.url = moto_->endpoint() + "/2013-04-01/hostedzone/" + zone_ + "/rrset?name=app.hale.test.&type=A",
                     .aws_sigv4 = "aws:amz:us-east-1:route53",
                     .userpwd = std::string(MotoServer::kAccessKey) + ":" + MotoServer::kSecretKey});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.body;
  }

  static int writes() { return moto_->requestsLogged("POST /2013-04-01/hostedzone/" + zone_ + "/rrset"); }

  static MotoServer* moto_;
  static hale::test::TempDir* dir_;
  static std::string zone_;
};
MotoServer* Route53Test::moto_ = nullptr;
hale::test::TempDir* Route53Test::dir_ = nullptr;
std::string Route53Test::zone_;

TEST_F(Route53Test, CreatesChangesAndWritesNothingWhenAlreadyRight) {
  auto to_us = action(moto_->endpoint(), zone_, "[\"198.51.100.7\"]");
  ASSERT_NE(to_us, nullptr);
  const ActionResult created = to_us->execute(test::actionRequest());
  ASSERT_EQ(created.status, ActionStatus::applied) << created.detail;
  EXPECT_NE(recordSet().find("<Value>198.51.100.7</Value>"), std::string::npos) << recordSet();
  EXPECT_EQ(to_us->verify(test::actionRequest()).status, ActionStatus::applied);
  EXPECT_EQ(writes(), 1);

  const ActionResult again = to_us->execute(test::actionRequest());
  EXPECT_EQ(again.status, ActionStatus::already_applied) << again.detail;
  EXPECT_EQ(again.detail, "app.hale.test. A already 198.51.100.7");
  EXPECT_EQ(writes(), 1) << "no write when the record is already right";

  auto to_eu = action(moto_->endpoint(), zone_, "[\"192.0.2.20\", \"192.0.2.21\"]", "wait_insync = true\n");
  const ActionResult changed = to_eu->execute(test::actionRequest());
  ASSERT_EQ(changed.status, ActionStatus::applied) << changed.detail;
  EXPECT_NE(changed.detail.find("INSYNC"), std::string::npos) << changed.detail;
  const std::string set = recordSet();
  EXPECT_NE(set.find("<Value>192.0.2.20</Value>"), std::string::npos) << set;
  EXPECT_NE(set.find("<Value>192.0.2.21</Value>"), std::string::npos) << set;
  EXPECT_EQ(set.find("198.51.100.7"), std::string::npos) << set;
  EXPECT_EQ(writes(), 2);
  // The record now disagrees with the first action, and verify says so.
  EXPECT_EQ(to_us->verify(test::actionRequest()).status, ActionStatus::permanent);
}

TEST_F(Route53Test, AnUnknownZoneIsPermanent) {
  const ActionResult r = action(moto_->endpoint(), "ZNOSUCHZONE", "[\"198.51.100.7\"]")->execute(test::actionRequest());
  EXPECT_EQ(r.status, ActionStatus::permanent) << r.detail;
  EXPECT_NE(r.detail.find("NoSuchHostedZone"), std::string::npos) << r.detail;
}

TEST_F(Route53Test, ThrottlingAndPriorRequestNotCompleteAreRetryable) {
  hale::test::CannedHttpServer aws;
  auto a = action(aws.url(""), "Z1", "[\"198.51.100.7\"]");
  for (const char* code : {"Throttling", "PriorRequestNotComplete"}) {
    aws.respond(400, std::string("<ErrorResponse><Error><Type>Sender</Type><Code>") + code +
                         "</Code><Message>Rate exceeded</Message></Error></ErrorResponse>");
    const ActionResult r = a->execute(test::actionRequest());
    EXPECT_EQ(r.status, ActionStatus::retryable) << r.detail;
    EXPECT_NE(r.detail.find(code), std::string::npos) << r.detail;
  }
  aws.respond(400,
              "<ErrorResponse><Error><Code>InvalidChangeBatch</Code><Message>bad</Message></Error></ErrorResponse>");
  EXPECT_EQ(a->execute(test::actionRequest()).status, ActionStatus::permanent);
  aws.respond(503, "");
  EXPECT_EQ(a->execute(test::actionRequest()).status, ActionStatus::retryable);
  aws.respond(200, "<ListResourceRecordSetsResponse/>", milliseconds{2000});
  const ActionResult stalled = a->execute(test::actionRequest(milliseconds{300}));
  EXPECT_EQ(stalled.status, ActionStatus::retryable) << stalled.detail;
  EXPECT_NE(stalled.detail.find("timeout"), std::string::npos) << stalled.detail;
}

TEST_F(Route53Test, WaitsForInsyncAndResumesTheSameChangeAfterADeadline) {
  hale::test::CannedHttpServer aws;
  auto a = action(aws.url(""), "Z1", "[\"198.51.100.7\"]", "wait_insync = true\n");
  const std::string pending =
      "<GetChangeResponse><ChangeInfo><Id>/change/C42</Id><Status>PENDING</Status>"
      "</ChangeInfo></GetChangeResponse>";
  aws.enqueue(200, "<ListResourceRecordSetsResponse><ResourceRecordSets/></ListResourceRecordSetsResponse>");
  aws.enqueue(200,
              "<ChangeResourceRecordSetsResponse><ChangeInfo><Id>/change/C42</Id><Status>PENDING</Status>"
              "</ChangeInfo></ChangeResourceRecordSetsResponse>");
  aws.respond(200, pending);
  // Still PENDING when this attempt's time is up: retryable.
  const ActionResult first = a->execute(test::actionRequest(milliseconds{1500}));
  EXPECT_EQ(first.status, ActionStatus::retryable) << first.detail;
  EXPECT_EQ(first.detail, "change C42 still PENDING");
  // The retry waits for the same change: no second write.
  aws.enqueue(200, pending);
  aws.respond(200,
              "<GetChangeResponse><ChangeInfo><Id>/change/C42</Id><Status>INSYNC</Status></ChangeInfo>"
              "</GetChangeResponse>");
  const ActionResult second = a->execute(test::actionRequest(milliseconds{5000}));
  EXPECT_EQ(second.status, ActionStatus::applied) << second.detail;
  EXPECT_EQ(second.detail, "app.hale.test. A -> 198.51.100.7 (change C42 INSYNC)");
  const std::vector<std::string> lines = aws.requests();
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(), [](const std::string& l) { return l.rfind("POST", 0) == 0; }), 1);
  EXPECT_EQ(lines.back(), "GET /2013-04-01/change/C42 HTTP/1.1");
}

// Its own moto: IAM mode is server-wide.
TEST(Route53IamMode, TheRightSecretWorksAndAWrongOneIsPermanent) {
  MotoServer moto;
  moto.start();
  const MotoServer::AccessKey key = moto.enableIamAuth();
  const std::string zone = moto.createHostedZone("iam.test.", key);
  hale::test::TempDir dir("route53-iam");
  auto make = [&](const std::string& secret) {
    return test::actionFromConfig("type = \"route53\"\nendpoint = \"" + moto.endpoint() + "\"\nhosted_zone_id = \"" +
                                  zone + "\"\nrecord = \"app.iam.test\"\nvalues = [\"198.51.100.7\"]\n" +
                                  "access_key_file = \"" + dir.writeFile("id", key.id, 0600) +
                                  "\"\nsecret_key_file = \"" +
                                  dir.writeFile("secret-" + std::to_string(secret.size()), secret, 0600) + "\"\n");
  };
  const ActionResult forged = make(key.secret + "x")->execute(test::actionRequest());
  EXPECT_EQ(forged.status, ActionStatus::permanent) << forged.detail;
  EXPECT_NE(forged.detail.find("HTTP 403"), std::string::npos) << forged.detail;
  const ActionResult right = make(key.secret)->execute(test::actionRequest());
  EXPECT_EQ(right.status, ActionStatus::applied) << right.detail;
}

}  // namespace
}  // namespace hale::aggregator
