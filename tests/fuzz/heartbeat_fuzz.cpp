// The heartbeat decoder: any bytes are refused with a named reason or decode to a heartbeat within the
// schema (clean text, bounded sizes, known enums), and a decoded heartbeat encodes and decodes to itself.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "heartbeat_codec.h"
#include "text.h"

using namespace hale;

// libFuzzer names the entry point.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {  // NOLINT(readability-identifier-naming)
  static heartbeat::Decoder decoder;
  static heartbeat::Heartbeat hb;
  const std::string_view frame(reinterpret_cast<const char*>(data), size);
  const heartbeat::DecodeResult r = decoder.decode(frame, hb);
  if (!r.ok()) {
    if (heartbeat::decodeErrorName(r.error) == "invalid") std::abort();
    return 0;
  }
  if (hb.node_id.empty() || hb.node_id.size() > heartbeat::kMaxIdBytes || !isCleanText(hb.node_id) ||
      !isCleanText(hb.region) || !isCleanText(hb.boot_id) || hb.checks.size() > heartbeat::kMaxChecks ||
      static_cast<int>(hb.status) > heartbeat::kMaxNodeStatus) {
    std::abort();
  }
  for (const auto& c : hb.checks) {
    if (!isCleanText(c.name) || !isCleanText(c.message) || static_cast<int>(c.status) > heartbeat::kMaxCheckStatus)
      std::abort();
  }
  static std::string again;
  heartbeat::encode(hb, again);
  static heartbeat::Heartbeat back;
  if (again.size() <= heartbeat::kMaxFrameBytes && (!decoder.decode(again, back).ok() || !(back == hb))) std::abort();
  return 0;
}
