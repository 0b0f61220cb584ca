// Answers from servers hale talks to: AWS error bodies (JSON for DynamoDB, XML for Route 53) and etcd's
// range and transaction answers. Any body yields a result or a named error, never a crash; the first byte
// picks the parser. (The Linode, OVH and Route 53 change answers are parsed inside their actions: a target
// for each is still to come.)

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "aws_error.h"
#include "etcd_client.h"

using namespace hale;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      const AwsError e = parseAwsError(body);
      if (e.code.size() > body.size() || e.message.size() > body.size()) std::abort();  // taken from the body
      break;
    }
    case 1: {
      auto kvs = etcd::parseRangeAnswer(body);
      if (!kvs && kvs.error().code != "etcd_malformed") std::abort();
      break;
    }
    default: {
      auto txn = etcd::parseTxnAnswer(body);
      if (!txn && txn.error().code != "etcd_malformed") std::abort();
      break;
    }
  }
  return 0;
}
