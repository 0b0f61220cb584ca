#pragma once

// The code and message of an AWS error answer, whichever shape it has: JSON protocols (DynamoDB:
// {"__type":"...#ResourceNotFoundException","message":"..."}) or XML ones (Route 53, IAM, and auth
// failures: <Error><Code>..</Code><Message>..</Message></Error>). Empty fields when the body has neither.

#include <string>
#include <string_view>

namespace hale {

struct AwsError {
  std::string code;  // "ResourceNotFoundException", "Throttling", "SignatureDoesNotMatch", ...
  std::string message;
};

AwsError parseAwsError(std::string_view body);

}  // namespace hale
