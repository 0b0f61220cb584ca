#pragma once

// Hex digests (OpenSSL EVP) for request signing: OVH's SHA-1 signature, the SigV4 payload hash.

#include <string>
#include <string_view>

namespace hale::aggregator {

std::string sha1Hex(std::string_view data);
std::string sha256Hex(std::string_view data);

}  // namespace hale::aggregator
