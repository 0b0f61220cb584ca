#include "cli_args.h"

#include <gtest/gtest.h>

namespace hale {
namespace {

Result<CliArgs> parse(std::vector<const char*> argv) {
  argv.insert(argv.begin(), "prog");
  return CliArgs::parse(static_cast<int>(argv.size()), argv.data(), {"json", "help"}, {"socket", "limit"});
}

TEST(CliArgs, FlagsValuesAndPositionals) {
  auto a = parse({"journal", "--json", "--limit", "5", "--socket=/run/x.sock", "extra"});
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_TRUE(a.value().has("json"));
  EXPECT_FALSE(a.value().has("help"));
  EXPECT_EQ(a.value().value("limit"), "5");
  EXPECT_EQ(a.value().value("socket"), "/run/x.sock");
  EXPECT_EQ(a.value().valueOr("missing", "d"), "d");
  EXPECT_EQ(a.value().positional(), (std::vector<std::string>{"journal", "extra"}));
}

TEST(CliArgs, LastValueWinsAndDoubleDashEndsOptions) {
  auto a = parse({"--limit", "1", "--limit=2", "--", "--json"});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value().value("limit"), "2");
  EXPECT_FALSE(a.value().has("json"));
  EXPECT_EQ(a.value().positional(), std::vector<std::string>{"--json"});
}

TEST(CliArgs, RefusesUnknownOptionsAndMissingValues) {
  EXPECT_EQ(parse({"--jsno"}).error().message, "unknown option --jsno");
  EXPECT_EQ(parse({"--limit"}).error().message, "option --limit needs a value");
  EXPECT_EQ(parse({"--json=yes"}).error().message, "option --json takes no value");
}

}  // namespace
}  // namespace hale
