#pragma once

// Simulated nodes for aggregator tests: real heartbeat frames, every 200 ms, for the nodes set alive, to
// each aggregator endpoint over a ZeroMQ link of its own, so one region's path to one aggregator can be
// cut while every other path works (the view one observer has in a partition).

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <zmq.hpp>

namespace hale::test {

class FakeFleet {
 public:
  explicit FakeFleet(const std::vector<std::string>& endpoints);
  ~FakeFleet();
  FakeFleet(const FakeFleet&) = delete;
  FakeFleet& operator=(const FakeFleet&) = delete;

  // The (node, region) pairs that send heartbeats from now on.
  void setAlive(std::set<std::pair<std::string, std::string>> nodes);
  // The nodes of `region` (or one node) go silent.
  void killRegion(const std::string& region);
  void killNode(const std::string& node);
  // No heartbeat of `region` reaches the aggregator at `link` (an index into the endpoints), until healed.
  void cut(const std::string& region, size_t link);
  void heal(const std::string& region, size_t link);
  // What `node` reports in its heartbeats' "fence" field from now on (0 by default; 2: a split brain).
  void setFence(const std::string& node, uint8_t fence);

 private:
  void loop();

  zmq::context_t context_;
  std::vector<zmq::socket_t> links_;
  std::mutex mu_;
  std::set<std::pair<std::string, std::string>> alive_;
  std::set<std::pair<std::string, size_t>> cut_;
  std::map<std::string, uint8_t> fences_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace hale::test
