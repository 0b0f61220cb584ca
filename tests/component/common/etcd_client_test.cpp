// The etcd client against a real etcd (leases, transactions, prefixes, expiry), a dead endpoint before a
// live one, and answers etcd would never give (a canned server).

#include "etcd_client.h"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "canned_http_server.h"
#include "etcd_server.h"
#include "ports.h"
#include "process.h"
#include "temp_dir.h"
#include "test_certificates.h"

namespace hale::etcd {
namespace {

using std::chrono::milliseconds;

class EtcdClient : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new test::EtcdServer();
    server_->start();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static Client client() { return Client(Options{.endpoints = {server_->endpoint()}}); }
  static test::EtcdServer* server_;
};
test::EtcdServer* EtcdClient::server_ = nullptr;

TEST_F(EtcdClient, PutIfAbsentOnALeaseThenReadBackAndLoseItWithTheLease) {
  Client c = client();
  auto lease = c.grant(milliseconds{2000});
  ASSERT_TRUE(lease) << lease.error().message;
  EXPECT_GE(lease.value().ttl, milliseconds{2000});
  // Binary-safe keys and values (base64 on the wire).
  const std::string key = std::string("/t/leader\x01\xff", 11);
  const std::string value = std::string("a\0b\xfe", 4);
  auto first = c.txn({createRevisionIs(key, 0)}, {put(key, value, lease.value().id), get(key)}, {get(key)});
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first.value().succeeded);
  ASSERT_EQ(first.value().ranges.size(), 1u);
  ASSERT_EQ(first.value().ranges[0].size(), 1u);
  const KeyValue kv = first.value().ranges[0][0];
  EXPECT_EQ(kv.key, key);
  EXPECT_EQ(kv.value, value);
  EXPECT_EQ(kv.lease, lease.value().id);
  EXPECT_GT(kv.create_revision, 0);

  // A second put-if-absent fails and reads the holder instead.
  auto second = c.txn({createRevisionIs(key, 0)}, {put(key, "other")}, {get(key)});
  ASSERT_TRUE(second);
  EXPECT_FALSE(second.value().succeeded);
  EXPECT_EQ(second.value().ranges[0][0].create_revision, kv.create_revision);

  auto renewed = c.keepAlive(lease.value().id);
  ASSERT_TRUE(renewed);
  EXPECT_GT(renewed.value().count(), 0);
  ASSERT_TRUE(c.revoke(lease.value().id));
  auto gone = c.range(key);
  ASSERT_TRUE(gone);
  EXPECT_TRUE(gone.value().empty());
  auto dead = c.keepAlive(lease.value().id);
  ASSERT_TRUE(dead);
  EXPECT_EQ(dead.value().count(), 0);  // a lease that no longer exists renews to 0
}

TEST_F(EtcdClient, PrefixRangesAndCompareAndSwapOnModRevision) {
  Client c = client();
  ASSERT_TRUE(c.txn({}, {put("/p/a", "1"), put("/p/b", "2"), put("/q/c", "3")}));
  auto all = c.range("/p/", true);
  ASSERT_TRUE(all);
  ASSERT_EQ(all.value().size(), 2u);
  EXPECT_EQ(all.value()[0].key, "/p/a");
  const int64_t rev = all.value()[1].mod_revision;
  auto swapped = c.txn({modRevisionIs("/p/b", rev)}, {put("/p/b", "3")});
  ASSERT_TRUE(swapped);
  EXPECT_TRUE(swapped.value().succeeded);
  auto stale = c.txn({modRevisionIs("/p/b", rev)}, {put("/p/b", "4")});
  ASSERT_TRUE(stale);
  EXPECT_FALSE(stale.value().succeeded);
  EXPECT_EQ(c.range("/p/b").value()[0].value, "3");
  ASSERT_TRUE(c.txn({}, {erase("/p/a")}));
  EXPECT_EQ(c.range("/p/", true).value().size(), 1u);
}

TEST_F(EtcdClient, ADeadEndpointIsSkippedAndTheLiveOneRemembered) {
  const std::string dead = "http://127.0.0.1:" + std::to_string(test::freeLoopbackPort());
  Client c(Options{.endpoints = {dead, server_->endpoint()}, .timeout = milliseconds{500}});
  auto r = c.range("/nothing");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(c.endpoint(), server_->endpoint());
}

TEST_F(EtcdClient, NoEndpointAnsweringIsAnErrorNamingIt) {
  const std::string dead = "http://127.0.0.1:" + std::to_string(test::freeLoopbackPort());
  Client c(Options{.endpoints = {dead}, .timeout = milliseconds{300}});
  auto r = c.grant(milliseconds{2000});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "etcd_unreachable");
  EXPECT_NE(r.error().message.find(dead), std::string::npos);
}

