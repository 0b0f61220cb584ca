#pragma once

// AWS credentials, looked up the way AWS's own tools do, first match wins:
//   1. files named in hale's config (access key id, secret key, optional session token),
//   2. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN,
//   3. the shared credentials file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials), profile from the
//      config, else AWS_PROFILE, else "default".
// Looked up on every use, so rotated credentials are picked up without a restart.

#include <string>

#include "result.h"

namespace hale {

struct AwsCredentialSource {
  std::string access_key_file;
  std::string secret_key_file;
  std::string session_token_file;
  std::string profile;
};

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term keys
};

Result<AwsCredentials> resolveAwsCredentials(const AwsCredentialSource& source);

class ConfigTable;
// Reads access_key_file, secret_key_file, session_token_file and profile from a config table and checks
// that credentials can be found now (a signer that can never sign is a configuration error). False, with
// the error recorded in the table, when they cannot.
bool readAwsCredentialSource(ConfigTable& t, AwsCredentialSource& out);

}  // namespace hale
