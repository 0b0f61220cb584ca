#pragma once

// Small helpers shared by the check implementations.

#include <chrono>
#include <string>
#include <string_view>

#include "check.h"

namespace hale::agent {

// The first line of `text`, at most `max` bytes, without trailing spaces: a check message.
std::string firstLine(std::string_view text, size_t max = 200);
// "1.5s", "250ms": durations in check messages.
std::string humanDuration(std::chrono::milliseconds d);
// Waits for `events` on `fd` until the context's deadline or stop, in slices so a stop is seen quickly.
// Returns the revents (0 on timeout or stop).
short pollUntil(int fd, short events, const CheckContext& ctx);

}  // namespace hale::agent
