#include "text.h"

#include <gtest/gtest.h>

#include <random>

namespace hale {
namespace {

TEST(Text, CleanTextIsValidUtf8WithoutControls) {
  EXPECT_TRUE(isCleanText(""));
  EXPECT_TRUE(isCleanText("eu-west-1 app_2.example"));
  EXPECT_TRUE(isCleanText("z\xc3\xbcrich \xe2\x82\xac \xf0\x9f\x98\x80"));  // 2-, 3- and 4-byte characters
  EXPECT_TRUE(isCleanText("\xc2\xa0"));                                     // U+00A0, just past the C1 block
  for (const std::string& bad :
       {std::string("\x01"), std::string("a\tb"), std::string("a\nb"), std::string("\x7f"), std::string("\xc2\x80"),
        std::string("\xc2\x9f"), std::string("\xff"), std::string("\x80"), std::string("\xc0\xaf"),
        std::string("\xe0\x80\xaf"), std::string("\xed\xa0\x80"), std::string("\xf4\x90\x80\x80"),
        std::string("\xe2\x82"), std::string("x") + '\0'}) {
    EXPECT_FALSE(isCleanText(bad)) << testing::PrintToString(bad);
  }
}

TEST(Text, CleaningReplacesAndCutsOnACharacterBoundary) {
  std::string out;
  cleanText("ok\tthen\nfine", 100, out);
  EXPECT_EQ(out, "ok then fine");
  cleanText("bad \xff byte", 100, out);
  EXPECT_EQ(out, "bad \xef\xbf\xbd byte");
  cleanText("a\xe2\x82\xac", 3, out);  // the euro sign would not fit whole
  EXPECT_EQ(out, "a");
  cleanText("a\xe2\x82\xac", 4, out);
  EXPECT_EQ(out, "a\xe2\x82\xac");
  cleanText("\xf0\x9f\x98\x80", 3, out);
  EXPECT_EQ(out, "");
}

// Property: whatever bytes come in, what comes out is clean text within the limit, and clean text
// within the limit comes out unchanged.
TEST(TextProperty, CleanedBytesAreAlwaysCleanAndBounded) {
  std::mt19937 rng(5);
  std::string in;
  std::string out;
  for (int i = 0; i < 20000; ++i) {
    in.resize(rng() % 80);
    for (char& c : in) c = static_cast<char>(rng());
    const size_t max = rng() % 64;
    cleanText(in, max, out);
    ASSERT_LE(out.size(), max);
    ASSERT_TRUE(isCleanText(out)) << testing::PrintToString(in);
    if (isCleanText(in) && in.size() <= max) {
      ASSERT_EQ(out, in);
    }
  }
}

}  // namespace
}  // namespace hale
