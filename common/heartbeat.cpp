#include "heartbeat.h"

#include <array>

namespace hale::heartbeat {
namespace {

constexpr std::array<std::string_view, 3> kNodeStatusNames{"healthy", "degraded", "unhealthy"};
constexpr std::array<std::string_view, 4> kCheckStatusNames{"pass", "warn", "fail", "unknown"};

}  // namespace

std::string_view toString(NodeStatus s) {
  const auto i = static_cast<size_t>(s);
  return i < kNodeStatusNames.size() ? kNodeStatusNames[i] : "invalid";
}

std::string_view toString(CheckStatus s) {
  const auto i = static_cast<size_t>(s);
  return i < kCheckStatusNames.size() ? kCheckStatusNames[i] : "invalid";
}

}  // namespace hale::heartbeat
