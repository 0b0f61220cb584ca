#include "fake_fleet.h"

#include "clock.h"
#include "heartbeat_codec.h"

namespace hale::test {

FakeFleet::FakeFleet(const std::vector<std::string>& endpoints) {
  for (const std::string& e : endpoints) {
    links_.emplace_back(context_, zmq::socket_type::pub);
    links_.back().set(zmq::sockopt::linger, 0);
    links_.back().connect(e);
  }
  thread_ = std::thread([this] { loop(); });
}

FakeFleet::~FakeFleet() {
  stop_ = true;
  thread_.join();
}

void FakeFleet::setAlive(std::set<std::pair<std::string, std::string>> nodes) {
  std::lock_guard lock(mu_);
  alive_ = std::move(nodes);
}

void FakeFleet::killRegion(const std::string& region) {
  std::lock_guard lock(mu_);
  std::erase_if(alive_, [&](const auto& n) { return n.second == region; });
}

void FakeFleet::killNode(const std::string& node) {
  std::lock_guard lock(mu_);
  std::erase_if(alive_, [&](const auto& n) { return n.first == node; });
}

void FakeFleet::cut(const std::string& region, size_t link) {
  std::lock_guard lock(mu_);
  cut_.insert({region, link});
}

void FakeFleet::heal(const std::string& region, size_t link) {
  std::lock_guard lock(mu_);
  cut_.erase({region, link});
}

void FakeFleet::setFence(const std::string& node, uint8_t fence) {
  std::lock_guard lock(mu_);
  fences_[node] = fence;
}

void FakeFleet::loop() {
  uint64_t seq = 0;
  std::string frame;
  while (!stop_) {
    ++seq;
    std::set<std::pair<std::string, std::string>> alive;
    std::set<std::pair<std::string, size_t>> cut;
    std::map<std::string, uint8_t> fences;
    {
      std::lock_guard lock(mu_);
      alive = alive_;
      cut = cut_;
      fences = fences_;
    }
    for (const auto& [node, region] : alive) {
      heartbeat::Heartbeat hb;
      hb.node_id = node;
      hb.region = region;
      hb.boot_id = "fleet";
      hb.seq = seq;
      hb.sent_unix_ms = toUnixMillis(SystemClock::instance().wallNow());
      hb.status = heartbeat::NodeStatus::healthy;
      if (const auto f = fences.find(node); f != fences.end()) hb.fence = f->second;
      heartbeat::encode(hb, frame);
      for (size_t i = 0; i < links_.size(); ++i) {
        if (cut.count({region, i}) == 0) links_[i].send(zmq::buffer(frame), zmq::send_flags::dontwait);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{200});
  }
}

}  // namespace hale::test
