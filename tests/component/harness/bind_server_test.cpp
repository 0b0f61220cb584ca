#include "bind_server.h"

#include <gtest/gtest.h>

namespace hale::test {
namespace {

TEST(BindServerFixture, ServesTheZoneAndAcceptsOnlySignedUpdates) {
  BindServer dns;
  dns.start();
  EXPECT_NE(dns.port(), 53);
  EXPECT_EQ(dns.lookup("app." + dns.zone()), std::vector<std::string>{"192.0.2.10"});
  EXPECT_FALSE(dns.keySecret().empty());

  const CommandResult signed_update =
      dns.nsupdate("update delete app." + dns.zone() + " A\nupdate add app." + dns.zone() + " 30 A 198.51.100.7");
  ASSERT_EQ(signed_update.exit_code, 0) << signed_update.output;
  EXPECT_EQ(dns.lookup("app." + dns.zone()), std::vector<std::string>{"198.51.100.7"});

  const CommandResult unsigned_update = dns.nsupdate("update add rogue." + dns.zone() + " 30 A 203.0.113.1", false);
  EXPECT_NE(unsigned_update.exit_code, 0);
  EXPECT_NE(unsigned_update.output.find("REFUSED"), std::string::npos) << unsigned_update.output;
  EXPECT_TRUE(dns.lookup("rogue." + dns.zone()).empty());
}

}  // namespace
}  // namespace hale::test
