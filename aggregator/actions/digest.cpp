#include "digest.h"

#include <openssl/evp.h>

namespace hale::aggregator {
namespace {

std::string hexDigest(const EVP_MD* md, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, md, nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(size_t{2} * len);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

}  // namespace

std::string sha1Hex(std::string_view data) { return hexDigest(EVP_sha1(), data); }
std::string sha256Hex(std::string_view data) { return hexDigest(EVP_sha256(), data); }

}  // namespace hale::aggregator