TEST(EtcdClientAnswers, ErrorsAndMalformedAnswersAreErrorsNeverGuesses) {
  test::CannedHttpServer fake;
  Client c(Options{.endpoints = {fake.url("")}, .timeout = milliseconds{1000}});
  fake.enqueue(400, R"({"error":"etcdserver: requested lease not found","code":5})");
  auto lost = c.keepAlive(7);
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code, "etcd_error");
  EXPECT_NE(lost.error().message.find("requested lease not found"), std::string::npos);

  fake.enqueue(200, "not json");
  EXPECT_EQ(c.range("/k").error().code, "etcd_malformed");
  fake.enqueue(200, R"({"kvs":[{"key":"!!!notbase64","value":"YQ=="}]})");
  EXPECT_EQ(c.range("/k").error().code, "etcd_malformed");
  fake.enqueue(200, R"({"kvs":[{"key":"YQ==","create_revision":"12x"}]})");
  EXPECT_EQ(c.range("/k").error().code, "etcd_malformed");
  fake.enqueue(200, R"({"kvs":"many"})");
  EXPECT_EQ(c.range("/k").error().code, "etcd_malformed");
  fake.enqueue(200, R"({"header":{"revision":"5"},"succeeded":true,"responses":[{"response_range":7}]})");
  EXPECT_EQ(c.txn({}, {get("/k")}).error().code, "etcd_malformed");
  fake.enqueue(200, R"({"header":{}})");
  EXPECT_EQ(c.grant(milliseconds{1000}).error().code, "etcd_malformed");  // no lease id
  fake.enqueue(200, R"({"ID":"99","TTL":"3"})");
  auto ok = c.grant(milliseconds{1000});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok.value().id, 99);
  EXPECT_EQ(ok.value().ttl, std::chrono::seconds{3});

  // Authentication answered with a token of the wrong type: an error, not an exception out of the client.
  Client user(Options{.endpoints = {fake.url("")}, .username = "u", .password = "p", .timeout = milliseconds{1000}});
  fake.enqueue(200, R"({"token":1})");
  EXPECT_EQ(user.range("/k").error().code, "etcd_malformed");
  fake.enqueue(200, R"({"kvs":[{"key":"YQ","value":"YQ=="}]})");  // base64 without its padding
  EXPECT_EQ(c.range("/k").error().code, "etcd_malformed");
}

void run(const std::vector<std::string>& argv) {
  const test::CommandResult r = test::runCommand(test::SpawnOptions{.argv = argv}, milliseconds{20000});
  ASSERT_EQ(r.exit_code, 0) << argv[0] << " " << argv[1] << ": " << r.output;
}

TEST(EtcdClientAuth, UserAndPasswordAreSentAndAWrongOneIsRefused) {
  test::EtcdServer server;  // its own: authentication cannot be turned off again
  server.start();
  const std::string e = "--endpoints=" + server.endpoint();
  run({"etcdctl", e, "user", "add", "root", "--new-user-password=s3cret"});
  run({"etcdctl", e, "auth", "enable"});

  Client anonymous(Options{.endpoints = {server.endpoint()}});
  auto refused = anonymous.range("/k");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "etcd_error");

  Client wrong(Options{.endpoints = {server.endpoint()}, .username = "root", .password = "nope"});
  auto bad = wrong.range("/k");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message.find("nope"), std::string::npos);  // the password is never in an error

  Client root(Options{.endpoints = {server.endpoint()}, .username = "root", .password = "s3cret"});
  ASSERT_TRUE(root.txn({}, {put("/k", "v")})) << "authenticated put";
  auto read = root.range("/k");
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(read.value()[0].value, "v");
}

TEST(EtcdClientTls, ClientCertificatesAgainstAnEtcdThatRequiresThem) {
  test::TempDir dir("etcdtls");
  const test::TestCertificates certs(dir.path());
  const std::string client_url = "https://127.0.0.1:" + std::to_string(test::freeLoopbackPort());
  const std::string peer_url = "http://127.0.0.1:" + std::to_string(test::freeLoopbackPort());
  test::ChildProcess etcd(test::SpawnOptions{.argv = {"etcd",
                                                      "--name",
                                                      "tls",
                                                      "--data-dir",
                                                      dir.path() + "/data",
                                                      "--listen-client-urls",
                                                      client_url,
                                                      "--advertise-client-urls",
                                                      client_url,
                                                      "--listen-peer-urls",
                                                      peer_url,
                                                      "--initial-advertise-peer-urls",
                                                      peer_url,
                                                      "--initial-cluster",
                                                      "tls=" + peer_url,
                                                      "--cert-file",
                                                      certs.server_cert,
                                                      "--key-file",
                                                      certs.server_key,
                                                      "--trusted-ca-file",
                                                      certs.ca_file,
                                                      "--client-cert-auth",
                                                      "--log-level",
                                                      "warn"},
                                             .log_path = dir.path() + "/etcd.log"});
  Client client(Options{.endpoints = {client_url},
                        .ca_file = certs.ca_file,
                        .cert_file = certs.client_cert,
                        .key_file = certs.client_key});
  ASSERT_TRUE(test::waitFor([&] { return client.range("/k").ok(); }, milliseconds{20000})) << etcd.logTail();
  ASSERT_TRUE(client.txn({}, {put("/k", "tls")}));
  EXPECT_EQ(client.range("/k").value()[0].value, "tls");

  // Without a client certificate, or trusting another CA, there is no answer to trust: an error, no guess.
  Client no_cert(Options{.endpoints = {client_url}, .ca_file = certs.ca_file});
  EXPECT_FALSE(no_cert.range("/k"));
  Client wrong_ca(Options{.endpoints = {client_url},
                          .ca_file = certs.client_cert,
                          .cert_file = certs.client_cert,
                          .key_file = certs.client_key});
  auto untrusted = wrong_ca.range("/k");
  ASSERT_FALSE(untrusted);
  EXPECT_EQ(untrusted.error().code, "etcd_unreachable");
}

}  // namespace
}  // namespace hale::etcd
