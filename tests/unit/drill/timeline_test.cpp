#include "timeline.h"

#include <gtest/gtest.h>

namespace hale::drill {
namespace {

nlohmann::json event(int64_t id, int64_t ts, const std::string& name, const std::string& subject,
                     const std::string& detail = "", int step = -1) {
  nlohmann::json e{{"id", id}, {"ts_ms", ts}, {"event", name}, {"subject", subject}, {"detail", detail}};
  if (step >= 0) e["step"] = step;
  return e;
}

TEST(Timeline, KeepsTheStoryAfterTheKillOnceEach) {
  Timeline t(10'000);
  nlohmann::json journal = {
      event(1, 9'000, "+node-suspect", "eu-1"),   // before the kill: not part of this story
      event(2, 10'500, "+node-healthy", "us-1"),  // not a failover event
      event(3, 11'200, "+node-suspect", "eu-1", "silent for 1500ms"),
      event(4, 12'700, "+region-down", "eu", "0/3 nodes healthy"),
      event(5, 12'701, "+decision", "failover eu -> us", "region eu down"),
      event(6, 12'702, "+plan-step-start", "fence-eu", "fence-eu attempt 1/3", 0),
  };
  journal[4]["plan_id"] = 3;
  const std::vector<TimelineEntry> added = t.addJournal(journal);
  ASSERT_EQ(added.size(), 4u);
  EXPECT_TRUE(t.addJournal(journal).empty()) << "the same events again add nothing";
  EXPECT_EQ(t.render(added[0]), "  +1200 ms  node eu-1 suspect (silent for 1500ms)");
  EXPECT_EQ(t.render(added[1]), "  +2700 ms  REGION eu DOWN (0/3 nodes healthy)");
  EXPECT_EQ(t.render(added[3]), "  +2702 ms    step 0 fence-eu started (attempt 1/3)");
  EXPECT_EQ(t.offset("+region-down", "eu"), 2700);
  EXPECT_EQ(t.offset("+region-down", "us"), std::nullopt);
  EXPECT_EQ(t.offset("+plan-step-start", "", 0), 2702);
  EXPECT_EQ(t.offset("+plan-done"), std::nullopt);

  t.addMark({13'100, "dns-answer", "us", "198.51.100.10"});
  EXPECT_EQ(t.offset("dns-answer"), 3100);
  EXPECT_EQ(t.render(t.entries().back()),
            "  +3100 ms  DNS: app.hale.test answers 198.51.100.10 (us), seen by a real query");
  EXPECT_EQ(t.render({10'000, "kill", "eu"}),
            "     +0 ms  KILL region eu: its agents and its database server (SIGKILL)");
  EXPECT_EQ(added[2].plan_id, 3);
}

TEST(Timeline, IgnoresAnAnswerThatIsNotAJournal) {
  Timeline t(0);
  EXPECT_TRUE(t.addJournal(nlohmann::json::object()).empty());
  EXPECT_TRUE(t.addJournal(nlohmann::json::parse("[{\"id\": 1}]")).empty());
}

// A journal that cannot be read fails the caller: `count == 0` on an unread journal must not pass.
TEST(Timeline, AJournalThatCannotBeReadIsAnError) {
  EXPECT_THROW(readJournal("/nonexistent/hale-aggregator.sock"), std::runtime_error);
}

}  // namespace
}  // namespace hale::drill
