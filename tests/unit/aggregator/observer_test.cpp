// The observer's bookkeeping of nodes, in simulated time.

#include "observer.h"

#include <gtest/gtest.h>

namespace hale::aggregator {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

ObserverConfig config() {
  ObserverConfig c;
  c.detection.suspect_after = milliseconds{1500};
  c.detection.miss_after = milliseconds{2500};
  c.startup_grace = milliseconds{0};
  c.node_retention = minutes{10};
  RegionParams p;
  p.min_healthy = 2;
  p.min_healthy_share = 0.5;
  c.regions = {{"eu", 1, p}, {"us", 2, p}};
  return c;
}

// Adding a node counts it at once, without a recount of the others: the counts after each addNode are
// what a full recount at the next tick finds.
TEST(Observer, AddingANodeCountsItLikeARecount) {
  const SteadyTime t0{seconds{1000}};
  Observer o(config(), t0);
  o.addNode("eu-1", "eu", t0);
  o.addNode("eu-2", "eu", t0);
  o.addNode("eu-2", "eu", t0);  // twice: counted once
  o.addNode("us-1", "us", t0);
  o.addNode("xx-1", "nowhere", t0);  // a region not configured: counted nowhere
  const auto counts = [&](const char* region) { return o.region(region)->counts; };
  EXPECT_EQ(counts("eu").total, 2U);
  EXPECT_EQ(counts("eu").unknown, 2U);
  EXPECT_EQ(counts("us").total, 1U);

  std::vector<Event> events;
  o.heartbeat("eu-1", heartbeat::NodeStatus::healthy, t0 + seconds{1}, events);
  o.tick(t0 + seconds{1}, events);
  EXPECT_EQ(counts("eu").healthy, 1U);
  EXPECT_EQ(counts("eu").unknown, 1U);
  o.addNode("eu-3", "eu", t0 + seconds{1});
  const NodeCounts added = counts("eu");
  o.tick(t0 + seconds{1}, events);
  const NodeCounts recounted = counts("eu");
  EXPECT_EQ(added.total, 3U);
  EXPECT_EQ(added.total, recounted.total);
  EXPECT_EQ(added.healthy, recounted.healthy);
  EXPECT_EQ(added.healthy_heard, recounted.healthy_heard);
  EXPECT_EQ(added.unknown, recounted.unknown);
  EXPECT_EQ(added.suspect, recounted.suspect);
  EXPECT_EQ(added.failed, recounted.failed);
}

// A node's fence level, as its agent reports it: each change is an event once, a split brain loudest.
TEST(Observer, FenceChangesAreEventsOnce) {
  const SteadyTime t0{seconds{1000}};
  Observer o(config(), t0);
  o.addNode("eu-1", "eu", t0);
  std::vector<Event> events;
  const auto beat = [&](uint8_t fence, heartbeat::NodeStatus st) {
    events.clear();
    o.heartbeat("eu-1", st, t0 + seconds{1}, events, fence);
    std::vector<std::string> names;
    for (const Event& e : events) {
      if (e.name.find("fenced") != std::string::npos || e.name.find("split") != std::string::npos)
        names.push_back(e.name);
    }
    return names;
  };
  EXPECT_TRUE(beat(0, heartbeat::NodeStatus::healthy).empty());
  EXPECT_EQ(beat(1, heartbeat::NodeStatus::unhealthy), std::vector<std::string>{"+node-fenced"});
  EXPECT_TRUE(beat(1, heartbeat::NodeStatus::unhealthy).empty());
  EXPECT_EQ(beat(2, heartbeat::NodeStatus::unhealthy), std::vector<std::string>{"+split-brain"});
  EXPECT_EQ(beat(0, heartbeat::NodeStatus::healthy), (std::vector<std::string>{"-split-brain", "-node-fenced"}));
  EXPECT_EQ(o.node("eu-1")->fence, 0);
}

// With a database_check, the database failing on a majority of the region's nodes makes it down even
// while those nodes still answer (a non-critical check, so they count as healthy); on a minority it
// does not. A node's newest heartbeat is its word.
TEST(Observer, ADatabaseCheckFailingOnAMajorityMakesTheRegionDown) {
  ObserverConfig c = config();
  c.regions[0].params.database_check = "db";
  c.regions[0].params.down_after = milliseconds{500};
  const SteadyTime t0{seconds{1000}};
  Observer o(c, t0);
  for (const char* id : {"eu-1", "eu-2", "eu-3"}) o.addNode(id, "eu", t0);
  std::vector<Event> events;
  using heartbeat::CheckReport;
  using heartbeat::CheckStatus;
  const std::vector<CheckReport> pass = {{"db", CheckStatus::pass}, {"app", CheckStatus::pass}};
  const std::vector<CheckReport> fail = {{"db", CheckStatus::fail}, {"app", CheckStatus::pass}};
  const auto run = [&](int failing, SteadyTime from, SteadyTime to) {
    for (SteadyTime t = from; t < to; t += milliseconds{250}) {
      int i = 0;
      for (const char* id : {"eu-1", "eu-2", "eu-3"})
        o.heartbeat(id, heartbeat::NodeStatus::healthy, t, events, 0, i++ < failing ? fail : pass);
      o.tick(t, events);
    }
  };
  run(0, t0, t0 + seconds{3});
  EXPECT_EQ(o.region("eu")->state.verdict, Verdict::up);
  run(1, t0 + seconds{3}, t0 + seconds{6});
  EXPECT_EQ(o.region("eu")->state.verdict, Verdict::up) << "one node of three is no majority";
  EXPECT_EQ(o.region("eu")->counts.database_failed, 1u);
  run(2, t0 + seconds{6}, t0 + seconds{9});
  EXPECT_EQ(o.region("eu")->state.verdict, Verdict::down);
  // Healthy nodes (the check is not critical) do not bring it back up while the database stays failed,
  // however long: up needs the region not lost (this flipped down/up/down before).
  run(2, t0 + seconds{9}, t0 + seconds{60});
  EXPECT_EQ(o.region("eu")->state.verdict, Verdict::down);
  EXPECT_EQ(o.region("eu")->state.since, t0 + seconds{6} + milliseconds{500});
  // Without a database_check the same heartbeats are only healthy nodes.
  Observer plain(config(), t0);
  for (const char* id : {"eu-1", "eu-2", "eu-3"}) plain.addNode(id, "eu", t0);
  for (SteadyTime t = t0; t < t0 + seconds{5}; t += milliseconds{250}) {
    for (const char* id : {"eu-1", "eu-2", "eu-3"})
      plain.heartbeat(id, heartbeat::NodeStatus::healthy, t, events, 0, fail);
    plain.tick(t, events);
  }
  EXPECT_EQ(plain.region("eu")->state.verdict, Verdict::up);
}

// Only fresh words count, and only among the nodes that speak: the database and two of three app nodes
// die together, the survivor sees the database failed -> lost; two nodes that said "failed" once and
// then went silent are no majority.
TEST(Observer, TheDatabaseMajorityCountsFreshReportsOnly) {
  ObserverConfig c = config();
  c.regions[0].params.database_check = "db";
  c.regions[0].params.min_healthy = 1;
  c.regions[0].params.down_after = milliseconds{2000};  // longer than suspect_after (1.5 s), as by default
  const SteadyTime t0{seconds{1000}};
  using heartbeat::CheckReport;
  using heartbeat::CheckStatus;
  const std::vector<CheckReport> pass = {{"db", CheckStatus::pass}};
  const std::vector<CheckReport> fail = {{"db", CheckStatus::fail}};
  std::vector<Event> events;
  // Three nodes, all saying "passing" for 3 s; then (after eu-2's and eu-3's `blip`, if any) only eu-1
  // speaks, saying `eu1_says`, until 10 s.
  const auto play = [&](Observer& o, const std::vector<CheckReport>& eu1_says, const char* blip) {
    for (const char* id : {"eu-1", "eu-2", "eu-3"}) o.addNode(id, "eu", t0);
    SteadyTime t = t0;
    for (; t < t0 + seconds{3}; t += milliseconds{250}) {
      for (const char* id : {"eu-1", "eu-2", "eu-3"})
        o.heartbeat(id, heartbeat::NodeStatus::healthy, t, events, 0, pass);
      o.tick(t, events);
    }
    if (blip != nullptr) {
      for (const char* id : {"eu-2", "eu-3"}) o.heartbeat(id, heartbeat::NodeStatus::healthy, t, events, 0, fail);
    }
    for (; t < t0 + seconds{10}; t += milliseconds{250}) {
      o.heartbeat("eu-1", heartbeat::NodeStatus::healthy, t, events, 0, eu1_says);
      o.tick(t, events);
    }
  };
  {
    // eu-2 and eu-3 die with the database (their last word: "passing"); eu-1 reports it failed.
    Observer o(c, t0);
    play(o, fail, nullptr);
    EXPECT_EQ(o.region("eu")->counts.database_reported, 1u);
    EXPECT_EQ(o.region("eu")->state.verdict, Verdict::down);
  }
  {
    // A blip: eu-2 and eu-3 say "failed" once, then go silent; eu-1 keeps saying "passing".
    Observer o(c, t0);
    play(o, pass, "eu-2 and eu-3 say failed once");
    EXPECT_EQ(o.region("eu")->counts.database_failed, 0u) << "silent past suspect_after: no witness";
    EXPECT_NE(o.region("eu")->state.verdict, Verdict::down);
  }
}

// A fleet replaced in an accept_any_node region: the old node ids, never listed, are forgotten after the
// retention instead of dragging the region's healthy share down for ever. Listed nodes are never forgotten.
TEST(Observer, UnlistedNodesSilentPastTheRetentionAreForgottenListedOnesNever) {
  const SteadyTime t0{seconds{1000}};
  Observer o(config(), t0);
  std::vector<Event> events;
  o.addNode("us-1", "us", t0);  // listed
  for (const char* id : {"eu-old-1", "eu-old-2", "eu-old-3"}) o.addNode(id, "eu", t0, /*listed=*/false);
  const auto beat = [&](const std::vector<std::string>& ids, SteadyTime now) {
    for (const std::string& id : ids) o.heartbeat(id, heartbeat::NodeStatus::healthy, now, events);
    o.tick(now, events);
  };
  beat({"eu-old-1", "eu-old-2", "eu-old-3", "us-1"}, t0 + seconds{1});
  // The old fleet goes; a new one comes, first heard from as any accept_any_node region's nodes are.
  SteadyTime now = t0 + seconds{2};
  for (const char* id : {"eu-new-1", "eu-new-2", "eu-new-3"}) o.addNode(id, "eu", now, /*listed=*/false);
  for (; now < t0 + minutes{12}; now += seconds{1}) beat({"eu-new-1", "eu-new-2", "eu-new-3"}, now);
  const TrackedRegion* eu = o.region("eu");
  ASSERT_NE(eu, nullptr);
  EXPECT_EQ(eu->counts.total, 3u);
  EXPECT_EQ(eu->counts.healthy, 3u);
  EXPECT_FALSE(o.knowsNode("eu-old-1"));
  EXPECT_TRUE(o.knowsNode("us-1"));  // listed: silent for 12 minutes, failed, still known
  int forgotten = 0;
  for (const Event& e : events) forgotten += e.name == "-node-forgotten" ? 1 : 0;
  EXPECT_EQ(forgotten, 3);
}

TEST(Observer, NothingIsForgottenBeforeTheRetention) {
  const SteadyTime t0{seconds{1000}};
  Observer o(config(), t0);
  std::vector<Event> events;
  o.addNode("eu-1", "eu", t0, /*listed=*/false);
  o.addNode("eu-2", "eu", t0, /*listed=*/false);
  o.heartbeat("eu-1", heartbeat::NodeStatus::healthy, t0, events);
  for (SteadyTime now = t0; now < t0 + minutes{9}; now += seconds{1}) {
    o.heartbeat("eu-2", heartbeat::NodeStatus::healthy, now, events);
    o.tick(now, events);
  }
  EXPECT_TRUE(o.knowsNode("eu-1"));
}

// Before any node was heard nothing went silent: isolated (frozen, unfit to lead) but not said while the
// start-up grace lasts, and said then if still nothing arrived. Once nodes were heard, every region going
// silent is said at once, grace or not.
TEST(Observer, NothingHeardYetIsFailStaticSaidOnlyAfterTheStartUpGrace) {
  const SteadyTime t0{seconds{1000}};
  // What was said of fail static, and at 2 s: isolated, fail static as status shows it, any node heard.
  struct Run {
    std::vector<std::string> said;
    bool isolated = false;
    bool fail_static = false;
    bool heard_any = false;
  };
  const auto run = [&](const std::vector<std::pair<milliseconds, const char*>>& beats, milliseconds until) {
    ObserverConfig c = config();
    c.startup_grace = seconds{5};
    Observer o(c, t0);
    for (const char* id : {"eu-1", "us-1"}) o.addNode(id, id[0] == 'e' ? "eu" : "us", t0);
    Run out;
    std::vector<Event> events;
    for (milliseconds t{0}; t <= until; t += milliseconds{100}) {
      for (const auto& [at, id] : beats) {
        if (at == t) o.heartbeat(id, heartbeat::NodeStatus::healthy, t0 + t, events);
      }
      o.tick(t0 + t, events);
      for (const Event& e : events) {
        if (e.name.find("fail-static") != std::string::npos)
          out.said.push_back(e.name + "@" + std::to_string(t.count()) + " " + e.detail);
      }
      events.clear();
      if (t == milliseconds{2000}) {
        out.isolated = o.isolated();
        out.fail_static = o.failStatic();
        out.heard_any = o.heardAnyNode();
      }
    }
    return out;
  };
  // The agents connect 3 s after start: isolated meanwhile (unfit to lead), nothing said, and status shows
  // no fail static either.
  const Run late = run({{milliseconds{3000}, "eu-1"}, {milliseconds{3000}, "us-1"}}, seconds{4});
  EXPECT_TRUE(late.isolated);
  EXPECT_FALSE(late.fail_static);
  EXPECT_FALSE(late.heard_any);
  EXPECT_TRUE(late.said.empty()) << late.said.front();
  // Nothing by the grace's end: said then, and its end when they come.
  const Run never = run({{milliseconds{7000}, "eu-1"}}, seconds{8});
  ASSERT_EQ(never.said.size(), 2u);
  EXPECT_EQ(never.said[0].rfind("+fail-static@5000 no node heard since start", 0), 0u) << never.said[0];
  EXPECT_EQ(never.said[1].rfind("-fail-static@7000", 0), 0u) << never.said[1];
  // Heard, then every region silent within the grace: said at once, and shown.
  const Run cut = run({{milliseconds{100}, "eu-1"}, {milliseconds{100}, "us-1"}}, seconds{3});
  ASSERT_EQ(cut.said.size(), 1u);
  EXPECT_EQ(cut.said[0].rfind("+fail-static@1700 every region went silent", 0), 0u) << cut.said[0];
  EXPECT_TRUE(cut.fail_static);
  EXPECT_TRUE(cut.heard_any);
  // One region heard within the grace, the other never: said as soon as the one heard falls silent too.
  const Run staggered = run({{milliseconds{1000}, "eu-1"}}, seconds{4});
  ASSERT_EQ(staggered.said.size(), 1u);
  EXPECT_EQ(staggered.said[0].rfind("+fail-static@2600 every region went silent", 0), 0u) << staggered.said[0];
}

}  // namespace
}  // namespace hale::aggregator
