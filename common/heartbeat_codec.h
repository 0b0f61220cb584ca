#pragma once

// msgpack encoder and strict decoder for heartbeat schema v1 (see heartbeat.h). Both reuse their
// buffers: once warm, decoding a valid frame allocates nothing (tests/unit/common/
// decoder_allocation_test.cpp counts operator new and malloc). This is the aggregator's ingest hot path.
// A refused frame may cost an allocation: msgpack reports a limit by throwing.

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
  Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Decodes one frame into `out`, reusing `out`'s strings and vector. On failure `out` holds a partial
  // value and must not be used. Never throws; any input is safe.
  DecodeResult decode(std::string_view frame, Heartbeat& out);

 private:
  // One zone chunk holds the objects of the largest frame, so the zone never grows a chunk; the chunk
  // is reserved address space, touched only as far as frames reach.
  msgpack::zone zone_;
  // msgpack's object builder and parser, kept across frames: msgpack::unpack builds both (each with a
  // heap-backed stack) per call. parser_ holds a reference to builder_.
  msgpack::v2::detail::create_object_visitor builder_;
  msgpack::v2::detail::parse_helper<msgpack::v2::detail::create_object_visitor> parser_;
  // Check entries dropped when a frame has fewer checks than the last, kept with their string capacity
  // for the next frame that has more.
  std::vector<CheckReport> spare_checks_;
};

}  // namespace hale::heartbeat
