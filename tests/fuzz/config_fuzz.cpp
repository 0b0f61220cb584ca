// The config loaders: any text is a config or a list of errors naming where, never a crash. The first byte
// picks the daemon (even: aggregator, odd: agent).

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "agent_config.h"
#include "aggregator_config.h"

using namespace hale;

// libFuzzer names the entry point.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {  // NOLINT(readability-identifier-naming)
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    auto c = aggregator::parseAggregatorConfig(text, "fuzz.toml");
    if (!c && c.error().message.empty()) std::abort();
  } else {
    auto c = agent::parseAgentConfig(text, "fuzz.toml");
    if (!c && c.error().message.empty()) std::abort();
  }
  return 0;
}
