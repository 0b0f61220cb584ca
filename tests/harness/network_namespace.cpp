#include "network_namespace.h"

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <stdexcept>

#include "process.h"

namespace hale::test {
namespace {

using std::chrono::seconds;

void run(const std::vector<std::string>& argv) { runOrThrow("network namespace", argv); }

}  // namespace

NetworkNamespace::NetworkNamespace() {
  // Unique per process and instance: pid and a counter, both small enough for 15-character link names.
  static std::atomic<int> counter{0};
  const int n = counter.fetch_add(1);
  const std::string tag = std::to_string(::getpid() % 100000) + "x" + std::to_string(n);
  const std::string ip = findExecutable("ip", {"/usr/sbin", "/sbin"});
  if (ip.empty()) throw std::runtime_error("network namespace: ip (iproute2) not found");
  // A /30 no other test process holds right now (tests run in parallel).
  const std::string taken = runCommand(SpawnOptions{.argv = {ip, "-4", "-o", "addr", "show"}}, seconds{10}).output;
  int subnet = (static_cast<int>(::getpid()) * 7 + n) % 250 + 1;
  for (int i = 0; i < 250 && taken.find("10.213." + std::to_string(subnet) + ".") != std::string::npos; ++i)
    subnet = subnet % 250 + 1;
  name_ = "hale-" + tag;
  host_if_ = "hh" + tag;
  const std::string inner_if = "hn" + tag;
  host_ip_ = "10.213." + std::to_string(subnet) + ".1";
  inner_ip_ = "10.213." + std::to_string(subnet) + ".2";
  run({ip, "netns", "add", name_});
  try {
    run({ip, "link", "add", host_if_, "type", "veth", "peer", "name", inner_if});
    run({ip, "link", "set", inner_if, "netns", name_});
    run({ip, "addr", "add", host_ip_ + "/30", "dev", host_if_});
    run({ip, "link", "set", host_if_, "up"});
    run({ip, "netns", "exec", name_, ip, "addr", "add", inner_ip_ + "/30", "dev", inner_if});
    run({ip, "netns", "exec", name_, ip, "link", "set", inner_if, "up"});
    run({ip, "netns", "exec", name_, ip, "link", "set", "lo", "up"});
  } catch (...) {
    runCommand(SpawnOptions{.argv = {ip, "netns", "del", name_}}, seconds{10});
    runCommand(SpawnOptions{.argv = {ip, "link", "del", host_if_}}, seconds{10});
    throw;
  }
}

NetworkNamespace::~NetworkNamespace() {
  const std::string ip = findExecutable("ip", {"/usr/sbin", "/sbin"});
  runCommand(SpawnOptions{.argv = {ip, "netns", "del", name_}}, seconds{10});    // takes the veth pair with it
  runCommand(SpawnOptions{.argv = {ip, "link", "del", host_if_}}, seconds{10});  // in case it did not
}

std::vector<std::string> NetworkNamespace::wrap(std::vector<std::string> argv) const {
  std::vector<std::string> out = {findExecutable("ip", {"/usr/sbin", "/sbin"}), "netns", "exec", name_};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

void NetworkNamespace::linkDown() {
  run({findExecutable("ip", {"/usr/sbin", "/sbin"}), "link", "set", host_if_, "down"});
}
void NetworkNamespace::linkUp() {
  const std::string ip = findExecutable("ip", {"/usr/sbin", "/sbin"});
  run({ip, "link", "set", host_if_, "up"});
  // Neighbours that failed to answer while the link was down would otherwise delay the first packets.
  run({ip, "neigh", "flush", "dev", host_if_});
  run({ip, "netns", "exec", name_, ip, "neigh", "flush", "all"});
  // Return once the link carries packets again (operstate up on our side, which needs both ends up), so a
  // test's next packet is not lost to a link still coming up.
  const std::string state = "/sys/class/net/" + host_if_ + "/operstate";
  waitFor(
      [&] {
        std::ifstream in(state);
        std::string s;
        return std::getline(in, s) && s == "up";
      },
      seconds{5}, std::chrono::milliseconds{10});
}

}  // namespace hale::test
