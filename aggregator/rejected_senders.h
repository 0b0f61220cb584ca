#pragma once

// The senders whose heartbeats were refused for who they say they are: a node no region lists (a mistyped
// node name), a listed node naming another region, a CURVE key speaking for another node. Kept so an
// operator can see them by name (`halectl nodes --unknown`) instead of only a counter moving. Bounded: at
// most kMaxSenders, the one heard longest ago replaced. Not thread-safe (the engine's lock).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace hale::aggregator {

class RejectedSenders {
 public:
  static constexpr size_t kMaxSenders = 64;

  void note(std::string_view node, std::string_view region, std::string_view reason, int64_t now_ms);
  nlohmann::json json(int64_t now_ms) const;  // newest first

 private:
  struct Sender {
    std::string node;
    std::string region;
    std::string reason;
    uint64_t count = 0;
    int64_t first_ms = 0;
    int64_t last_ms = 0;
  };
  std::vector<Sender> senders_;
};

}  // namespace hale::aggregator
