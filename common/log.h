#pragma once

// One line per event on stderr (journald adds its own timestamp under systemd). Events are named in
// Sentinel's manner (`+node-suspect`, `-region-down`) so one string identifies them in logs, metrics,
// the journal and halectl. Thread-safe: each line is written with a single write(2). Text by default
// (`2026-12-02T07:00:00.000Z warn +pause automatic decisions paused by ...`), or one JSON object per line
// for log shippers (`log_format = "json"`: {"ts","level","event","detail"}, always with its timestamp).

#include <string_view>

namespace hale {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3 };
enum class LogFormat { text, json };

// Lines below the threshold are dropped. Default: info.
void setLogLevel(LogLevel level);
LogLevel logLevel();
// Parses "debug", "info", "warn", "error"; returns false (and leaves `out`) on anything else.
bool parseLogLevel(std::string_view text, LogLevel& out);
void setLogFormat(LogFormat format);
// Parses "text", "json"; returns false (and leaves `out`) on anything else.
bool parseLogFormat(std::string_view text, LogFormat& out);
// Prefix every line with an ISO-8601 UTC timestamp (off under systemd, where journald stamps lines).
void setLogTimestamps(bool on);
// Prefix every line with its syslog priority, "<3>" error, "<4>" warn, "<6>" info, "<7>" debug, which
// journald reads from a service's stderr (sd-daemon(3)), so `journalctl -p err` finds failures. On under
// systemd (JOURNAL_STREAM set).
void setLogPriorityPrefixes(bool on);

void logLine(LogLevel level, std::string_view event, std::string_view detail);

inline void logDebug(std::string_view event, std::string_view detail = {}) { logLine(LogLevel::debug, event, detail); }
inline void logInfo(std::string_view event, std::string_view detail = {}) { logLine(LogLevel::info, event, detail); }
inline void logWarn(std::string_view event, std::string_view detail = {}) { logLine(LogLevel::warn, event, detail); }
inline void logError(std::string_view event, std::string_view detail = {}) { logLine(LogLevel::error, event, detail); }

}  // namespace hale
