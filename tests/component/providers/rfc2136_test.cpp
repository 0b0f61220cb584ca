// rfc2136 against BIND from the harness: a zone that takes only TSIG-signed updates.

#include <gtest/gtest.h>

#include "action_fixture.h"
#include "bind_server.h"
#include "ports.h"
#include "temp_dir.h"

namespace hale::aggregator {
namespace {

using std::chrono::milliseconds;

class Rfc2136Test : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dns_ = new hale::test::BindServer();
    dns_->start();
    dir_ = new hale::test::TempDir("rfc2136");
  }
  static void TearDownTestSuite() {
    delete dns_;
    delete dir_;
  }

  static std::shared_ptr<Action> action(const std::string& values, const std::string& secret, uint16_t port = 0) {
    const std::string secret_file = dir_->writeFile("secret", secret + "\n", 0600);
    return test::actionFromConfig(
        "type = \"rfc2136\"\nserver = \"127.0.0.1\"\nport = " + std::to_string(port != 0 ? port : dns_->port()) +
        "\nzone = \"" + dns_->zone() + "\"\nrecord = \"app." + dns_->zone() + "\"\nvalues = " + values +
        "\nttl = 30\nkey_name = \"" + dns_->keyName() + "\"\nkey_secret_file = \"" + secret_file + "\"\n");
  }

  static hale::test::BindServer* dns_;
  static hale::test::TempDir* dir_;
};
hale::test::BindServer* Rfc2136Test::dns_ = nullptr;
hale::test::TempDir* Rfc2136Test::dir_ = nullptr;

TEST_F(Rfc2136Test, SwitchesTheRecordAndARealQuerySeesIt) {
  auto dns = action("[\"198.51.100.7\", \"198.51.100.8\"]", dns_->keySecret());
  const ActionResult r = dns->execute(test::actionRequest(milliseconds{3000}));
  ASSERT_EQ(r.status, ActionStatus::applied) << r.detail;
  EXPECT_EQ(r.detail, "app.hale.test. 192.0.2.10 -> 198.51.100.7,198.51.100.8");
  EXPECT_EQ(dns_->lookup("app." + dns_->zone()), (std::vector<std::string>{"198.51.100.7", "198.51.100.8"}));
  EXPECT_EQ(dns->verify(test::actionRequest(milliseconds{3000})).status, ActionStatus::applied);

  // Already right: nothing is sent.
  const ActionResult again = dns->execute(test::actionRequest(milliseconds{3000}));
  EXPECT_EQ(again.status, ActionStatus::already_applied) << again.detail;
}

TEST_F(Rfc2136Test, WrongKeyIsAPermanentError) {
  auto dns = action("[\"203.0.113.9\"]", "c2VjcmV0LXRoYXQtaXMtbm90LXRoZS16b25lcy1rZXk=");
  const std::vector<std::string> before = dns_->lookup("app." + dns_->zone());
  const ActionResult r = dns->execute(test::actionRequest(milliseconds{3000}));
  EXPECT_EQ(r.status, ActionStatus::permanent) << r.detail;
  EXPECT_EQ(dns_->lookup("app." + dns_->zone()), before);
}

TEST_F(Rfc2136Test, SilentServerIsRetryable) {
  const uint16_t nobody = hale::test::freeLoopbackPort(/*also_udp=*/true);
  const auto t0 = std::chrono::steady_clock::now();
  const ActionResult r =
      action("[\"203.0.113.9\"]", dns_->keySecret(), nobody)->execute(test::actionRequest(milliseconds{500}));
  EXPECT_EQ(r.status, ActionStatus::retryable) << r.detail;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds{3});
}

TEST_F(Rfc2136Test, ConfigChecksAddresses) {
  auto c = parseAggregatorConfig(
      "coordination = \"none\"\ninsecure = true\nlisten = [\"tcp://127.0.0.1:1\"]\n[[region]]\nname = \"eu\"\nrole = "
      "\"active\"\nnodes "
      "= [\"a\"]\n"
      "[[action]]\nname = \"dns\"\ntype = \"rfc2136\"\nserver = \"ns1.example.com\"\nzone = \"z\"\n"
      "record = \"r.z\"\nvalues = [\"not-an-ip\"]\nkey_name = \"k\"\nkey_secret_file = \"/nonexistent\"\n",
      "t.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("action[0].server: must be an IP address"), std::string::npos) << c.error().message;
  EXPECT_NE(c.error().message.find("\"not-an-ip\" is not an IPv4 address"), std::string::npos);
  EXPECT_NE(c.error().message.find("cannot read secret file /nonexistent"), std::string::npos);
}

}  // namespace
}  // namespace hale::aggregator
