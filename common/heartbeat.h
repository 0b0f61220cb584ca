#pragma once

// Heartbeat schema, shared by hale-agent (encoder) and hale-aggregator (decoder). DESIGN.md §5.
//
// Wire form: one ZeroMQ message holding one msgpack map with short string keys:
//   "v"      uint    schema major version (kSchemaMajor); a different major is refused
//   "node"   str     node id                         (1..kMaxIdBytes)
//   "region" str     region name                     (1..kMaxIdBytes)
//   "boot"   str     agent boot id, new per process start (1..kMaxIdBytes)
//   "seq"    uint    sequence number, monotonic within one boot id
//   "ts"     int     send time, Unix milliseconds
//   "st"     uint    NodeStatus
//   "checks" array   of maps: "n" str name, "st" uint CheckStatus, "crit" bool (default false),
//                    "lat" uint latency in microseconds (default 0), "msg" str (default "")
//   "fence"  uint    optional (default 0): 0 not fenced, 1 a database of this node is fenced (primary
//                    lease lost), 2 fenced because it was writable while etcd named another primary
// Every str value is clean text (common/text.h: valid UTF-8, no control characters); anything else is refused
// (bad_string). Keys not listed are skipped, so a newer minor revision can add fields without breaking older
// aggregators. Changing a listed key's meaning or type requires a new major version.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hale::heartbeat {

inline constexpr uint32_t kSchemaMajor = 1;

// Limits enforced by the decoder; the encoder's caller must stay within them too.
inline constexpr size_t kMaxFrameBytes = size_t{16} * 1024;
inline constexpr size_t kMaxIdBytes = 64;        // node, region, boot id, check name
inline constexpr size_t kMaxMessageBytes = 256;  // check message
inline constexpr size_t kMaxChecks = 64;
inline constexpr size_t kMaxMapEntries = 32;  // per map, known and unknown keys together
inline constexpr size_t kMaxDepth = 6;        // nesting, including unknown values

// What the node says about itself as a whole.
enum class NodeStatus : uint8_t { healthy = 0, degraded = 1, unhealthy = 2 };
// A check's outcome after rise/fall damping; values follow Nagios plugin exit codes.
enum class CheckStatus : uint8_t { pass = 0, warn = 1, fail = 2, unknown = 3 };

inline constexpr uint8_t kMaxNodeStatus = 2;
inline constexpr uint8_t kMaxCheckStatus = 3;
inline constexpr uint8_t kMaxFence = 2;

std::string_view toString(NodeStatus s);
std::string_view toString(CheckStatus s);

struct CheckReport {
  std::string name;
  CheckStatus status = CheckStatus::unknown;
  bool critical = false;
  uint32_t latency_us = 0;
  std::string message;

  bool operator==(const CheckReport&) const = default;
};

struct Heartbeat {
  uint32_t version = kSchemaMajor;
  std::string node_id;
  std::string region;
  std::string boot_id;
  uint64_t seq = 0;
  int64_t sent_unix_ms = 0;
  NodeStatus status = NodeStatus::unhealthy;
  std::vector<CheckReport> checks;
  uint8_t fence = 0;

  bool operator==(const Heartbeat&) const = default;
};

}  // namespace hale::heartbeat
