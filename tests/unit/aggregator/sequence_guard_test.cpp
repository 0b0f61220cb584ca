#include "sequence_guard.h"

#include <gtest/gtest.h>

namespace hale::aggregator {
namespace {

using V = SequenceVerdict;

TEST(SequenceGuard, AcceptsIncreasingSequences) {
  SequenceGuard g;
  EXPECT_EQ(g.check("n", "b1", 1, 1000), V::accept);
  EXPECT_EQ(g.check("n", "b1", 2, 2000), V::accept);
  EXPECT_EQ(g.check("n", "b1", 10, 3000), V::accept);  // gaps are lost heartbeats, not an error
}

TEST(SequenceGuard, DropsDuplicatesAndOldOnes) {
  SequenceGuard g;
  EXPECT_EQ(g.check("n", "b1", 5, 5000), V::accept);
  EXPECT_EQ(g.check("n", "b1", 5, 5000), V::duplicate);
  EXPECT_EQ(g.check("n", "b1", 4, 4000), V::out_of_order);
  EXPECT_EQ(g.check("n", "b1", 6, 6000), V::accept);
}

TEST(SequenceGuard, NewBootStartsOverButNotFromThePast) {
  SequenceGuard g(2000);
  EXPECT_EQ(g.check("n", "b1", 500, 100'000), V::accept);
  EXPECT_EQ(g.check("n", "b2", 1, 101'000), V::accept);  // restarted: seq starts at 1 again
  EXPECT_EQ(g.check("n", "b2", 2, 102'000), V::accept);
  EXPECT_EQ(g.check("n", "b1", 501, 100'500), V::accept);     // within the slack: clocks disagree a little
  EXPECT_EQ(g.check("n", "b3", 1, 90'000), V::out_of_order);  // a replay of an older life
}

TEST(SequenceGuard, NodesAreIndependent) {
  SequenceGuard g;
  EXPECT_EQ(g.check("a", "b", 7, 1), V::accept);
  EXPECT_EQ(g.check("b", "b", 7, 1), V::accept);
  g.forget("a");
  EXPECT_EQ(g.check("a", "b", 7, 1), V::accept);
}

}  // namespace
}  // namespace hale::aggregator
