#include "aws_credentials.h"

#include <cstdlib>
#include <fstream>

#include "config_reader.h"
#include "secret_file.h"

namespace hale {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r");
  const size_t e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// Reads [profile] of an INI-style credentials file.
Result<AwsCredentials> fromSharedFile(const std::string& path, const std::string& profile) {
  std::ifstream in(path);
  if (!in) return makeError("no_credentials", "no AWS credentials in config, environment or " + path);
  AwsCredentials c;
  bool in_profile = false;
  for (std::string line; std::getline(in, line);) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      in_profile = trim(line.substr(1, line.size() - 2)) == profile;
      continue;
    }
    if (!in_profile) continue;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = trim(line.substr(0, eq));
    const std::string value = trim(line.substr(eq + 1));
    if (key == "aws_access_key_id") c.access_key_id = value;
    if (key == "aws_secret_access_key") c.secret_access_key = value;
    if (key == "aws_session_token") c.session_token = value;
  }
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    return makeError("no_credentials",
                     "profile [" + profile + "] in " + path + " lacks aws_access_key_id or aws_secret_access_key");
  }
  return c;
}

}  // namespace

Result<AwsCredentials> resolveAwsCredentials(const AwsCredentialSource& source) {
  if (!source.access_key_file.empty() || !source.secret_key_file.empty()) {
    if (source.access_key_file.empty() || source.secret_key_file.empty()) {
      return makeError("no_credentials", "access_key_file and secret_key_file must be given together");
    }
    AwsCredentials c;
    auto id = readSecretFile(source.access_key_file);
    if (!id) return id.error();
    auto secret = readSecretFile(source.secret_key_file);
    if (!secret) return secret.error();
    c.access_key_id = id.value();
    c.secret_access_key = secret.value();
    if (!source.session_token_file.empty()) {
      auto token = readSecretFile(source.session_token_file);
      if (!token) return token.error();
      c.session_token = token.value();
    }
    return c;
  }
  if (!env("AWS_ACCESS_KEY_ID").empty() && !env("AWS_SECRET_ACCESS_KEY").empty()) {
    return AwsCredentials{env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"), env("AWS_SESSION_TOKEN")};
  }
  std::string path = env("AWS_SHARED_CREDENTIALS_FILE");
  if (path.empty()) path = env("HOME").empty() ? "/root/.aws/credentials" : env("HOME") + "/.aws/credentials";
  std::string profile = source.profile;
  if (profile.empty()) profile = env("AWS_PROFILE");
  if (profile.empty()) profile = "default";
  return fromSharedFile(path, profile);
}

bool readAwsCredentialSource(ConfigTable& t, AwsCredentialSource& out) {
  t.get("access_key_file", out.access_key_file);
  t.get("secret_key_file", out.secret_key_file);
  t.get("session_token_file", out.session_token_file);
  t.get("profile", out.profile);
  if (auto creds = resolveAwsCredentials(out); !creds) {
    t.error(out.access_key_file.empty() ? "" : "access_key_file", creds.error().message);
    return false;
  }
  return true;
}

}  // namespace hale
