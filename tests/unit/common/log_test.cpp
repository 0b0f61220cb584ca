// The log line formats: text as before, and JSON objects that any parser reads whatever the detail holds.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "log.h"
#include "temp_dir.h"

namespace hale {
namespace {

// Runs `body` with stderr sent to a file; returns what was written, line by line. Restores the settings.
std::vector<std::string> capture(const std::function<void()>& body) {
  hale::test::TempDir dir("log");
  const std::string path = dir.path() + "/stderr";
  std::fflush(stderr);
  const int saved = ::dup(STDERR_FILENO);
  FILE* f = std::fopen(path.c_str(), "w");
  ::dup2(::fileno(f), STDERR_FILENO);
  body();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::fclose(f);
  setLogFormat(LogFormat::text);
  setLogTimestamps(true);
  setLogPriorityPrefixes(false);
  std::istringstream in(hale::test::readFile(path));
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(Log, ParsesTheFormatNames) {
  LogFormat f = LogFormat::text;
  EXPECT_TRUE(parseLogFormat("json", f));
  EXPECT_EQ(f, LogFormat::json);
  EXPECT_TRUE(parseLogFormat("text", f));
  EXPECT_EQ(f, LogFormat::text);
  EXPECT_FALSE(parseLogFormat("JSON", f));
  EXPECT_EQ(f, LogFormat::text);
}

TEST(Log, TextIsOneLinePerEventWithItsLevel) {
  const auto out = capture([] {
    setLogTimestamps(false);
    logWarn("+pause", "automatic decisions paused by root (uid 0)");
    logInfo("+bare");
  });
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], "warn +pause automatic decisions paused by root (uid 0)");
  EXPECT_EQ(out[1], "info +bare");
}

TEST(Log, JsonLinesParseWhateverTheDetailHolds) {
  const std::string nasty = std::string("quote \" backslash \\ newline\n tab\t esc \x1b[31m bad \xff\xfe end");
  const auto out = capture([&] {
    setLogFormat(LogFormat::json);
    logError("-plan-failed", nasty);
    logInfo("+bare");
    logInfo("+odd\"event\\\n\x01", "x");  // event names come from code, but are escaped all the same
    setLogPriorityPrefixes(true);         // under journald: the prefix first, which journald strips
    logWarn("+pause", "by root");
  });
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(nlohmann::json::parse(out[2])["event"], "+odd\"event\\\n\x01") << out[2];
  EXPECT_NE(out[2].find("\\u0001"), std::string::npos) << out[2];
  const auto first = nlohmann::json::parse(out[0]);
  EXPECT_EQ(first["level"], "error");
  EXPECT_EQ(first["event"], "-plan-failed");
  const std::string detail = first["detail"];
  EXPECT_EQ(detail.find('\n'), std::string::npos);
  EXPECT_EQ(detail.find('\x1b'), std::string::npos);
  EXPECT_NE(detail.find("quote \" backslash \\ newline"), std::string::npos) << detail;
  EXPECT_NE(detail.find("\xef\xbf\xbd"), std::string::npos) << "bad bytes become U+FFFD";
  EXPECT_EQ(first["ts"].get<std::string>().size(), std::string("2026-12-02T07:00:00.000Z").size()) << out[0];
  EXPECT_EQ(first["ts"].get<std::string>().back(), 'Z');
  const auto bare = nlohmann::json::parse(out[1]);
  EXPECT_EQ(bare["detail"], "");
  ASSERT_EQ(out[3].rfind("<4>{", 0), 0u) << out[3];
  EXPECT_EQ(nlohmann::json::parse(out[3].substr(3))["event"], "+pause");
}

}  // namespace
}  // namespace hale
