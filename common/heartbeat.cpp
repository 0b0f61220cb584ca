#include "heartbeat.h"

#include <array>

namespace hale::heartbeat {
namespace {

constexpr std::array<std::string_view, 3> kNodeStatusNames{"healthy", "degraded", "unhealthy"};
constexpr std::array<std::string_view, 4> kCheckStatusNames{"pass", "warn", "fail", "unknown"};

template <typename Enum, size_t N>
bool parseByName(const std::array<std::string_view, N>& names, std::string_view text, Enum& out) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == text) {
      out = static_cast<Enum>(i);
      return true;
    }
  }
  return false;
}

}  // namespace

std::string_view toString(NodeStatus s) {
  const auto i = static_cast<size_t>(s);
  return i < kNodeStatusNames.size() ? kNodeStatusNames[i] : "invalid";
}

std::string_view toString(CheckStatus s) {
  const auto i = static_cast<size_t>(s);
  return i < kCheckStatusNames.size() ? kCheckStatusNames[i] : "invalid";
}

bool parseNodeStatus(std::string_view text, NodeStatus& out) { return parseByName(kNodeStatusNames, text, out); }
bool parseCheckStatus(std::string_view text, CheckStatus& out) { return parseByName(kCheckStatusNames, text, out); }

}  // namespace hale::heartbeat
