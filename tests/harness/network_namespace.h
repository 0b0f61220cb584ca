#pragma once

// A network namespace of the test's own, joined to this one by a veth pair, so one process can be cut
// off the network for real (packets dropped, TCP retransmitting) while everything else goes on:
//   host side  hostAddress()  (10.213.N.1/30)  <->  namespace side  innerAddress()  (10.213.N.2/30)
// Processes run inside with wrap(argv) ("ip netns exec NAME ..."). Needs root and iproute2; removed,
// veth included, on destruction.

#include <chrono>
#include <string>
#include <vector>

namespace hale::test {

class NetworkNamespace {
 public:
  NetworkNamespace();  // throws std::runtime_error when it cannot be created
  ~NetworkNamespace();
  NetworkNamespace(const NetworkNamespace&) = delete;
  NetworkNamespace& operator=(const NetworkNamespace&) = delete;

  const std::string& name() const { return name_; }
  const std::string& hostAddress() const { return host_ip_; }
  const std::string& innerAddress() const { return inner_ip_; }

  // `argv` run inside the namespace.
  std::vector<std::string> wrap(std::vector<std::string> argv) const;
  // The link goes down (every packet between the two sides is lost) until linkUp().
  void linkDown();
  void linkUp();

 private:
  std::string name_;
  std::string host_if_;
  std::string host_ip_;
  std::string inner_ip_;
};

}  // namespace hale::test
