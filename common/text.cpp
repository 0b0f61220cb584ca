#include "text.h"

#include <cstdint>

namespace hale {
namespace {

// The code point at `s[i]` and its length in bytes; length 0 when the bytes there are not valid UTF-8.
struct Decoded {
  uint32_t cp = 0;
  size_t len = 0;
};

Decoded decodeAt(std::string_view s, size_t i) {
  const auto b0 = static_cast<uint8_t>(s[i]);
  if (b0 < 0x80) return {b0, 1};
  size_t len = 0;
  uint32_t cp = 0;
  uint32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1FU, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0FU, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07U, min = 0x10000;
  } else {
    return {};
  }
  if (s.size() - i < len) return {};
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<uint8_t>(s[i + k]);
    if ((b & 0xC0) != 0x80) return {};
    cp = (cp << 6) | (b & 0x3FU);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {};
  return {cp, len};
}

bool isControl(uint32_t cp) { return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F); }

}  // namespace

bool isCleanText(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const Decoded d = decodeAt(s, i);
    if (d.len == 0 || isControl(d.cp)) return false;
    i += d.len;
  }
  return true;
}

void cleanText(std::string_view in, size_t max_bytes, std::string& out) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  out.clear();
  for (size_t i = 0; i < in.size();) {
    const Decoded d = decodeAt(in, i);
    std::string_view piece;
    if (d.len == 0) {
      piece = kReplacement;
      i += 1;
    } else if (isControl(d.cp)) {
      piece = " ";
      i += d.len;
    } else {
      piece = in.substr(i, d.len);
      i += d.len;
    }
    if (out.size() + piece.size() > max_bytes) return;  // a whole character or nothing
    out.append(piece);
  }
}

}  // namespace hale
