#include "heartbeat_codec.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <set>

#include "golden_heartbeat.h"
#include "text.h"

namespace hale::heartbeat {
namespace {

using Packer = msgpack::packer<msgpack::sbuffer>;

// A map entry for hand-built frames: the key and a function that packs the value.
struct Field {
  std::string key;
  std::function<void(Packer&)> value;
};

void packString(Packer& pk, std::string_view s) {
  pk.pack_str(static_cast<uint32_t>(s.size()));
  pk.pack_str_body(s.data(), static_cast<uint32_t>(s.size()));
}

std::string packMap(const std::vector<Field>& fields) {
  msgpack::sbuffer buf;
  Packer pk(buf);
  pk.pack_map(static_cast<uint32_t>(fields.size()));
  for (const Field& f : fields) {
    packString(pk, f.key);
    f.value(pk);
  }
  return {buf.data(), buf.size()};
}

Field str(std::string key, std::string value) {
  return {std::move(key), [v = std::move(value)](Packer& pk) { packString(pk, v); }};
}
Field uint(std::string key, uint64_t value) {
  return {std::move(key), [value](Packer& pk) { pk.pack_uint64(value); }};
}
Field raw(std::string key, std::function<void(Packer&)> fn) { return {std::move(key), std::move(fn)}; }

Field checksOf(std::vector<std::vector<Field>> checks) {
  return {"checks", [checks = std::move(checks)](Packer& pk) {
            pk.pack_array(static_cast<uint32_t>(checks.size()));
            for (const auto& c : checks) {
              pk.pack_map(static_cast<uint32_t>(c.size()));
              for (const Field& f : c) {
                packString(pk, f.key);
                f.value(pk);
              }
            }
          }};
}

std::vector<Field> validCheck() {
  return {str("n", "db"), uint("st", 0), raw("crit", [](Packer& pk) { pk.pack_true(); }), uint("lat", 1200),
          str("msg", "ok")};
}

std::vector<Field> validTop() {
  return {uint("v", 1),        str("node", "app-1"),    str("region", "eu-west"),
          str("boot", "b00t"), uint("seq", 7),          uint("ts", 1'700'000'000'123),
          uint("st", 0),       checksOf({validCheck()})};
}

std::vector<Field> without(std::vector<Field> fields, std::string_view key) {
  std::erase_if(fields, [&](const Field& f) { return f.key == key; });
  return fields;
}

std::vector<Field> replaced(std::vector<Field> fields, const Field& field) {
  for (Field& f : fields) {
    if (f.key == field.key) f = field;
  }
  return fields;
}

DecodeResult decodeFrame(const std::string& frame) {
  Decoder decoder;
  Heartbeat hb;
  return decoder.decode(frame, hb);
}

void expectRejected(const std::string& frame, DecodeError reason, std::string_view key = {}) {
  const DecodeResult r = decodeFrame(frame);
  EXPECT_EQ(decodeErrorName(r.error), decodeErrorName(reason));
  if (!key.empty()) {
    EXPECT_EQ(r.key, key);
  }
}

Heartbeat sample() {
  Heartbeat hb;
  hb.node_id = "app-eu-1.example.net";
  hb.region = "eu-west";
  hb.boot_id = "7f3c9a1e-0b7d-4c55-9c1e-6a4f2b8d9e01";
  hb.seq = 0xFFFF'FFFF'FFFFull + 5;
  hb.sent_unix_ms = -42;  // negative times are legal on the wire; sanity is the aggregator's business
  hb.status = NodeStatus::degraded;
  hb.checks = {{"postgres", CheckStatus::pass, true, 850, ""},
               {"dynamodb", CheckStatus::warn, false, 120'000, "slow: 120 ms"},
               {"http", CheckStatus::fail, true, UINT32_MAX, std::string(kMaxMessageBytes, 'x')},
               {"exec", CheckStatus::unknown, false, 0, "plugin exited 3"}};
  return hb;
}

TEST(HeartbeatCodec, RoundTripsEveryField) {
  const Heartbeat in = sample();
  std::string frame;
  encode(in, frame);
  Decoder decoder;
  Heartbeat out;
  const DecodeResult r = decoder.decode(frame, out);
  ASSERT_TRUE(r.ok()) << decodeErrorName(r.error) << " " << r.key;
  EXPECT_EQ(out, in);
  EXPECT_EQ(out.checks[2].latency_us, UINT32_MAX);
  EXPECT_EQ(out.seq, in.seq);
}

// The wire format pinned by bytes written from the spec (golden_heartbeat.h), not by this encoder: a
// change to either side of the codec that changes the format fails here.
TEST(HeartbeatCodec, TheGoldenFrameDecodesAndIsWhatTheEncoderWrites) {
  const std::string golden = test::fromHex(test::kGoldenHeartbeatHex);
  Decoder decoder;
  Heartbeat out;
  const DecodeResult r = decoder.decode(golden, out);
  ASSERT_TRUE(r.ok()) << decodeErrorName(r.error) << " " << r.key;
  EXPECT_EQ(out, test::goldenHeartbeat());
  std::string frame;
  encode(test::goldenHeartbeat(), frame);
  EXPECT_EQ(frame, golden);
}

TEST(HeartbeatCodec, RoundTripsEveryStatusValue) {
  Decoder decoder;
  std::string frame;
  for (uint8_t node = 0; node <= kMaxNodeStatus; ++node) {
    for (uint8_t check = 0; check <= kMaxCheckStatus; ++check) {
      Heartbeat in = sample();
      in.status = static_cast<NodeStatus>(node);
      in.checks[0].status = static_cast<CheckStatus>(check);
      encode(in, frame);
      Heartbeat out;
      ASSERT_TRUE(decoder.decode(frame, out).ok());
      EXPECT_EQ(out.status, in.status);
      EXPECT_EQ(out.checks[0].status, in.checks[0].status);
    }
  }
}

// "fence" is optional: frames from agents before it decode as 0; out of range is refused, not clamped.
TEST(HeartbeatCodec, FenceRoundTripsDefaultsToZeroAndIsBounded) {
  Decoder decoder;
  std::string frame;
  for (uint8_t fence = 0; fence <= kMaxFence; ++fence) {
    Heartbeat in = sample();
    in.fence = fence;
    encode(in, frame);
    Heartbeat out;
    ASSERT_TRUE(decoder.decode(frame, out).ok());
    EXPECT_EQ(out.fence, fence);
  }
  Heartbeat out;
  out.fence = 2;  // left from an earlier frame
  ASSERT_TRUE(decoder.decode(packMap(validTop()), out).ok());
  EXPECT_EQ(out.fence, 0);
  std::vector<Field> top = validTop();
  top.push_back(uint("fence", 3));
  const DecodeResult r = decoder.decode(packMap(top), out);
  EXPECT_EQ(r.error, DecodeError::invalid_value);
  EXPECT_EQ(r.key, "fence");
}

TEST(HeartbeatCodec, EmptyCheckListIsValid) {
  Heartbeat in = sample();
  in.checks.clear();
  std::string frame;
  encode(in, frame);
  Decoder decoder;
  Heartbeat out = sample();
  ASSERT_TRUE(decoder.decode(frame, out).ok());
  EXPECT_TRUE(out.checks.empty());
}

TEST(HeartbeatCodec, ReusedOutputIsFullyOverwritten) {
  // The decoder reuses the caller's storage; optional check fields left from an earlier frame must not
  // leak into the next one.
  Decoder decoder;
  Heartbeat out;
  std::string frame;
  encode(sample(), frame);
  ASSERT_TRUE(decoder.decode(frame, out).ok());
  const std::string minimal = packMap(replaced(validTop(), checksOf({{str("n", "db"), uint("st", 2)}})));
  ASSERT_TRUE(decoder.decode(minimal, out).ok());
  ASSERT_EQ(out.checks.size(), 1u);
  EXPECT_EQ(out.checks[0].name, "db");
  EXPECT_EQ(out.checks[0].status, CheckStatus::fail);
  EXPECT_FALSE(out.checks[0].critical);
  EXPECT_EQ(out.checks[0].latency_us, 0u);
  EXPECT_EQ(out.checks[0].message, "");
  EXPECT_EQ(out.node_id, "app-1");
}

TEST(HeartbeatCodec, SkipsUnknownKeysForForwardCompatibility) {
  std::vector<Field> top = validTop();
  top.push_back(str("zone", "b"));
  top.push_back(raw("future", [](Packer& pk) {
    pk.pack_map(1);
    packString(pk, "nested");
    pk.pack_array(2);
    pk.pack_nil();
    pk.pack_double(1.5);
  }));
  std::vector<Field> check = validCheck();
  check.push_back(uint("role", 1));
  top = replaced(top, checksOf({check}));
  Decoder decoder;
  Heartbeat out;
  const DecodeResult r = decoder.decode(packMap(top), out);
  ASSERT_TRUE(r.ok()) << decodeErrorName(r.error);
  EXPECT_EQ(out.node_id, "app-1");
  EXPECT_EQ(out.checks.at(0).latency_us, 1200u);
}

TEST(HeartbeatCodec, RejectsOversizedFrame) {
  expectRejected(std::string(kMaxFrameBytes + 1, '\x80'), DecodeError::frame_too_large);
}

TEST(HeartbeatCodec, RejectsTruncatedInputAtEveryLength) {
  std::string frame;
  encode(sample(), frame);
  for (size_t len = 0; len < frame.size(); ++len) {
    SCOPED_TRACE(len);
    expectRejected(frame.substr(0, len), DecodeError::truncated);
  }
}

TEST(HeartbeatCodec, RejectsBytesThatAreNotMsgpack) {
  expectRejected(std::string("\xc1", 1), DecodeError::malformed);  // 0xc1 is never used by msgpack
}

TEST(HeartbeatCodec, RejectsTrailingBytes) {
  std::string frame;
  encode(sample(), frame);
  expectRejected(frame + std::string(1, '\0'), DecodeError::trailing_bytes);
  expectRejected(frame + frame, DecodeError::trailing_bytes);
}

TEST(HeartbeatCodec, RejectsTopLevelThatIsNotAMap) {
  msgpack::sbuffer buf;
  Packer pk(buf);
  pk.pack_array(1);
  pk.pack_uint8(1);
  expectRejected({buf.data(), buf.size()}, DecodeError::not_a_map);
  expectRejected(std::string("\x01", 1), DecodeError::not_a_map);
}

TEST(HeartbeatCodec, RejectsEachMissingRequiredKey) {
  for (const char* key : {"v", "node", "region", "boot", "seq", "ts", "st", "checks"}) {
    SCOPED_TRACE(key);
    expectRejected(packMap(without(validTop(), key)), DecodeError::missing_key, key);
  }
  for (const char* key : {"n", "st"}) {
    SCOPED_TRACE(key);
    expectRejected(packMap(replaced(validTop(), checksOf({without(validCheck(), key)}))), DecodeError::missing_key,
                   key);
  }
}

TEST(HeartbeatCodec, RejectsDuplicateKeys) {
  std::vector<Field> top = validTop();
  top.push_back(str("node", "someone-else"));
  expectRejected(packMap(top), DecodeError::duplicate_key, "node");
  std::vector<Field> check = validCheck();
  check.push_back(uint("st", 2));
  expectRejected(packMap(replaced(validTop(), checksOf({check}))), DecodeError::duplicate_key, "st");
}

TEST(HeartbeatCodec, RejectsWrongTypes) {
  struct Case {
    Field field;
    const char* key;
  };
  const std::vector<Case> top_cases = {
      {uint("node", 5), "node"},
      {uint("region", 5), "region"},
      {uint("boot", 5), "boot"},
      {str("seq", "7"), "seq"},
      {raw("seq", [](Packer& pk) { pk.pack_int64(-1); }), "seq"},
      {str("ts", "now"), "ts"},
      // 1.5, not 1.0: msgpack-cxx packs an integral double as an integer.
      {raw("ts", [](Packer& pk) { pk.pack_double(1.5); }), "ts"},
      {str("st", "healthy"), "st"},
      {str("v", "1"), "v"},
      {uint("checks", 1), "checks"},
  };
  for (const Case& c : top_cases) {
    SCOPED_TRACE(c.key);
    expectRejected(packMap(replaced(validTop(), c.field)), DecodeError::wrong_type, c.key);
  }
  const std::vector<Case> check_cases = {
      {uint("n", 1), "n"},      {str("st", "pass"), "st"}, {uint("crit", 1), "crit"},
      {str("lat", "5"), "lat"}, {uint("msg", 1), "msg"},
  };
  for (const Case& c : check_cases) {
    SCOPED_TRACE(c.key);
    expectRejected(packMap(replaced(validTop(), checksOf({replaced(validCheck(), c.field)}))), DecodeError::wrong_type,
                   c.key);
  }
  // A check that is not a map, and a map key that is not a string.
  expectRejected(packMap(replaced(validTop(), raw("checks",
                                                  [](Packer& pk) {
                                                    pk.pack_array(1);
                                                    pk.pack_uint8(3);
                                                  }))),
                 DecodeError::wrong_type, "checks");
  msgpack::sbuffer buf;
  Packer pk(buf);
  pk.pack_map(2);
  packString(pk, "v");
  pk.pack_uint8(1);
  pk.pack_uint8(9);
  pk.pack_uint8(9);
  expectRejected({buf.data(), buf.size()}, DecodeError::wrong_type, "<map key>");
}

TEST(HeartbeatCodec, RejectsOtherMajorVersionsBeforeAnythingElse) {
  expectRejected(packMap(replaced(validTop(), uint("v", 2))), DecodeError::unsupported_version, "v");
  expectRejected(packMap(replaced(validTop(), uint("v", 0))), DecodeError::unsupported_version, "v");
  // A v2 frame may have a different shape; the version is what gets reported.
  expectRejected(packMap(without(replaced(validTop(), uint("v", 2)), "node")), DecodeError::unsupported_version, "v");
}

TEST(HeartbeatCodec, RejectsOutOfRangeValues) {
  expectRejected(packMap(replaced(validTop(), uint("st", kMaxNodeStatus + 1))), DecodeError::invalid_value, "st");
  expectRejected(packMap(replaced(validTop(), checksOf({replaced(validCheck(), uint("st", kMaxCheckStatus + 1))}))),
                 DecodeError::invalid_value, "st");
  expectRejected(packMap(replaced(validTop(), checksOf({replaced(validCheck(), uint("lat", 1ull << 32))}))),
                 DecodeError::invalid_value, "lat");
  expectRejected(packMap(replaced(validTop(), uint("ts", 1ull << 63))), DecodeError::invalid_value, "ts");
  for (const char* key : {"node", "region", "boot"}) {
    SCOPED_TRACE(key);
    expectRejected(packMap(replaced(validTop(), str(key, ""))), DecodeError::invalid_value, key);
  }
  expectRejected(packMap(replaced(validTop(), checksOf({replaced(validCheck(), str("n", ""))}))),
                 DecodeError::invalid_value, "n");
}

TEST(HeartbeatCodec, RejectsOversizedStrings) {
  // Over the field's own limit but under the parser's: reported with the key.
  expectRejected(packMap(replaced(validTop(), str("node", std::string(kMaxIdBytes + 1, 'n')))),
                 DecodeError::string_too_long, "node");
  expectRejected(
      packMap(replaced(validTop(), checksOf({replaced(validCheck(), str("n", std::string(kMaxIdBytes + 1, 'c')))}))),
      DecodeError::string_too_long, "n");
  // Over every limit: refused by the parser before any field is looked at.
  expectRejected(
      packMap(
          replaced(validTop(), checksOf({replaced(validCheck(), str("msg", std::string(kMaxMessageBytes + 1, 'm')))}))),
      DecodeError::string_too_long);
  std::vector<Field> top = validTop();
  top.push_back(str("unknown", std::string(4000, 'u')));  // even in a key that would be skipped
  expectRejected(packMap(top), DecodeError::string_too_long);
}

TEST(HeartbeatCodec, RejectsOversizedArraysMapsAndNesting) {
  expectRejected(packMap(replaced(validTop(), checksOf(std::vector<std::vector<Field>>(kMaxChecks + 1, validCheck())))),
                 DecodeError::array_too_long);
  EXPECT_TRUE(
      decodeFrame(packMap(replaced(validTop(), checksOf(std::vector<std::vector<Field>>(kMaxChecks, validCheck())))))
          .ok());

  std::vector<Field> wide = validTop();
  while (wide.size() <= kMaxMapEntries) wide.push_back(uint("x" + std::to_string(wide.size()), 1));
  expectRejected(packMap(wide), DecodeError::map_too_large);

  std::vector<Field> deep = validTop();
  deep.push_back(raw("deep", [](Packer& pk) {
    for (size_t i = 0; i < kMaxDepth; ++i) pk.pack_array(1);
    pk.pack_nil();
  }));
  expectRejected(packMap(deep), DecodeError::too_deep);
}

// Ids, names and messages are clean text: one odd byte must never reach a JSON answer or a terminal.
TEST(HeartbeatCodec, RejectsStringsThatAreNotCleanText) {
  for (const std::string& bad :
       {std::string("a\x01z"), std::string("\xff"), std::string("del\x7f"), std::string("c1-\xc2\x85"),
        std::string("overlong-\xc0\xaf"), std::string("surrogate-\xed\xa0\x80"), std::string("cut-\xe2\x82"),
        std::string("esc-\x1b[31m"), std::string("nul-") + '\0'}) {
    SCOPED_TRACE(bad);
    expectRejected(packMap(replaced(validTop(), str("node", bad))), DecodeError::bad_string, "node");
    expectRejected(packMap(replaced(validTop(), str("region", bad))), DecodeError::bad_string, "region");
    expectRejected(packMap(replaced(validTop(), str("boot", bad))), DecodeError::bad_string, "boot");
    expectRejected(packMap(replaced(validTop(), checksOf({replaced(validCheck(), str("n", bad))}))),
                   DecodeError::bad_string, "n");
    expectRejected(packMap(replaced(validTop(), checksOf({replaced(validCheck(), str("msg", bad))}))),
                   DecodeError::bad_string, "msg");
  }
  expectRejected(packMap(replaced(validTop(), checksOf({replaced(validCheck(), str("msg", "two\nlines"))}))),
                 DecodeError::bad_string, "msg");
  EXPECT_TRUE(
      decodeFrame(packMap(replaced(validTop(), str("node", "z\xc3\xbcrich-\xe2\x82\xac-\xf0\x9f\x98\x80")))).ok());
}

TEST(HeartbeatCodec, EveryErrorHasADistinctName) {
  std::set<std::string_view> names;
  for (size_t i = 0; i < kDecodeErrorCount; ++i) names.insert(decodeErrorName(static_cast<DecodeError>(i)));
  EXPECT_EQ(names.size(), kDecodeErrorCount);
  EXPECT_EQ(names.count("invalid"), 0u);
}

// Property: any heartbeat within the schema's limits survives a round trip unchanged.
TEST(HeartbeatCodecProperty, RandomValidHeartbeatsRoundTrip) {
  std::mt19937_64 rng(20261123);
  // Any clean text (common/text.h): printable ASCII and 2-, 3- and 4-byte characters, up to the limit.
  auto randomString = [&](size_t min_len, size_t max_len) {
    static const std::vector<std::string> kPieces = {
        " ", "a", "Z", "9", "-", "~", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
    std::uniform_int_distribution<size_t> len(min_len, max_len);
    const size_t want = len(rng);
    std::string s;
    while (s.size() < want) {
      const std::string& piece = kPieces[rng() % kPieces.size()];
      if (s.size() + piece.size() > max_len) break;
      s += piece;
    }
    if (s.size() < min_len) s.append(min_len - s.size(), 'x');
    return s;
  };
  Decoder decoder;
  Heartbeat out;
  std::string frame;
  for (int i = 0; i < 2000; ++i) {
    Heartbeat in;
    in.node_id = randomString(1, kMaxIdBytes);
    in.region = randomString(1, kMaxIdBytes);
    in.boot_id = randomString(1, kMaxIdBytes);
    in.seq = rng();
    in.sent_unix_ms = static_cast<int64_t>(rng());
    in.status = static_cast<NodeStatus>(rng() % (kMaxNodeStatus + 1));
    in.checks.resize(rng() % (kMaxChecks + 1));
    for (CheckReport& c : in.checks) {
      c.name = randomString(1, kMaxIdBytes);
      c.status = static_cast<CheckStatus>(rng() % (kMaxCheckStatus + 1));
      c.critical = (rng() & 1) != 0;
      c.latency_us = static_cast<uint32_t>(rng());
      c.message = randomString(0, rng() % 8 == 0 ? kMaxMessageBytes : 24);
    }
    encode(in, frame);
    if (frame.size() > kMaxFrameBytes) continue;  // the encoder's caller keeps frames in bounds
    const DecodeResult r = decoder.decode(frame, out);
    ASSERT_TRUE(r.ok()) << "iteration " << i << ": " << decodeErrorName(r.error) << " " << r.key;
    ASSERT_EQ(out, in) << "iteration " << i;
  }
}

// Property: corrupting bytes of a valid frame never crashes and never yields a value outside the schema.
TEST(HeartbeatCodecProperty, CorruptedFramesAreRefusedOrStayInSchema) {
  std::mt19937_64 rng(7);
  std::string valid;
  encode(sample(), valid);
  Decoder decoder;
  Heartbeat out;
  int refused = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string frame = valid;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) frame[rng() % frame.size()] = static_cast<char>(rng());
    const DecodeResult r = decoder.decode(frame, out);
    if (!r.ok()) {
      ++refused;
      EXPECT_NE(decodeErrorName(r.error), "invalid");
      continue;
    }
    EXPECT_LE(static_cast<int>(out.status), kMaxNodeStatus);
    EXPECT_FALSE(out.node_id.empty());
    EXPECT_LE(out.node_id.size(), kMaxIdBytes);
    EXPECT_TRUE(isCleanText(out.node_id) && isCleanText(out.region) && isCleanText(out.boot_id));
    EXPECT_LE(out.checks.size(), kMaxChecks);
    for (const CheckReport& c : out.checks) {
      EXPECT_LE(static_cast<int>(c.status), kMaxCheckStatus);
      EXPECT_TRUE(isCleanText(c.name) && isCleanText(c.message));
    }
  }
  EXPECT_GT(refused, 1000);  // the corruption is real, not absorbed
}

}  // namespace
}  // namespace hale::heartbeat
