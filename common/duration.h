#pragma once

// Durations in config files and on the command line: one or more <integer><unit> pairs, unit one of
// ms, s, m, h ("250ms", "5s", "1m30s"). No bare numbers: a unit-less "5" is the classic seconds vs
// milliseconds mistake.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace hale {

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text);
// The shortest exact form: 1500ms -> "1500ms", 90s -> "1m30s".
std::string formatDuration(std::chrono::milliseconds d);

}  // namespace hale
