#pragma once

// Heartbeats accepted and refused, per reason: the decoder's reasons (common/heartbeat_codec.h) and the
// aggregator's own (unknown_node, wrong_region, duplicate, out_of_order).

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

#include "heartbeat_codec.h"

namespace hale::aggregator {

enum class IngestReject : uint8_t { unknown_node, wrong_region, duplicate, out_of_order };
inline constexpr size_t kIngestRejectCount = 4;
inline constexpr std::array<std::string_view, kIngestRejectCount> kIngestRejectNames{"unknown_node", "wrong_region",
                                                                                     "duplicate", "out_of_order"};

struct IngestCounters {
  std::atomic<uint64_t> accepted{0};
  std::array<std::atomic<uint64_t>, heartbeat::kDecodeErrorCount> decode_rejected{};
  std::array<std::atomic<uint64_t>, kIngestRejectCount> rejected{};

  void count(heartbeat::DecodeError e) {
    decode_rejected[static_cast<size_t>(e)].fetch_add(1, std::memory_order_relaxed);
  }
  void count(IngestReject r) { rejected[static_cast<size_t>(r)].fetch_add(1, std::memory_order_relaxed); }
};

}  // namespace hale::aggregator
