#pragma once

// Process-wide counters of the agent, exported on /metrics and the status socket.

#include <atomic>
#include <cstdint>

namespace hale::agent {

struct AgentCounters {
  std::atomic<uint64_t> heartbeats_sent{0};
  std::atomic<uint64_t> heartbeats_dropped{0};  // could not be queued (no aggregator connected, queue full)
  std::atomic<uint64_t> http_requests{0};
  std::atomic<uint64_t> reloads{0};
  std::atomic<uint64_t> reload_failures{0};
};

}  // namespace hale::agent
