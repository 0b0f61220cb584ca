#include "sequence_guard.h"

#include <limits>

#include <gtest/gtest.h>

namespace hale::aggregator {
namespace {

using V = SequenceVerdict;

// Our clock; every frame below is sent within a few seconds of it unless a test says otherwise.
constexpr int64_t kNow = 1'800'000'000'000;

TEST(SequenceGuard, AcceptsIncreasingSequences) {
  SequenceGuard g;
  EXPECT_EQ(g.check("n", "b1", 1, kNow, kNow), V::accept);
  EXPECT_EQ(g.check("n", "b1", 2, kNow + 1000, kNow + 1000), V::accept);
  EXPECT_EQ(g.check("n", "b1", 10, kNow + 2000, kNow + 2000), V::accept);  // gaps are lost heartbeats
}

TEST(SequenceGuard, DropsDuplicatesAndOldOnes) {
  SequenceGuard g;
  EXPECT_EQ(g.check("n", "b1", 5, kNow, kNow), V::accept);
  EXPECT_EQ(g.check("n", "b1", 5, kNow, kNow), V::duplicate);
  EXPECT_EQ(g.check("n", "b1", 4, kNow - 1000, kNow), V::out_of_order);
  EXPECT_EQ(g.check("n", "b1", 6, kNow + 1000, kNow + 1000), V::accept);
}

TEST(SequenceGuard, NewBootStartsOverButNotFromThePast) {
  SequenceGuard g({.restart_slack_ms = 2000});
  EXPECT_EQ(g.check("n", "b1", 500, kNow, kNow), V::accept);
  EXPECT_EQ(g.check("n", "b2", 1, kNow + 1000, kNow + 1000), V::accept);  // restarted: seq starts at 1 again
  EXPECT_EQ(g.check("n", "b2", 2, kNow + 2000, kNow + 2000), V::accept);
  EXPECT_EQ(g.check("n", "b3", 1, kNow + 500, kNow + 2100), V::accept);  // sent a little earlier: within the slack
  EXPECT_EQ(g.check("n", "b4", 1, kNow - 10'000, kNow + 2200), V::out_of_order);  // a replay of an older life
  // A recent life coming back (the real agent after a forged frame) goes on from where it was, never back.
  EXPECT_EQ(g.check("n", "b1", 500, kNow + 2300, kNow + 2300), V::out_of_order);
  EXPECT_EQ(g.check("n", "b1", 100'000, kNow + 2300, kNow + 2300), V::sequence_jump);
  EXPECT_EQ(g.check("n", "b1", 501, kNow + 2300, kNow + 2300), V::accept);
  // A life never seen with a mid-count sequence is a jump: a new life counts from 0.
  EXPECT_EQ(g.check("n", "b9", 5000, kNow + 2400, kNow + 2400), V::sequence_jump);
}

TEST(SequenceGuard, NodesAreIndependent) {
  SequenceGuard g;
  EXPECT_EQ(g.check("a", "b", 7, kNow, kNow), V::accept);
  EXPECT_EQ(g.check("b", "b", 7, kNow, kNow), V::accept);
  g.forget("a");
  EXPECT_EQ(g.check("a", "b", 7, kNow, kNow), V::accept);
}

// The attack of issue 13: one forged frame with a new boot id and a far-future send time used to become the
// node's high-water mark, so the real agent's heartbeats were "from the past" until a restart.
TEST(SequenceGuard, AFarFutureFrameIsRefusedAndCannotLockTheNodeOut) {
  SequenceGuard g({.max_skew_ms = 30'000});
  EXPECT_EQ(g.check("n", "real", 1, kNow, kNow), V::accept);
  EXPECT_EQ(g.check("n", "forged", 1, kNow + 86'400'000, kNow + 10), V::clock_skew);
  EXPECT_EQ(g.check("n", "forged", 2, std::numeric_limits<int64_t>::max(), kNow + 20), V::clock_skew);
  EXPECT_EQ(g.check("n", "forged", 3, std::numeric_limits<int64_t>::min(), kNow + 30), V::clock_skew);
  EXPECT_EQ(g.check("n", "real", 2, kNow + 1000, kNow + 1000), V::accept);
  EXPECT_EQ(g.check("n", "real", 3, kNow + 2000, kNow + 2000), V::accept);
}

// A forged frame with a huge sequence used to become the high-water mark, so every real heartbeat after it
// was "out of order" until the agent restarted; also through a new boot id and then the real one back.
TEST(SequenceGuard, ASequenceFurtherAheadThanTheAgentCouldSendIsRefused) {
  SequenceGuard g({.max_seq_jump = 16});
  EXPECT_EQ(g.check("n", "b", 10, kNow, kNow), V::accept);
  EXPECT_EQ(g.check("n", "b", std::numeric_limits<uint64_t>::max(), kNow + 10, kNow + 10), V::sequence_jump);
  EXPECT_EQ(g.check("n", "b", 10 + 18, kNow + 25, kNow + 25), V::sequence_jump);  // 16 + 25 ms / 25, plus one
  EXPECT_EQ(g.check("n", "b", 10 + 17, kNow + 25, kNow + 25), V::accept);
  // The allowance runs on OUR clock: a send time from the future buys nothing.
  EXPECT_EQ(g.check("n", "b", 10 + 17 + 18, kNow + 30'000, kNow + 50), V::sequence_jump);
  // Through a new life: the forged boot id is a restart, the real one back with a huge sequence is not.
  EXPECT_EQ(g.check("n", "x", 1, kNow + 60, kNow + 60), V::accept);
  EXPECT_EQ(g.check("n", "b", std::numeric_limits<uint64_t>::max(), kNow + 70, kNow + 70), V::sequence_jump);
  // Heartbeats lost for a minute (a partition) allow a proportionally larger jump.
  EXPECT_EQ(g.check("n", "x", 1 + 16 + 2400, kNow + 60'060, kNow + 60'060), V::accept);
}

// A node whose clock is wrong is still alive: with an authenticated frame (CurveZMQ) its liveness counts,
// its send time is clamped before it is remembered, and the verdict says it is skewed.
TEST(SequenceGuard, AnAuthenticatedNodeWithAWrongClockStaysAlive) {
  SequenceGuard g({.max_skew_ms = 30'000});
  EXPECT_EQ(g.check("n", "b", 1, kNow - 3'600'000, kNow, /*authenticated=*/true), V::accept_skewed);
  EXPECT_EQ(g.check("n", "b", 2, kNow - 3'599'000, kNow + 1000, true), V::accept_skewed);
  EXPECT_EQ(g.check("n", "b", 2, kNow - 3'599'000, kNow + 1000, true), V::duplicate);
  // A frame from tomorrow is clamped to now + 30 s: the real agent restarting 31 s later is not "the past".
  EXPECT_EQ(g.check("n", "forged", 1, kNow + 86'400'000, kNow + 2000, true), V::accept_skewed);
  EXPECT_EQ(g.check("n", "real", 1, kNow + 33'000, kNow + 33'000, true), V::accept);
  // Without authentication the same frames are refused and remembered nowhere.
  SequenceGuard plain({.max_skew_ms = 30'000});
  EXPECT_EQ(plain.check("n", "b", 1, kNow - 3'600'000, kNow), V::clock_skew);
  EXPECT_EQ(plain.check("n", "b", 1, kNow, kNow), V::accept);
}

// The forger's sequence of issue 13, with a key: a life from tomorrow, then the real boot id with a huge
// sequence. The real agent's next heartbeat is still believed: no lockout.
TEST(SequenceGuard, AForgedLifeCannotLockTheRealAgentOut) {
  SequenceGuard g({.max_skew_ms = 30'000, .max_restarts_per_minute = 6});
  int64_t t = kNow;
  uint64_t real = 40;
  EXPECT_EQ(g.check("n", "real", real, t, t, true), V::accept);
  EXPECT_EQ(g.check("n", "forged", 1, t + 86'400'000, t + 5, true), V::accept_skewed);
  EXPECT_EQ(g.check("n", "real", std::numeric_limits<uint64_t>::max(), t + 6, t + 6, true), V::sequence_jump);
  for (int beat = 1; beat <= 10; ++beat) {
    t += 1000;
    EXPECT_TRUE(accepted(g.check("n", "real", ++real, t, t, true))) << beat;
  }
}

TEST(SequenceGuard, SkewIsMeasuredBothWaysAndAtTheLimit) {
  SequenceGuard g({.max_skew_ms = 30'000});
  EXPECT_EQ(g.check("a", "b", 1, kNow + 30'000, kNow), V::accept);  // exactly at the limit
  EXPECT_EQ(g.check("b", "b", 1, kNow - 30'000, kNow), V::accept);
  EXPECT_EQ(g.check("c", "b", 1, kNow + 30'001, kNow), V::clock_skew);
  EXPECT_EQ(g.check("d", "b", 1, kNow - 30'001, kNow), V::clock_skew);
  // A refused first frame remembers nothing: the node's next good frame is its first.
  EXPECT_EQ(g.check("c", "b", 1, kNow, kNow), V::accept);
}

TEST(SequenceGuard, RestartsAreRateLimitedPerNodePerMinute) {
  SequenceGuard g({.max_restarts_per_minute = 3});
  int64_t t = kNow;
  EXPECT_EQ(g.check("n", "boot0", 1, t, t), V::accept);  // the first life is not a restart
  for (int i = 1; i <= 3; ++i) {
    t += 1000;
    EXPECT_EQ(g.check("n", "boot" + std::to_string(i), 1, t, t), V::accept) << i;
  }
  t += 1000;
  EXPECT_EQ(g.check("n", "boot4", 1, t, t), V::too_many_restarts);
  EXPECT_EQ(g.check("other", "x", 1, t, t), V::accept);  // another node is not affected
  EXPECT_EQ(g.check("n", "boot3", 2, t, t), V::accept);  // the current life goes on
  t = kNow + 1000 + 60'000;                              // the first restart leaves the window
  EXPECT_EQ(g.check("n", "boot4", 1, t, t), V::accept);
  EXPECT_EQ(g.check("n", "boot5", 1, t + 1, t + 1), V::too_many_restarts);
}

// Two boot ids alternating (an attacker replaying a live node's frames under another boot id, say) can
// flip the node's life only a few times a minute, and never with a send time outside the skew.
TEST(SequenceGuard, AlternatingBootIdsAreBounded) {
  SequenceGuard g({.max_restarts_per_minute = 6});
  int flips = 0;
  int refused = 0;
  std::string life;
  for (int64_t i = 0; i < 100; ++i) {
    const int64_t t = kNow + i * 100;
    const std::string boot = i % 2 == 0 ? "a" : "b";
    const V v = g.check("n", boot, static_cast<uint64_t>(i) + 1, t, t);
    if (v == V::accept && boot != life) ++flips, life = boot;
    if (v == V::too_many_restarts || v == V::sequence_jump) ++refused;
  }
  EXPECT_EQ(flips, 7);     // the first life and six restarts
  EXPECT_EQ(life, "a");    // then the life of the sixth restart goes on ...
  EXPECT_EQ(refused, 47);  // ... and every other "b" frame is refused (too many restarts, or mid-count)
}

}  // namespace
}  // namespace hale::aggregator
