// The control protocol: any line is a request or a named refusal, never a crash or a hang; a request
// encodes and parses back to itself; any answer line is an answer or a named error.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "control_protocol.h"

using namespace hale;

// libFuzzer names the entry point.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {  // NOLINT(readability-identifier-naming)
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  uint64_t id = 0;
  auto request = control::parseRequest(line, id);
  if (request) {
    uint64_t again_id = 0;
    std::string encoded = control::encodeRequest(request.value());
    encoded.pop_back();  // the newline
    auto again = control::parseRequest(encoded, again_id);
    if (!again || again.value().cmd != request.value().cmd || again.value().id != request.value().id ||
        again.value().args != request.value().args) {
      std::abort();
    }
  } else if (request.error().code.empty()) {
    std::abort();
  }
  auto response = control::parseResponse(line, id);
  if (!response && response.error().code.empty()) std::abort();
  (void)control::encodeFailure(id, "bad_json", line);  // any bytes in a message still encode
  return 0;
}
