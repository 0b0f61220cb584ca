#pragma once

// hale's own daemons as an operator runs them, for end-to-end tests and the drill: the real binaries
// with a config written to a temp dir, their control sockets, and halectl.

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "process.h"
#include "temp_dir.h"

namespace hale::test {

// Paths of the built binaries (set by CMake).
const char* aggregatorBinary();
const char* agentBinary();
const char* halectlBinary();

// Runs halectl against `socket` (5 s bound).
CommandResult halectl(const std::string& socket, std::vector<std::string> args);

// `top` for an aggregator deciding alone that takes plaintext heartbeats (from a FakeFleet, say).
inline constexpr const char* kAloneInsecure = "coordination = \"none\"\ninsecure = true\n";

class AggregatorProcess {
 public:
  // `body`: everything but listen, control_socket, journal, [http] and `top` (top-level keys, by default
  // one aggregator deciding alone), which are set here, and, unless `top` or `body` says insecure = true,
  // [curve] and [agent_keys] (curve_ring.h: a key for every node the body's regions list). Heartbeats are taken on
  // 127.0.0.1 and on each of `extra_hosts` (a network namespace's host side), on one port. `wrapper`: a prefix for its
  // command line (NetworkFabric::wrap's), run inside a network namespace.
  AggregatorProcess(const TempDir& dir, const std::string& body, const std::string& name = "aggregator",
                    const std::vector<std::string>& extra_hosts = {},
                    const std::string& top = "coordination = \"none\"\n", std::vector<std::string> wrapper = {});

  // Command-line arguments after --config (e.g. --log-level debug), for the next start().
  void setArgs(std::vector<std::string> args) { args_ = std::move(args); }
  void start();  // returns once `halectl regions` answers; throws std::runtime_error otherwise
  void kill();   // SIGKILL
  void stop();   // SIGTERM, as systemd does
  void signal(int sig) const;
  bool running() { return process_ && process_->running(); }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  // Waits up to `timeout` for it to exit by itself (after a signal()); true if it did.
  bool waitExit(std::chrono::milliseconds timeout) { return process_ && process_->waitExit(timeout); }
  // Its exit status as from waitpid, once waitExit returned true.
  int waitStatus() const { return process_ ? process_->waitStatus() : -1; }

  const std::string& name() const { return name_; }
  const std::string& endpoint() const { return endpoint_; }
  // The endpoint on one of the extra hosts.
  std::string endpointOn(const std::string& host) const { return "tcp://" + host + ":" + std::to_string(port_); }
  std::string socket() const { return dir_.path() + "/" + name_ + ".sock"; }
  std::string journalPath() const { return dir_.path() + "/" + name_ + "-journal.db"; }
  std::string logPath() const { return dir_.path() + "/" + name_ + ".log"; }
  std::string log() const { return process_ ? process_->logTail(8000) : ""; }

  CommandResult halectl(std::vector<std::string> args) const { return test::halectl(socket(), std::move(args)); }
  // `halectl ARGS --json`, parsed (discarded on failure).
  nlohmann::json json(std::vector<std::string> args) const;
  // GET /metrics ("" when it does not answer 200), from inside its network namespace when it runs in one.
  std::string metrics() const;

 private:
  const TempDir& dir_;
  std::string name_;
  uint16_t port_ = 0;
  uint16_t http_port_ = 0;
  std::string endpoint_;
  std::string config_;
  std::vector<std::string> wrapper_;
  std::vector<std::string> args_;
  std::unique_ptr<ChildProcess> process_;
};

class AgentProcess {
 public:
  // `body`: the agent's checks and settings; node, region, aggregators, [http] and control_socket are set here,
  // with CURVE keys (the aggregators' from curve_ring.h) unless `body` says insecure = true.
  // `wrapper`: a prefix for its command line, e.g. NetworkNamespace::wrap's ("ip netns exec NAME").
  AgentProcess(const TempDir& dir, const std::string& node, const std::string& region,
               const std::vector<std::string>& aggregators, const std::string& body,
               std::vector<std::string> wrapper = {});

  void start();  // returns once `halectl status` answers
  void kill();   // SIGKILL
  void signal(int sig) const;
  bool running() { return process_ && process_->running(); }

  const std::string& node() const { return node_; }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  uint16_t httpPort() const { return http_port_; }
  std::string socket() const { return dir_.path() + "/" + node_ + ".sock"; }
  std::string log() const { return process_ ? process_->logTail(4000) : ""; }

 private:
  const TempDir& dir_;
  std::string node_;
  uint16_t http_port_ = 0;
  std::string config_;
  std::vector<std::string> wrapper_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace hale::test
