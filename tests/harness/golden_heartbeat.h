#pragma once

// One heartbeat frame written byte by byte from the schema (common/heartbeat.h) and the msgpack spec, not
// produced by hale's encoder: it pins the wire format. The codec's unit test decodes it and encodes the
// same heartbeat back to these bytes; a component test has a second msgpack implementation (Python's)
// read it and write one of its own for hale's decoder.

#include <string>
#include <string_view>

#include "heartbeat.h"

namespace hale::test {

// clang-format off
inline constexpr std::string_view kGoldenHeartbeatHex =
    "89"                                            // map, 9 entries
    "a176" "01"                                     // "v": 1
    "a46e6f6465" "a465752d31"                       // "node": "eu-1"
    "a6726567696f6e" "a26575"                       // "region": "eu"
    "a4626f6f74" "a26231"                           // "boot": "b1"
    "a3736571" "cd012c"                             // "seq": 300 (uint16)
    "a27473" "cf0000019adc5be000"                   // "ts": 1764633600000 (uint64)
    "a27374" "01"                                   // "st": 1 (degraded)
    "a566656e6365" "00"                             // "fence": 0
    "a6636865636b73" "92"                           // "checks": array, 2 entries
    "85" "a16e" "a27067" "a27374" "00"              //   {"n": "pg", "st": 0 (pass),
    "a463726974" "c3" "a36c6174" "cd05dc"           //    "crit": true, "lat": 1500,
    "a36d7367" "a26f6b"                             //    "msg": "ok"}
    "85" "a16e" "a3617070" "a27374" "01"            //   {"n": "app", "st": 1 (warn),
    "a463726974" "c2" "a36c6174" "00"               //    "crit": false, "lat": 0,
    "a36d7367" "a4736c6f77";                        //    "msg": "slow"}
// clang-format on

inline heartbeat::Heartbeat goldenHeartbeat() {
  heartbeat::Heartbeat hb;
  hb.node_id = "eu-1";
  hb.region = "eu";
  hb.boot_id = "b1";
  hb.seq = 300;
  hb.sent_unix_ms = 1764633600000;
  hb.status = heartbeat::NodeStatus::degraded;
  hb.fence = 0;
  hb.checks = {{"pg", heartbeat::CheckStatus::pass, true, 1500, "ok"},
               {"app", heartbeat::CheckStatus::warn, false, 0, "slow"}};
  return hb;
}

inline std::string fromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

}  // namespace hale::test
