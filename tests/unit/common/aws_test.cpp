#include <gtest/gtest.h>

#include <cstdlib>

#include "aws_credentials.h"
#include "aws_error.h"
#include "secret_file.h"
#include "temp_dir.h"

namespace hale {
namespace {

// Sets environment variables for one test and restores them after.
class EnvGuard {
 public:
  explicit EnvGuard(const std::vector<std::pair<std::string, std::string>>& vars) {
    for (const auto& [k, v] : vars) {
      const char* old = std::getenv(k.c_str());
      saved_.emplace_back(k, old != nullptr ? std::optional<std::string>(old) : std::nullopt);
      if (v.empty()) {
        ::unsetenv(k.c_str());
      } else {
        ::setenv(k.c_str(), v.c_str(), 1);
      }
    }
  }
  ~EnvGuard() {
    for (auto& [k, v] : saved_) {
      if (v) {
        ::setenv(k.c_str(), v->c_str(), 1);
      } else {
        ::unsetenv(k.c_str());
      }
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST(AwsCredentials, FilesFromTheConfigComeFirst) {
  test::TempDir dir("aws");
  EnvGuard env({{"AWS_ACCESS_KEY_ID", "ENVKEY"}, {"AWS_SECRET_ACCESS_KEY", "envsecret"}});
  AwsCredentialSource src{dir.writeFile("ak", "FILEKEY\n", 0600), dir.writeFile("sk", "filesecret\n", 0600),
                          dir.writeFile("tok", "token123\n", 0600), ""};
  auto c = resolveAwsCredentials(src);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c.value().access_key_id, "FILEKEY");
  EXPECT_EQ(c.value().secret_access_key, "filesecret");
  EXPECT_EQ(c.value().session_token, "token123");
}

TEST(AwsCredentials, EnvironmentThenSharedFileWithProfiles) {
  test::TempDir dir("aws");
  const std::string shared =
      dir.writeFile("credentials",
                    "[default]\naws_access_key_id = DEFKEY\naws_secret_access_key = defsecret\n\n"
                    "[ops]\naws_access_key_id=OPSKEY\naws_secret_access_key=opssecret\naws_session_token=opstoken\n");
  {
    EnvGuard env(
        {{"AWS_ACCESS_KEY_ID", "ENVKEY"}, {"AWS_SECRET_ACCESS_KEY", "envsecret"}, {"AWS_SESSION_TOKEN", "envtoken"}});
    auto c = resolveAwsCredentials({});
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c.value().access_key_id, "ENVKEY");
    EXPECT_EQ(c.value().session_token, "envtoken");
  }
  EnvGuard env({{"AWS_ACCESS_KEY_ID", ""},
                {"AWS_SECRET_ACCESS_KEY", ""},
                {"AWS_SHARED_CREDENTIALS_FILE", shared},
                {"AWS_PROFILE", ""}});
  auto def = resolveAwsCredentials({});
  ASSERT_TRUE(def.ok()) << def.error().message;
  EXPECT_EQ(def.value().access_key_id, "DEFKEY");
  EXPECT_TRUE(def.value().session_token.empty());
  auto ops = resolveAwsCredentials({"", "", "", "ops"});
  ASSERT_TRUE(ops.ok());
  EXPECT_EQ(ops.value().access_key_id, "OPSKEY");
  EXPECT_EQ(ops.value().session_token, "opstoken");
  auto missing = resolveAwsCredentials({"", "", "", "nobody"});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("profile [nobody]"), std::string::npos);
}

TEST(AwsCredentials, HalfAPairIsRefused) {
  auto c = resolveAwsCredentials({"/tmp/x", "", "", ""});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message, "access_key_file and secret_key_file must be given together");
}

TEST(AwsError, ReadsJsonAndXmlShapes) {
  AwsError j =
      parseAwsError(R"({"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"no table"})");
  EXPECT_EQ(j.code, "ResourceNotFoundException");
  EXPECT_EQ(j.message, "no table");
  AwsError x = parseAwsError(
      "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"
      "</Error></ErrorResponse>");
  EXPECT_EQ(x.code, "Throttling");
  EXPECT_EQ(x.message, "Rate exceeded");
  AwsError none = parseAwsError("<html>502</html>");
  EXPECT_TRUE(none.code.empty());
}

// What a server echoes back is redacted wherever the process writes text out (logs, journal, answers).
TEST(SecretFile, SecretsReadAreRedactedFromText) {
  test::TempDir dir("redact");
  ASSERT_TRUE(readSecretFile(dir.writeFile("token", "tok-0123456789abcdef\n", 0600)).ok());
  ASSERT_TRUE(readSecretFile(dir.writeFile("header", "Authorization: Bearer hdr-fedcba987654\n", 0600)).ok());
  ASSERT_TRUE(readSecretFile(dir.writeFile("short", "abc\n", 0600)).ok());
  EXPECT_EQ(redactSecrets("401: invalid token tok-0123456789abcdef (tok-0123456789abcdef)"),
            "401: invalid token [redacted] ([redacted])");
  EXPECT_EQ(redactSecrets("echo: hdr-fedcba987654"), "echo: [redacted]");  // the header's value alone too
  EXPECT_EQ(redactSecrets("abc is too short to be told from a word"), "abc is too short to be told from a word");
}

TEST(SecretFile, TrimsNewlinesAndRefusesEmptyOrMissing) {
  test::TempDir dir("secret");
  auto s = readSecretFile(dir.writeFile("pw", "hunter2\r\n", 0600));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value(), "hunter2");
  EXPECT_EQ(readSecretFile(dir.writeFile("empty", "\n", 0600)).error().code, "empty");
  EXPECT_EQ(readSecretFile(dir.path()).error().code, "unreadable");  // a directory is not a secret
  // Readable by every user: refused, and the message says how to fix it without showing the secret.
  auto open = readSecretFile(dir.writeFile("open", "hunter3\n", 0644));
  ASSERT_FALSE(open.ok());
  EXPECT_EQ(open.error().code, "readable_by_others");
  EXPECT_NE(open.error().message.find("mode 0644"), std::string::npos) << open.error().message;
  EXPECT_EQ(open.error().message.find("hunter3"), std::string::npos);
  EXPECT_TRUE(readSecretFile(dir.writeFile("group", "hunter4\n", 0640)).ok());  // the hale group may read
  EXPECT_EQ(readSecretFile(dir.path() + "/absent").error().code, "unreadable");
  EnvGuard env({{"CREDENTIALS_DIRECTORY", dir.path()}});
  auto relative = readSecretFile("pw");  // systemd LoadCredential=
  ASSERT_TRUE(relative.ok());
  EXPECT_EQ(relative.value(), "hunter2");
}

}  // namespace
}  // namespace hale
