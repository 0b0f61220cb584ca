#pragma once

// Process-wide counters of the agent, exported on /metrics and the status socket.

#include <atomic>
#include <cstdint>

namespace hale::agent {

struct AgentCounters {
  std::atomic<uint64_t> heartbeats_sent{0};        // handed to ZeroMQ while at least one aggregator was connected
  std::atomic<uint64_t> heartbeats_dropped{0};     // no aggregator connected, or ZeroMQ could not queue it
  std::atomic<uint64_t> aggregators_connected{0};  // gauge: links whose handshake succeeded (aggregator_link.h)
  std::atomic<uint64_t> http_requests{0};
  std::atomic<uint64_t> reloads{0};
  std::atomic<uint64_t> reload_failures{0};
  // The primary lease (primary_lease.h), all databases together.
  std::atomic<uint64_t> fences{0};
  std::atomic<uint64_t> fence_failures{0};
  std::atomic<uint64_t> unfences{0};
  std::atomic<uint64_t> split_brains{0};
  std::atomic<uint64_t> lease_etcd_errors{0};  // rounds that could not reach etcd
};

}  // namespace hale::agent
