#pragma once

// Secrets (passwords, API tokens, keys) live in files or systemd credentials, never in config text. The
// contents are returned with trailing newlines removed; errors name the file, never the contents.

#include <string>

#include "result.h"

namespace hale {

// Reads a secret from `path`. A relative path is looked up in $CREDENTIALS_DIRECTORY first (systemd's
// LoadCredential=), then taken as given. Refuses what is not a regular file, a file every user may read
// (group-readable is fine: the hale group), an empty file and one over 64 KiB.
// Every secret read is remembered (in memory only) so redactSecrets can take it out of text that leaves
// the process: an API that echoes a token in its error body must not put it into the journal or a log.
Result<std::string> readSecretFile(const std::string& path);

// `text` with every remembered secret (of 6 bytes or more) replaced by "[redacted]".
std::string redactSecrets(std::string_view text);
// Remembers `secret` for redactSecrets (for secrets that do not come from readSecretFile).
void rememberSecret(std::string_view secret);

}  // namespace hale
