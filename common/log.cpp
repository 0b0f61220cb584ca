#include "log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

#include "secret_file.h"
#include "text.h"

namespace hale {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::info)};
std::atomic<bool> g_timestamps{true};
std::atomic<bool> g_priorities{false};
std::atomic<bool> g_json{false};

const char* levelName(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
  }
  return "?";
}

const char* priorityPrefix(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "<7>";
    case LogLevel::info: return "<6>";
    case LogLevel::warn: return "<4>";
    case LogLevel::error: return "<3>";
  }
  return "<6>";
}

// As a JSON string body: the text is valid UTF-8 already (cleanText), so only quotes, backslashes and
// control characters need escaping.
void appendJsonEscaped(std::string& out, std::string_view text) {
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
}

void appendTimestamp(std::string& line) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  line.append(buf, n);
  char frac[8];
  const int m = std::snprintf(frac, sizeof frac, ".%03dZ ", static_cast<int>(ms));
  line.append(frac, static_cast<size_t>(m));
}

}  // namespace

void setLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel logLevel() { return static_cast<LogLevel>(g_level.load()); }
void setLogTimestamps(bool on) { g_timestamps.store(on); }
void setLogPriorityPrefixes(bool on) { g_priorities.store(on); }
void setLogFormat(LogFormat format) { g_json.store(format == LogFormat::json); }

bool parseLogFormat(std::string_view text, LogFormat& out) {
  if (text == "text") {
    out = LogFormat::text;
  } else if (text == "json") {
    out = LogFormat::json;
  } else {
    return false;
  }
  return true;
}

bool parseLogLevel(std::string_view text, LogLevel& out) {
  for (LogLevel l : {LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error}) {
    if (text == levelName(l)) {
      out = l;
      return true;
    }
  }
  return false;
}

void logLine(LogLevel level, std::string_view event, std::string_view detail) {
  if (static_cast<int>(level) < g_level.load()) return;
  // One event on one line, and no terminal escape, whatever the detail holds (text from servers,
  // plugins and etcd ends up here); never a configured secret.
  std::string clean;
  if (!detail.empty()) {
    const std::string redacted = redactSecrets(detail);
    cleanText(redacted, redacted.size() * 3, clean);  // each bad byte may become a 3-byte U+FFFD
  }
  std::string line;
  line.reserve(80 + event.size() + clean.size());
  if (g_priorities.load()) line += priorityPrefix(level);
  if (g_json.load()) {
    line += "{\"ts\":\"";
    appendTimestamp(line);
    line.pop_back();  // the separating space
    line += "\",\"level\":\"";
    line += levelName(level);
    line += "\",\"event\":\"";
    appendJsonEscaped(line, event);
    line += "\",\"detail\":\"";
    appendJsonEscaped(line, clean);
    line += "\"}";
  } else {
    if (g_timestamps.load()) appendTimestamp(line);
    line += levelName(level);
    line += ' ';
    line += event;
    if (!clean.empty()) {
      line += ' ';
      line += clean;
    }
  }
  line += '\n';
  // One write per line so concurrent threads never interleave within a line. stderr is best effort.
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace hale
