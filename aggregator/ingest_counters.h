#pragma once

// Heartbeats accepted and refused, per reason: the decoder's reasons (common/heartbeat_codec.h) and the
// aggregator's own; and connections the transport refused or closed (CurveZMQ, aggregator/curve_gate.h).

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

#include "heartbeat_codec.h"

namespace hale::aggregator {

enum class IngestReject : uint8_t {
  unknown_node,
  wrong_region,
  duplicate,
  out_of_order,
  impersonation,      // the frame names a node other than the one its CURVE key speaks for
  clock_skew,         // unauthenticated (insecure) and sent further from our clock than max_clock_skew
  too_many_restarts,  // more new boot ids for the node in a minute than [ingest] max_restarts_per_minute
  sequence_jump,      // a sequence further ahead than the agent could have sent (sequence_guard.h)
};
inline constexpr size_t kIngestRejectCount = 8;
inline constexpr std::array<std::string_view, kIngestRejectCount> kIngestRejectNames{
    "unknown_node",  "wrong_region", "duplicate",         "out_of_order",
    "impersonation", "clock_skew",   "too_many_restarts", "sequence_jump"};

enum class TransportReject : uint8_t {
  unlisted_key,      // a CURVE client key not in [agent_keys]
  handshake_failed,  // wrong server key, plaintext against CURVE, or a ZMTP protocol error
};
inline constexpr size_t kTransportRejectCount = 2;
inline constexpr std::array<std::string_view, kTransportRejectCount> kTransportRejectNames{"unlisted_key",
                                                                                           "handshake_failed"};

struct IngestCounters {
  std::atomic<uint64_t> accepted{0};
  // Accepted although sent outside max_clock_skew: authenticated, so alive; its clock is wrong.
  std::atomic<uint64_t> skewed{0};
  std::array<std::atomic<uint64_t>, heartbeat::kDecodeErrorCount> decode_rejected{};
  std::array<std::atomic<uint64_t>, kIngestRejectCount> rejected{};
  std::array<std::atomic<uint64_t>, kTransportRejectCount> transport_rejected{};
  // Connections closed without a handshake failure event: an agent leaving, ZeroMQ dropping a peer whose
  // frame was over the receive limit (it closes the connection rather than deliver the frame), or a peer
  // speaking an old ZMTP version.
  std::atomic<uint64_t> disconnects{0};

  void count(heartbeat::DecodeError e) {
    decode_rejected[static_cast<size_t>(e)].fetch_add(1, std::memory_order_relaxed);
  }
  void count(IngestReject r) { rejected[static_cast<size_t>(r)].fetch_add(1, std::memory_order_relaxed); }
  void count(TransportReject r) { transport_rejected[static_cast<size_t>(r)].fetch_add(1, std::memory_order_relaxed); }
};

}  // namespace hale::aggregator
