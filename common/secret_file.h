#pragma once

// Secrets (passwords, API tokens, keys) live in files or systemd credentials, never in config text. The
// contents are returned with trailing newlines removed; errors name the file, never the contents.

#include <string>

#include "result.h"

namespace hale {

// Reads a secret from `path`. A relative path is looked up in $CREDENTIALS_DIRECTORY first (systemd's
// LoadCredential=), then taken as given. Refuses what is not a regular file, a file every user may read
// (group-readable is fine: the hale group), an empty file and one over 64 KiB.
Result<std::string> readSecretFile(const std::string& path);

}  // namespace hale
