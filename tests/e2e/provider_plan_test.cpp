// One failover plan with every kind of step, run by the real hale-aggregator against real servers:
//   fence   linode_nodebalancer: the old region's node out of the load balancer (mode reject)
//   promote postgres_promote: RPO gate, old primary fenced read-only, standby promoted
//   dns     rfc2136: the app's name pointed at the new region, TSIG-signed, seen by a real query
//   lb      linode_nodebalancer: the new region's node in (mode accept)
//   notify  webhook: the event as JSON
// The NodeBalancer is a scripted fake (the contract tests live in component/providers/linode_test.cpp).

#include <gtest/gtest.h>

#include <map>

#include "bind_server.h"
#include "canned_http_server.h"
#include "hale_processes.h"
#include "postgres_pair.h"

namespace hale::test {
namespace {

using std::chrono::milliseconds;
using Node = PostgresPair::Node;

TEST(ProviderPlan, FencePromoteDnsLbNotifyRunsOnceEachThroughTheAggregator) {
  PostgresPair pg;
  pg.start();
  BindServer dns;
  dns.start();
  CannedHttpServer linode;
  CannedHttpServer hook;
  TempDir dir("provider-plan");
  pg.query(Node::primary, "CREATE TABLE orders (id int)");
  pg.query(Node::primary, "INSERT INTO orders VALUES (1)");

  linode.enqueue(200, R"({"id":1,"mode":"accept"})");  // fence: node 1 is serving
  linode.enqueue(200, R"({"id":1,"mode":"reject"})");  //        PUT
  linode.enqueue(200, R"({"id":1,"mode":"reject"})");  //        verify
  linode.enqueue(200, R"({"id":2,"mode":"reject"})");  // lb:    node 2 is not
  linode.enqueue(200, R"({"id":2,"mode":"accept"})");  //        PUT
  linode.enqueue(200, R"({"id":2,"mode":"accept"})");  //        verify
  const std::string token = dir.writeFile("linode-token", "t0ken\n", 0600);
  const std::string tsig = dir.writeFile("tsig", dns.keySecret() + "\n", 0600);
  const std::string lb = "type = \"linode_nodebalancer\"\napi_url = \"" + linode.url("/v4") + "\"\ntoken_file = \"" +
                         token + "\"\nnodebalancer_id = 10\nconfig_id = 20\n";
  AggregatorProcess agg(dir,
                        "[[region]]\nname = \"eu\"\nrole = \"active\"\naccept_any_node = true\n"
                        "[[region]]\nname = \"us\"\naccept_any_node = true\n"
                        "[[action]]\nname = \"fence-eu\"\n" +
                            lb +
                            "nodes = [1]\nmode = \"reject\"\n"
                            "[[action]]\nname = \"promote-us\"\ntype = \"postgres_promote\"\nstandby = \"" +
                            pg.conninfo(Node::standby) + "\"\nold_primary = \"" + pg.conninfo(Node::primary) +
                            "\"\nmax_lag = \"30s\"\n"
                            "[[action]]\nname = \"dns-us\"\ntype = \"rfc2136\"\nserver = \"127.0.0.1\"\nport = " +
                            std::to_string(dns.port()) + "\nzone = \"" + dns.zone() + "\"\nrecord = \"app." +
                            dns.zone() +
                            "\"\nvalues = [\"198.51.100.7\"]\nttl = 5\n"
                            "key_name = \"" +
                            dns.keyName() + "\"\nkey_secret_file = \"" + tsig +
                            "\"\n"
                            "[[action]]\nname = \"lb-us\"\n" +
                            lb +
                            "nodes = [2]\nmode = \"accept\"\n"
                            "[[action]]\nname = \"notify\"\ntype = \"webhook\"\nurl = \"" +
                            hook.url("/hale") +
                            "\"\n"
                            "[[plan]]\nfrom = \"eu\"\nto = \"us\"\nsteps = [\"fence-eu\", \"promote-us\", \"dns-us\", "
                            "\"lb-us\", \"notify\"]\n");
  agg.start();

  const CommandResult started = agg.halectl({"failover", "--to", "us", "--force"});
  ASSERT_EQ(started.exit_code, 0) << started.output;
  std::string state;
  ASSERT_TRUE(waitFor(
      [&] {
        const nlohmann::json plans = agg.json({"plans", "--limit", "1"});
        state = plans.is_array() && !plans.empty() ? plans[0].value("state", "") : "";
        return state == "done" || state == "failed";
      },
      milliseconds{30000}))
      << agg.log();
  ASSERT_EQ(state, "done") << agg.halectl({"plans"}).output << agg.log();

  // Each step started once and finished once, in the plan's order.
  std::vector<int> done_order;
  std::map<int, int> starts;
  const nlohmann::json events = agg.json({"journal", "--limit", "200"});
  for (const auto& e : events) {  // oldest first
    if (e.value("event", "") == "+plan-step-start") ++starts[e.value("step", -1)];
    if (e.value("event", "") == "+plan-step-done") done_order.push_back(e.value("step", -1));
  }
  EXPECT_EQ(done_order, (std::vector<int>{0, 1, 2, 3, 4})) << events.dump(1);
  for (int s = 0; s < 5; ++s) EXPECT_EQ(starts[s], 1) << "step " << s;

  // The world as the plan left it.
  const std::string plans = agg.halectl({"plans"}).output;
  EXPECT_EQ(pg.query(Node::standby, "SELECT pg_is_in_recovery()"), "f");
  // Nothing committed on the old primary was lost: the standby replayed it to the fenced end.
  EXPECT_NO_THROW(pg.query(Node::standby, "INSERT INTO orders VALUES (2)")) << plans;
  EXPECT_EQ(pg.query(Node::standby, "SELECT count(*) FROM orders"), "2");
  EXPECT_THROW(pg.query(Node::primary, "INSERT INTO orders VALUES (3)"), std::runtime_error) << "old primary fenced";
  EXPECT_EQ(dns.lookup("app." + dns.zone()), (std::vector<std::string>{"198.51.100.7"}));
  EXPECT_EQ(linode.requests(), (std::vector<std::string>{
                                   "GET /v4/nodebalancers/10/configs/20/nodes/1 HTTP/1.1",
                                   "PUT /v4/nodebalancers/10/configs/20/nodes/1 HTTP/1.1",
                                   "GET /v4/nodebalancers/10/configs/20/nodes/1 HTTP/1.1",
                                   "GET /v4/nodebalancers/10/configs/20/nodes/2 HTTP/1.1",
                                   "PUT /v4/nodebalancers/10/configs/20/nodes/2 HTTP/1.1",
                                   "GET /v4/nodebalancers/10/configs/20/nodes/2 HTTP/1.1",
                               }));
  ASSERT_EQ(hook.requests().size(), 1u);
  const std::string sent = hook.lastRequest();
  const nlohmann::json note = nlohmann::json::parse(sent.substr(sent.find("\r\n\r\n") + 4));
  EXPECT_EQ(note["event"], "failover");
  EXPECT_EQ(note["from"], "eu");
  EXPECT_EQ(note["to"], "us");
  EXPECT_EQ(note["forced"], true);

  // No secret reached the journal.
  const std::string journal = agg.halectl({"journal", "--limit", "200"}).output;
  EXPECT_EQ(journal.find("t0ken"), std::string::npos);
  EXPECT_EQ(journal.find(dns.keySecret()), std::string::npos);
  agg.stop();
}

}  // namespace
}  // namespace hale::test
