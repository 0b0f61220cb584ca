#include "network_fabric.h"

#include <unistd.h>

#include <atomic>
#include <stdexcept>

#include "process.h"

namespace hale::test {
namespace {

using std::chrono::seconds;

std::string ipTool() { return findExecutable("ip", {"/usr/sbin", "/sbin"}); }

void run(const std::vector<std::string>& argv) { runOrThrow("network fabric", argv); }

void runQuietly(const std::vector<std::string>& argv) { runCommand(SpawnOptions{.argv = argv}, seconds{10}); }

}  // namespace

NetworkFabric::NetworkFabric() {
  // Unique per process and instance, short enough for 15-character link names.
  static std::atomic<int> counter{0};
  const int n = counter.fetch_add(1);
  tag_ = std::to_string(::getpid() % 100000) + "f" + std::to_string(n);
  const std::string ip = ipTool();
  if (ip.empty()) throw std::runtime_error("network fabric: ip (iproute2) not found");
  // A /24 no other test process holds right now.
  const std::string taken = runCommand(SpawnOptions{.argv = {ip, "-4", "-o", "addr", "show"}}, seconds{10}).output;
  int subnet = (static_cast<int>(::getpid()) * 7 + n) % 250 + 1;
  for (int i = 0; i < 250 && taken.find("10.215." + std::to_string(subnet) + ".") != std::string::npos; ++i)
    subnet = subnet % 250 + 1;
  subnet_ = "10.215." + std::to_string(subnet) + ".";
  host_ip_ = subnet_ + "1";
  bridge_ = "hb" + tag_;
  run({ip, "link", "add", bridge_, "type", "bridge"});
  try {
    run({ip, "addr", "add", host_ip_ + "/24", "dev", bridge_});
    run({ip, "link", "set", bridge_, "up"});
  } catch (...) {
    runQuietly({ip, "link", "del", bridge_});
    throw;
  }
}

NetworkFabric::~NetworkFabric() {
  const std::string ip = ipTool();
  for (const auto& [name, m] : members_) {
    runQuietly({ip, "netns", "del", m.netns});  // takes the veth pair with it
    runQuietly({ip, "link", "del", m.host_if});
  }
  runQuietly({ip, "link", "del", bridge_});
}

const std::string& NetworkFabric::add(const std::string& name) {
  if (members_.count(name) != 0 || name == "host") throw std::runtime_error("network fabric: " + name + " twice");
  const std::string ip = ipTool();
  const std::string index = std::to_string(members_.size());
  Member m;
  m.netns = "hale-" + tag_ + "-" + index;
  m.host_if = "hf" + tag_ + "h" + index;
  const std::string inner_if = "hf" + tag_ + "n" + index;
  m.address = subnet_ + std::to_string(members_.size() + 2);
  run({ip, "netns", "add", m.netns});
  try {
    run({ip, "link", "add", m.host_if, "type", "veth", "peer", "name", inner_if});
    run({ip, "link", "set", inner_if, "netns", m.netns});
    run({ip, "link", "set", m.host_if, "master", bridge_});
    run({ip, "link", "set", m.host_if, "up"});
    run({ip, "netns", "exec", m.netns, ip, "addr", "add", m.address + "/24", "dev", inner_if});
    run({ip, "netns", "exec", m.netns, ip, "link", "set", inner_if, "up"});
    run({ip, "netns", "exec", m.netns, ip, "link", "set", "lo", "up"});
  } catch (...) {
    runQuietly({ip, "netns", "del", m.netns});
    runQuietly({ip, "link", "del", m.host_if});
    throw;
  }
  return members_.emplace(name, std::move(m)).first->second.address;
}

const NetworkFabric::Member& NetworkFabric::member(const std::string& name) const {
  const auto it = members_.find(name);
  if (it == members_.end()) throw std::runtime_error("network fabric: no member " + name);
  return it->second;
}

const std::string& NetworkFabric::address(const std::string& name) const {
  return name == "host" ? host_ip_ : member(name).address;
}

std::vector<std::string> NetworkFabric::wrap(const std::string& name, std::vector<std::string> argv) const {
  std::vector<std::string> out = {ipTool(), "netns", "exec", member(name).netns};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

void NetworkFabric::blackhole(const std::string& in, const std::string& to, bool on) {
  const std::string ip = ipTool();
  std::vector<std::string> argv = {ip};
  if (in != "host") argv = {ip, "netns", "exec", member(in).netns, ip};
  argv.insert(argv.end(), {"route", on ? "add" : "del", "blackhole", address(to) + "/32"});
  run(argv);
}

void NetworkFabric::cut(const std::string& a, const std::string& b) {
  blackhole(a, b, true);
  blackhole(b, a, true);
}

void NetworkFabric::heal(const std::string& a, const std::string& b) {
  blackhole(a, b, false);
  blackhole(b, a, false);
}

void NetworkFabric::isolate(const std::string& name) { run({ipTool(), "link", "set", member(name).host_if, "down"}); }

void NetworkFabric::rejoin(const std::string& name) {
  const Member& m = member(name);
  const std::string ip = ipTool();
  run({ip, "link", "set", m.host_if, "up"});
  run({ip, "netns", "exec", m.netns, ip, "neigh", "flush", "all"});
}

}  // namespace hale::test
