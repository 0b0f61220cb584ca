// A test that skips itself, labelled `probe`: tests/ci/ctest-strict.sh run on it must fail
// (ci.a_skipped_test_fails_the_suite), or a skipped test could pass the suite.

#include <gtest/gtest.h>

TEST(SkipProbe, SkipsItself) { GTEST_SKIP() << "skipped on purpose: the suite must count this as a failure"; }
