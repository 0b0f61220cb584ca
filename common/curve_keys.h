#pragma once

// CurveZMQ keys (RFC 32 / ZMTP CURVE): a 32-byte Curve25519 keypair, written as 40 characters of Z85.
// The aggregator has one keypair; every agent has its own; the aggregator lists which agent public key may
// speak for which node. A secret key lives in a file (or a systemd credential) of its own, read with the
// secret-file rules (secret_file.h); a public key is not secret and is written inline in configs.

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "result.h"

namespace hale::curve {

inline constexpr size_t kKeyTextBytes = 40;  // Z85 of 32 bytes
inline constexpr size_t kKeyBytes = 32;

struct Keypair {
  std::string public_key;  // Z85
  std::string secret_key;  // Z85; never logged

  bool operator==(const Keypair&) const = default;
};

// A fresh keypair from the system's random source.
Result<Keypair> generate();

// Reads a secret key file (Z85, surrounding whitespace ignored) and derives its public key.
Result<Keypair> loadSecretKey(const std::string& path);

// Whether `text` is a Z85 key (40 characters that decode to 32 bytes).
bool isKey(std::string_view text);

// The 32 raw bytes of a Z85 key (what a ZAP request carries); empty when `text` is not a key.
std::string keyBytes(std::string_view text);
// The Z85 text of 32 raw bytes; empty when `bytes` is not 32 bytes long.
std::string keyText(std::string_view bytes);

// Writes `<base>.key` (the secret, mode 0600, or 0640 and owned by `secret_group` when given) and
// `<base>.pub` (the public key, mode 0644), each one line; both or neither. Refuses to replace an existing
// file or to write through a symbolic link: a key in use is never overwritten by accident.
Result<void> writeKeypair(const std::string& base, const Keypair& keys,
                          std::optional<gid_t> secret_group = std::nullopt);

}  // namespace hale::curve
