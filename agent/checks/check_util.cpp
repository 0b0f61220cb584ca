#include "check_util.h"

#include <poll.h>

#include <algorithm>
#include <cstdio>

namespace hale::agent {

std::string firstLine(std::string_view text, size_t max) {
  const size_t nl = text.find_first_of("\r\n");
  std::string_view line = text.substr(0, std::min(nl, max));
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  return std::string(line);
}

std::string humanDuration(std::chrono::milliseconds d) {
  char buf[32];
  if (d.count() < 1000) {
    std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(d.count()));
  } else {
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(d.count()) / 1000.0);
  }
  return buf;
}

short pollUntil(int fd, short events, const CheckContext& ctx) {
  constexpr std::chrono::milliseconds kSlice{100};
  while (!ctx.expired()) {
    pollfd p{fd, events, 0};
    const auto wait = std::min(ctx.remaining(), kSlice);
    const int n = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(1, wait.count())));
    if (n > 0) return p.revents;
    if (n < 0 && errno != EINTR) return POLLERR;
  }
  return 0;
}

}  // namespace hale::agent
