#pragma once

// hale-agent's configuration (/etc/hale/agent.toml): loaded whole into typed, validated structs; every
// error is reported as file:line: key: message. Checks are built here, through the registry, so a config
// that loads is a config that runs. The commented example is packaging/agent.toml.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "check.h"
#include "config_reader.h"
#include "etcd_config.h"
#include "health_state.h"
#include "heartbeat_transport.h"
#include "lease_keeper.h"
#include "log.h"
#include "result.h"

namespace hale::agent {

// Settings every check has, whatever its type.
struct CheckSettings {
  std::string name;
  std::string type;
  std::chrono::milliseconds interval{5000};
  std::chrono::milliseconds timeout{2000};  // always shorter than interval
  Thresholds thresholds;
  bool critical = true;
};

struct ConfiguredCheck {
  CheckSettings settings;
  std::shared_ptr<Check> check;        // shared: a hung probe's thread may outlive a reload
  std::optional<LeaseSettings> lease;  // [check.lease]: this database's primary lease (primary_lease.h)
};

struct AgentConfig {
  std::string source;  // the file it came from
  std::string node_id;
  std::string region;
  std::chrono::milliseconds heartbeat_interval{1000};
  // Plaintext heartbeats (the aggregators must say insecure = true too). Off unless the operator says so.
  bool insecure = false;
  // [[aggregator]] endpoint and public_key each, [curve] secret_key_file: this agent's keypair.
  PublisherTransport transport;
  std::string http_listen = "0.0.0.0";
  // /healthz lists the checks and their messages; default: only on a loopback listener.
  bool http_details = false;
  uint16_t http_port = 9180;
  std::string control_socket = "/run/hale/agent.sock";
  std::string control_group;  // group of the socket (may read status); empty: the agent's own
  std::string admin_group;    // may also unfence; root and the agent's user always may
  std::vector<ConfiguredCheck> checks;
  // [etcd]: where the primary leases live; required when a check has a lease.
  std::optional<etcd::StoreConfig> etcd;
  std::string journal = "/var/lib/hale/agent-journal.jsonl";  // fencing events (fence_journal.h)
  LogFormat log_format = LogFormat::text;                     // log_format = "text" | "json"

  // What a reload may not change while leases run: [etcd], the journal, node, region and every lease.
  std::string leaseSignature() const;
};

// Loads and validates `path`. On failure the Error's message lists every problem, one per line.
Result<AgentConfig> loadAgentConfig(const std::string& path);
// The same from text (tests, and `--check-config` on stdin one day).
Result<AgentConfig> parseAgentConfig(std::string_view text, const std::string& source_name);

}  // namespace hale::agent
