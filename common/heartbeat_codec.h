#pragma once

// msgpack encoder and strict decoder for heartbeat schema v1 (see heartbeat.h). Both reuse their
// buffers, so once warmed up neither allocates per message: this is the aggregator's ingest hot path.

#include <string>
#include <string_view>

#include <msgpack.hpp>

#include "heartbeat.h"

namespace hale::heartbeat {

// Why a frame was refused. Each reason has a stable name (decodeErrorName) used in logs and as the
// label of the aggregator's rejection counter.
enum class DecodeError : uint8_t {
  none = 0,
  frame_too_large,      // frame longer than kMaxFrameBytes
  truncated,            // msgpack value ends before its declared length
  malformed,            // bytes that are not msgpack
  trailing_bytes,       // bytes after the top-level value
  not_a_map,            // top-level value is not a map
  missing_key,          // a required key is absent
  duplicate_key,        // a key appears twice in one map
  wrong_type,           // a key's value (or a map key) has the wrong msgpack type
  unsupported_version,  // "v" is not kSchemaMajor
  invalid_value,        // right type, value out of range (unknown status, empty id)
  string_too_long,      // a string over its limit
  array_too_long,       // an array over kMaxChecks elements
  map_too_large,        // a map over kMaxMapEntries entries
  too_deep,             // nesting over kMaxDepth
  bad_string,           // a string that is not valid UTF-8 or holds a control character (common/text.h)
};
inline constexpr size_t kDecodeErrorCount = 16;

std::string_view decodeErrorName(DecodeError e);

struct DecodeResult {
  DecodeError error = DecodeError::none;
  std::string_view key;  // the offending key ("checks[3].st"-style paths are not built; the key alone)

  bool ok() const { return error == DecodeError::none; }
};

// Appends nothing: replaces `out` with the encoding of `hb`, keeping `out`'s capacity.
void encode(const Heartbeat& hb, std::string& out);

class Decoder {
 public:
  // Decodes one frame into `out`, reusing `out`'s strings and vector. On failure `out` holds a partial
  // value and must not be used. Never throws; any input is safe.
  DecodeResult decode(std::string_view frame, Heartbeat& out);

 private:
  msgpack::zone zone_;
};

}  // namespace hale::heartbeat
