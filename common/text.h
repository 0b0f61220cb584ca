#pragma once

// Text that crosses a trust boundary (heartbeat strings, check messages, JSON answers): valid UTF-8 without
// control characters, so one odd byte can neither break a JSON answer nor smuggle a terminal escape into
// an operator's table. The decoder refuses what is not clean; the agent cleans what it sends.

#include <cstddef>
#include <string>
#include <string_view>

namespace hale {

// Valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF) with no C0 or C1 control
// character and no DEL.
bool isCleanText(std::string_view s);

// Replaces `out` with `in` made clean: each invalid byte becomes U+FFFD, each control character (tab and
// newline included) a space; cut to at most `max_bytes` on a character boundary. Reuses `out`'s capacity.
void cleanText(std::string_view in, size_t max_bytes, std::string& out);

}  // namespace hale
