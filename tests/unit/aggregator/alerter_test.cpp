// The key every observer's copy of one alert carries: a pager folds copies by it and pairs an end with its
// start.

#include <gtest/gtest.h>

#include "alerter.h"

namespace hale::aggregator {
namespace {

TEST(AlertKey, IsTheClusterTheEventWithoutItsSignAndTheSubjectOrTheObserver) {
  EXPECT_EQ(alertKey("prod", "us", {"+split-brain", "eu-1", "fenced"}), "prod/split-brain/eu-1");
  EXPECT_EQ(alertKey("prod", "us", {"-split-brain", "eu-1", "unfenced"}), "prod/split-brain/eu-1");
  EXPECT_EQ(alertKey("prod", "us", {"+node-failed", "eu-2", ""}), "prod/node-failed/eu-2");
  EXPECT_EQ(alertKey("prod", "us", {"+node-failed", "eu-2", ""}), alertKey("prod", "eu", {"+node-failed", "eu-2", ""}));
  // The aggregator's own events are each observer's own; deciding alone there is one.
  EXPECT_EQ(alertKey("prod", "us", {"+tilt", "", "the clock jumped"}), "prod/tilt/us");
  EXPECT_NE(alertKey("prod", "us", {"+tilt", "", ""}), alertKey("prod", "eu", {"+tilt", "", ""}));
  EXPECT_EQ(alertKey("prod", "", {"+tilt", "", ""}), "prod/tilt");
  EXPECT_NE(alertKey("prod", "us", {"+split-brain", "eu-1", ""}), alertKey("test", "us", {"+split-brain", "eu-1", ""}));
  EXPECT_NE(alertKey("prod", "us", {"+split-brain", "eu-1", ""}), alertKey("prod", "us", {"+split-brain", "eu-2", ""}));
}

}  // namespace
}  // namespace hale::aggregator
