// AWS error answers (JSON for DynamoDB, XML for Route 53), which checks and actions parse from whatever a
// server sends back: any body yields a code and message taken from it, or nothing; never a crash. The
// other providers' answers are parsed inside their actions (a target for each is still to come).

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "aws_error.h"

using namespace hale;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const AwsError e = parseAwsError(body);
  if (e.code.size() > size || e.message.size() > size) std::abort();  // parsed from the body, not invented
  return 0;
}
