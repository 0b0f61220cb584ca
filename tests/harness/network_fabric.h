#pragma once

// Several network namespaces of the test's own on one Linux bridge, so each region and each observer
// runs on a network of its own, and any path between two of them can be cut while every other path works:
//   bridge (host side 10.215.S.1/24)  <->  member "eu" 10.215.S.2, member "obs-us" 10.215.S.3, ...
// Switched, not routed: nothing of the host's forwarding is touched. cut(a, b) puts a blackhole route for
// each one's address in the other's namespace (TCP to it fails, both ways); isolate(a) takes a's link
// down. Needs root and iproute2; removed, bridge included, on destruction.

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace hale::test {

class NetworkFabric {
 public:
  NetworkFabric();  // throws std::runtime_error when it cannot be created
  ~NetworkFabric();
  NetworkFabric(const NetworkFabric&) = delete;
  NetworkFabric& operator=(const NetworkFabric&) = delete;

  // A new namespace named `member` (within this fabric) on the bridge; returns its address.
  const std::string& add(const std::string& member);
  const std::string& address(const std::string& member) const;
  // The host's own address on the bridge (servers on the host are reached there from any member).
  const std::string& hostAddress() const { return host_ip_; }
  // `argv` run inside `member`'s namespace.
  std::vector<std::string> wrap(const std::string& member, std::vector<std::string> argv) const;

  // Every packet between `a` and `b` is dropped (either may also be the host: "host"), until heal().
  void cut(const std::string& a, const std::string& b);
  void heal(const std::string& a, const std::string& b);
  // `member` loses its link (cut from everything) until rejoin().
  void isolate(const std::string& member);
  void rejoin(const std::string& member);

 private:
  struct Member {
    std::string netns;
    std::string host_if;
    std::string address;
  };
  const Member& member(const std::string& name) const;
  void blackhole(const std::string& in, const std::string& to, bool on);

  std::string tag_;
  std::string bridge_;
  std::string host_ip_;
  std::string subnet_;  // "10.215.S."
  std::map<std::string, Member> members_;
};

}  // namespace hale::test
