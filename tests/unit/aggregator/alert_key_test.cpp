// The key every observer's copy of one alert carries: a pager folds copies by it and pairs an end with its
// start.

#include <gtest/gtest.h>

#include "alerter.h"

namespace hale::aggregator {
namespace {

TEST(AlertKey, IsTheClusterTheEventWithoutItsSignAndTheSubject) {
  EXPECT_EQ(alertKey("prod", {"+split-brain", "eu-1", "fenced"}), "prod/split-brain/eu-1");
  EXPECT_EQ(alertKey("prod", {"-split-brain", "eu-1", "unfenced"}), "prod/split-brain/eu-1");
  EXPECT_EQ(alertKey("prod", {"+node-failed", "eu-2", ""}), "prod/node-failed/eu-2");
  EXPECT_EQ(alertKey("prod", {"+tilt", "", "the clock jumped"}), "prod/tilt");
  EXPECT_NE(alertKey("prod", {"+split-brain", "eu-1", ""}), alertKey("test", {"+split-brain", "eu-1", ""}));
  EXPECT_NE(alertKey("prod", {"+split-brain", "eu-1", ""}), alertKey("prod", {"+split-brain", "eu-2", ""}));
}

}  // namespace
}  // namespace hale::aggregator
