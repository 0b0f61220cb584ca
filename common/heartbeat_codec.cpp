#include "heartbeat_codec.h"

#include <array>
#include <bitset>

#include "text.h"

namespace hale::heartbeat {
namespace {

constexpr std::array<std::string_view, kDecodeErrorCount> kDecodeErrorNames{
    "none",           "frame_too_large", "truncated",  "malformed",           "trailing_bytes", "not_a_map",
    "missing_key",    "duplicate_key",   "wrong_type", "unsupported_version", "invalid_value",  "string_too_long",
    "array_too_long", "map_too_large",   "too_deep",   "bad_string",
};

// Lets msgpack::packer append to a std::string.
struct StringSink {
  std::string& out;
  void write(const char* data, size_t size) { out.append(data, size); }
};

void packStr(msgpack::packer<StringSink>& pk, std::string_view s) {
  pk.pack_str(static_cast<uint32_t>(s.size()));
  pk.pack_str_body(s.data(), static_cast<uint32_t>(s.size()));
}

// Strings point into the frame instead of being copied into the zone: the frame outlives decode().
bool referenceEverything(msgpack::type::object_type, size_t, void*) { return true; }

DecodeResult fail(DecodeError e, std::string_view key = {}) { return DecodeResult{e, key}; }

std::string_view keyOf(const msgpack::object& o) { return {o.via.str.ptr, o.via.str.size}; }

DecodeResult readString(const msgpack::object& o, std::string_view key, size_t max, bool allow_empty,
                        std::string& out) {
  if (o.type != msgpack::type::STR) return fail(DecodeError::wrong_type, key);
  if (o.via.str.size > max) return fail(DecodeError::string_too_long, key);
  if (!allow_empty && o.via.str.size == 0) return fail(DecodeError::invalid_value, key);
  const std::string_view text(o.via.str.ptr, o.via.str.size);
  if (!isCleanText(text)) return fail(DecodeError::bad_string, key);
  out.assign(text);
  return {};
}

DecodeResult readUint(const msgpack::object& o, std::string_view key, uint64_t max, uint64_t& out) {
  if (o.type != msgpack::type::POSITIVE_INTEGER) return fail(DecodeError::wrong_type, key);
  if (o.via.u64 > max) return fail(DecodeError::invalid_value, key);
  out = o.via.u64;
  return {};
}

DecodeResult readInt(const msgpack::object& o, std::string_view key, int64_t& out) {
  if (o.type == msgpack::type::NEGATIVE_INTEGER) {
    out = o.via.i64;
    return {};
  }
  if (o.type != msgpack::type::POSITIVE_INTEGER) return fail(DecodeError::wrong_type, key);
  if (o.via.u64 > static_cast<uint64_t>(INT64_MAX)) return fail(DecodeError::invalid_value, key);
  out = static_cast<int64_t>(o.via.u64);
  return {};
}

// Walks a map once, calling field(index, value) for each known key. Rejects non-string keys and
// duplicates of known keys; skips unknown keys. `names` lists the known keys of this map.
template <size_t N, typename Field>
DecodeResult walkMap(const msgpack::object_map& map, const std::array<std::string_view, N>& names, std::bitset<N>& seen,
                     Field&& field) {
  for (uint32_t i = 0; i < map.size; ++i) {
    const msgpack::object_kv& kv = map.ptr[i];
    if (kv.key.type != msgpack::type::STR) return fail(DecodeError::wrong_type, "<map key>");
    const std::string_view key = keyOf(kv.key);
    for (size_t k = 0; k < N; ++k) {
      if (names[k] != key) continue;
      if (seen.test(k)) return fail(DecodeError::duplicate_key, names[k]);
      seen.set(k);
      if (DecodeResult r = field(k, kv.val); !r.ok()) return r;
      break;
    }
  }
  return {};
}

enum TopKey : size_t { kV, kNode, kRegion, kBoot, kSeq, kTs, kSt, kChecks, kFence, kTopKeyCount };
constexpr std::array<std::string_view, kTopKeyCount> kTopKeys{"v",  "node", "region", "boot", "seq",
                                                              "ts", "st",   "checks", "fence"};
constexpr size_t kRequiredTopKeys = kFence;  // the keys before kFence are required
enum CheckKey : size_t { kName, kCheckSt, kCrit, kLat, kMsg, kCheckKeyCount };
constexpr std::array<std::string_view, kCheckKeyCount> kCheckKeys{"n", "st", "crit", "lat", "msg"};

DecodeResult decodeCheck(const msgpack::object& o, CheckReport& out) {
  if (o.type != msgpack::type::MAP) return fail(DecodeError::wrong_type, "checks");
  std::bitset<kCheckKeyCount> seen;
  out.critical = false;
  out.latency_us = 0;
  out.message.clear();
  DecodeResult r = walkMap(o.via.map, kCheckKeys, seen, [&](size_t k, const msgpack::object& v) -> DecodeResult {
    uint64_t u = 0;
    switch (k) {
      case kName: return readString(v, "n", kMaxIdBytes, false, out.name);
      case kCheckSt:
        if (DecodeResult e = readUint(v, "st", kMaxCheckStatus, u); !e.ok()) return e;
        out.status = static_cast<CheckStatus>(u);
        return {};
      case kCrit:
        if (v.type != msgpack::type::BOOLEAN) return fail(DecodeError::wrong_type, "crit");
        out.critical = v.via.boolean;
        return {};
      case kLat:
        if (DecodeResult e = readUint(v, "lat", UINT32_MAX, u); !e.ok()) return e;
        out.latency_us = static_cast<uint32_t>(u);
        return {};
      case kMsg: return readString(v, "msg", kMaxMessageBytes, true, out.message);
      default: return {};
    }
  });
  if (!r.ok()) return r;
  if (!seen.test(kName)) return fail(DecodeError::missing_key, "n");
  if (!seen.test(kCheckSt)) return fail(DecodeError::missing_key, "st");
  return {};
}

// Sizes `checks` to n without destroying entries, so their strings keep their capacity.
void resizeChecks(std::vector<CheckReport>& checks, size_t n, std::vector<CheckReport>& spare) {
  while (checks.size() > n) {
    spare.push_back(std::move(checks.back()));
    checks.pop_back();
  }
  while (checks.size() < n) {
    if (spare.empty()) {
      checks.emplace_back();
    } else {
      checks.push_back(std::move(spare.back()));
      spare.pop_back();
    }
  }
}

DecodeResult decodeTop(const msgpack::object& root, Heartbeat& out, std::vector<CheckReport>& spare_checks) {
  if (root.type != msgpack::type::MAP) return fail(DecodeError::not_a_map);
  const msgpack::object_map& map = root.via.map;

  // The version decides how everything else is read, so it is checked before any other key.
  const msgpack::object* version = nullptr;
  for (uint32_t i = 0; i < map.size; ++i) {
    if (map.ptr[i].key.type == msgpack::type::STR && keyOf(map.ptr[i].key) == "v") {
      version = &map.ptr[i].val;
      break;
    }
  }
  if (version == nullptr) return fail(DecodeError::missing_key, "v");
  if (version->type != msgpack::type::POSITIVE_INTEGER) return fail(DecodeError::wrong_type, "v");
  if (version->via.u64 != kSchemaMajor) return fail(DecodeError::unsupported_version, "v");

  std::bitset<kTopKeyCount> seen;
  out.fence = 0;
  DecodeResult r = walkMap(map, kTopKeys, seen, [&](size_t k, const msgpack::object& v) -> DecodeResult {
    uint64_t u = 0;
    switch (k) {
      case kV: out.version = kSchemaMajor; return {};
      case kNode: return readString(v, "node", kMaxIdBytes, false, out.node_id);
      case kRegion: return readString(v, "region", kMaxIdBytes, false, out.region);
      case kBoot: return readString(v, "boot", kMaxIdBytes, false, out.boot_id);
      case kSeq: return readUint(v, "seq", UINT64_MAX, out.seq);
      case kTs: return readInt(v, "ts", out.sent_unix_ms);
      case kSt:
        if (DecodeResult e = readUint(v, "st", kMaxNodeStatus, u); !e.ok()) return e;
        out.status = static_cast<NodeStatus>(u);
        return {};
      case kFence:
        if (DecodeResult e = readUint(v, "fence", kMaxFence, u); !e.ok()) return e;
        out.fence = static_cast<uint8_t>(u);
        return {};
      case kChecks: {
        if (v.type != msgpack::type::ARRAY) return fail(DecodeError::wrong_type, "checks");
        resizeChecks(out.checks, v.via.array.size, spare_checks);
        for (uint32_t i = 0; i < v.via.array.size; ++i) {
          if (DecodeResult e = decodeCheck(v.via.array.ptr[i], out.checks[i]); !e.ok()) return e;
        }
        return {};
      }
      default: return {};
    }
  });
  if (!r.ok()) return r;
  for (size_t k = 0; k < kRequiredTopKeys; ++k) {
    if (!seen.test(k)) return fail(DecodeError::missing_key, kTopKeys[k]);
  }
  return {};
}

}  // namespace

std::string_view decodeErrorName(DecodeError e) {
  const auto i = static_cast<size_t>(e);
  return i < kDecodeErrorNames.size() ? kDecodeErrorNames[i] : "invalid";
}

void encode(const Heartbeat& hb, std::string& out) {
  out.clear();
  StringSink sink{out};
  msgpack::packer<StringSink> pk(sink);
  pk.pack_map(9);
  packStr(pk, "v");
  pk.pack_uint32(hb.version);
  packStr(pk, "node");
  packStr(pk, hb.node_id);
  packStr(pk, "region");
  packStr(pk, hb.region);
  packStr(pk, "boot");
  packStr(pk, hb.boot_id);
  packStr(pk, "seq");
  pk.pack_uint64(hb.seq);
  packStr(pk, "ts");
  pk.pack_int64(hb.sent_unix_ms);
  packStr(pk, "st");
  pk.pack_uint8(static_cast<uint8_t>(hb.status));
  packStr(pk, "fence");
  pk.pack_uint8(hb.fence);
  packStr(pk, "checks");
  pk.pack_array(static_cast<uint32_t>(hb.checks.size()));
  for (const CheckReport& c : hb.checks) {
    pk.pack_map(5);
    packStr(pk, "n");
    packStr(pk, c.name);
    packStr(pk, "st");
    pk.pack_uint8(static_cast<uint8_t>(c.status));
    packStr(pk, "crit");
    if (c.critical) {
      pk.pack_true();
    } else {
      pk.pack_false();
    }
    packStr(pk, "lat");
    pk.pack_uint32(c.latency_us);
    packStr(pk, "msg");
    packStr(pk, c.message);
  }
}

// Every decoded object but the root sits in its container's element array in the zone, and every object
// takes at least one byte of the frame; strings, bin and ext point into the frame. So a frame's objects
// need at most this much zone.
constexpr size_t kZoneChunkBytes = sizeof(msgpack::object) * kMaxFrameBytes;

Decoder::Decoder()
    : zone_(kZoneChunkBytes),
      // The msgpack string limit is the largest any field allows; per-field limits are checked after.
      builder_(referenceEverything, nullptr,
               msgpack::unpack_limit(kMaxChecks, kMaxMapEntries, kMaxMessageBytes, kMaxMessageBytes, kMaxMessageBytes,
                                     kMaxDepth)),
      parser_(builder_) {
  spare_checks_.reserve(kMaxChecks);
}

DecodeResult Decoder::decode(std::string_view frame, Heartbeat& out) {
  if (frame.size() > kMaxFrameBytes) return fail(DecodeError::frame_too_large);
  if (frame.empty()) return fail(DecodeError::truncated);
  zone_.clear();
  parser_.init();
  builder_.set_zone(zone_);
  builder_.set_referenced(false);
  size_t offset = 0;
  try {
    switch (parser_.execute(frame.data(), frame.size(), offset)) {
      case msgpack::PARSE_SUCCESS: break;
      case msgpack::PARSE_EXTRA_BYTES: return fail(DecodeError::trailing_bytes);
      case msgpack::PARSE_CONTINUE: return fail(DecodeError::truncated);
      default: return fail(DecodeError::malformed);
    }
  } catch (const msgpack::array_size_overflow&) {
    return fail(DecodeError::array_too_long);
  } catch (const msgpack::map_size_overflow&) {
    return fail(DecodeError::map_too_large);
  } catch (const msgpack::depth_size_overflow&) {
    return fail(DecodeError::too_deep);
  } catch (const msgpack::size_overflow&) {  // str, bin and ext
    return fail(DecodeError::string_too_long);
  } catch (const std::exception&) {  // parse_error and anything else the parser throws
    return fail(DecodeError::malformed);
  }
  if (offset != frame.size()) return fail(DecodeError::trailing_bytes);
  return decodeTop(builder_.data(), out, spare_checks_);
}

}  // namespace hale::heartbeat
