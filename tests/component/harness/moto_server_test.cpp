#include "moto_server.h"

#include <gtest/gtest.h>

#include "http_client.h"

namespace hale::test {
namespace {

HttpResponse dynamo(const MotoServer& moto, const std::string& op, const std::string& body,
                    const std::string& key = MotoServer::kAccessKey,
                    const std::string& secret = MotoServer::kSecretKey) {
  return httpPerform({.method = "POST",
                      .url = moto.endpoint() + "/",
                      .headers = {"Content-Type: application/x-amz-json-1.0", "X-Amz-Target: DynamoDB_20120810." + op},
                      .body = body,
                      .aws_sigv4 = "aws:amz:us-east-1:dynamodb",
                      .userpwd = key + ":" + secret});
}

constexpr const char* kCreateTable =
    R"({"TableName":"hale","AttributeDefinitions":[{"AttributeName":"id","AttributeType":"S"}],)"
    R"("KeySchema":[{"AttributeName":"id","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST"})";

TEST(MotoServerFixture, ServesDynamoDbAndRoute53) {
  MotoServer moto;
  moto.start();
  ASSERT_EQ(dynamo(moto, "CreateTable", kCreateTable).status, 200);
  const HttpResponse described = dynamo(moto, "DescribeTable", R"({"TableName":"hale"})");
  EXPECT_EQ(described.status, 200);
  EXPECT_NE(described.body.find("\"TableStatus\": \"ACTIVE\""), std::string::npos) << described.body;
  const HttpResponse missing = dynamo(moto, "DescribeTable", R"({"TableName":"absent"})");
  EXPECT_EQ(missing.status, 400);
  EXPECT_NE(missing.body.find("ResourceNotFoundException"), std::string::npos) << missing.body;

  const HttpResponse zone =
      httpPerform({.method = "POST",
                   .url = moto.endpoint() + "/2013-04-01/hostedzone",
                   // Without it libcurl sends a form type, which moto reads as the
                   // query protocol and answers 500.
                   .headers = {"Content-Type: text/xml"},
                   .body = "<CreateHostedZoneRequest xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">"
                           "<Name>hale.test.</Name><CallerReference>selftest</CallerReference>"
                           "</CreateHostedZoneRequest>",
                   .aws_sigv4 = "aws:amz:us-east-1:route53",
                   .userpwd = std::string(MotoServer::kAccessKey) + ":" + MotoServer::kSecretKey});
  EXPECT_EQ(zone.status, 201) << zone.body;
  EXPECT_NE(zone.body.find("<Name>hale.test.</Name>"), std::string::npos) << zone.body;
}

TEST(MotoServerFixture, IamModeChecksSignatures) {
  MotoServer moto;
  moto.start();
  const MotoServer::AccessKey key = moto.enableIamAuth();
  EXPECT_EQ(dynamo(moto, "CreateTable", kCreateTable, key.id, key.secret).status, 200);
  const HttpResponse forged = dynamo(moto, "ListTables", "{}", key.id, key.secret + "x");
  EXPECT_EQ(forged.status, 403) << forged.body;
  EXPECT_NE(forged.body.find("SignatureDoesNotMatch"), std::string::npos) << forged.body;
}

}  // namespace
}  // namespace hale::test
