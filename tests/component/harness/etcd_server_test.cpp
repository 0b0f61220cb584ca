#include "etcd_server.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http_client.h"

namespace hale::test {
namespace {

nlohmann::json post(const EtcdServer& etcd, const std::string& path, const nlohmann::json& body) {
  const HttpResponse r = httpPerform({.method = "POST", .url = etcd.endpoint() + path, .body = body.dump()});
  EXPECT_EQ(r.status, 200) << path << ": " << r.body;
  return nlohmann::json::parse(r.body, nullptr, false);
}

TEST(EtcdServerFixture, LeaseAndPutIfAbsent) {
  EtcdServer etcd;
  etcd.start();
  EXPECT_NE(etcd.clientPort(), 2379);
  // Keys and values are base64 in the JSON gateway: "aGFsZS9sZWFkZXI=" is "hale/leader", "YQ==" "a", "Yg==" "b".
  const nlohmann::json lease = post(etcd, "/v3/lease/grant", {{"TTL", "5"}});
  ASSERT_TRUE(lease.contains("ID"));
  auto claim = [&](const std::string& value) {
    return post(
        etcd, "/v3/kv/txn",
        {{"compare", {{{"key", "aGFsZS9sZWFkZXI="}, {"target", "CREATE"}, {"create_revision", "0"}}}},
         {"success", {{{"requestPut", {{"key", "aGFsZS9sZWFkZXI="}, {"value", value}, {"lease", lease["ID"]}}}}}}});
  };
  EXPECT_EQ(claim("YQ==").value("succeeded", false), true);
  EXPECT_EQ(claim("Yg==").value("succeeded", false), false);  // the key exists: absent from the answer means false
  const nlohmann::json range = post(etcd, "/v3/kv/range", {{"key", "aGFsZS9sZWFkZXI="}});
  ASSERT_EQ(range["kvs"].size(), 1u);
  EXPECT_EQ(range["kvs"][0]["value"], "YQ==");
}

}  // namespace
}  // namespace hale::test
