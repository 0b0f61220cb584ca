// The heartbeat wire format against a second msgpack implementation, Python's (python3-msgpack, installed
// by packaging/install-deps.sh): it reads the golden frame as the schema says, and writes a frame of its
// own (keys in another order, its own integer widths) that hale's decoder reads back as the same heartbeat.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "golden_heartbeat.h"
#include "heartbeat_codec.h"
#include "process.h"

namespace hale::heartbeat {
namespace {

using std::chrono::milliseconds;

std::string hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    out.push_back(kDigits[(static_cast<unsigned char>(c) >> 4) & 0xf]);
    out.push_back(kDigits[static_cast<unsigned char>(c) & 0xf]);
  }
  return out;
}

test::CommandResult python(const std::string& script, const std::string& arg) {
  // Debian's interpreter, where python3-msgpack is installed (a python3 earlier on PATH may be another).
  return test::runCommand({.argv = {"/usr/bin/python3", "-c", script, arg}}, milliseconds{20'000});
}

TEST(HeartbeatWire, PythonsMsgpackReadsTheGoldenFrameAsTheSchemaSays) {
  const auto r = python(
      "import sys, json, msgpack\n"
      "print(json.dumps(msgpack.unpackb(bytes.fromhex(sys.argv[1]), raw=False, strict_map_key=True)))\n",
      std::string(test::kGoldenHeartbeatHex));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j.size(), 9u) << j.dump();
  EXPECT_EQ(j["v"], 1);
  EXPECT_EQ(j["node"], "eu-1");
  EXPECT_EQ(j["region"], "eu");
  EXPECT_EQ(j["boot"], "b1");
  EXPECT_EQ(j["seq"], 300);
  EXPECT_EQ(j["ts"], int64_t{1764633600000});
  EXPECT_EQ(j["st"], 1);
  EXPECT_EQ(j["fence"], 0);
  ASSERT_EQ(j["checks"].size(), 2u);
  EXPECT_EQ(j["checks"][0], nlohmann::json({{"n", "pg"}, {"st", 0}, {"crit", true}, {"lat", 1500}, {"msg", "ok"}}));
  EXPECT_EQ(j["checks"][1], nlohmann::json({{"n", "app"}, {"st", 1}, {"crit", false}, {"lat", 0}, {"msg", "slow"}}));
  // And hale's encoder writes what Python reads the same way.
  std::string ours;
  encode(test::goldenHeartbeat(), ours);
  EXPECT_EQ(hex(ours), test::kGoldenHeartbeatHex);
}

TEST(HeartbeatWire, AFramePythonWritesIsReadBackAsTheSameHeartbeat) {
  const auto r = python(
      "import sys, msgpack\n"
      "checks = [{'msg': 'ok', 'lat': 1500, 'crit': True, 'st': 0, 'n': 'pg'},\n"
      "          {'n': 'app', 'crit': False, 'st': 1, 'msg': 'slow', 'lat': 0}]\n"
      "hb = {'checks': checks, 'ts': 1764633600000, 'fence': 0, 'st': 1, 'seq': 300, 'boot': 'b1',\n"
      "      'region': 'eu', 'node': 'eu-1', 'v': 1}\n"
      "print(msgpack.packb(hb, use_bin_type=True).hex())\n",
      "");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string text = r.output;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  ASSERT_NE(text, test::kGoldenHeartbeatHex) << "another key order: a frame hale did not write";
  Decoder decoder;
  Heartbeat out;
  const DecodeResult d = decoder.decode(test::fromHex(text), out);
  ASSERT_TRUE(d.ok()) << decodeErrorName(d.error) << " " << d.key;
  EXPECT_EQ(out, test::goldenHeartbeat());
}

}  // namespace
}  // namespace hale::heartbeat
