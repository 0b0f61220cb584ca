#pragma once

// hale-aggregator's configuration (/etc/hale/aggregator.toml), loaded whole into typed, validated structs;
// errors name file:line: key. Actions are built here through the registry, so a config that loads is one
// that runs. The commented example is packaging/aggregator.toml.

#include <map>
#include <string>
#include <vector>

#include "alerter.h"
#include "coordination.h"
#include "curve_keys.h"
#include "log.h"
#include "observer.h"
#include "plan_runner.h"
#include "policy.h"
#include "result.h"

namespace hale::aggregator {

struct RegionSetup {
  std::string name;
  bool active = false;           // the home region: active in normal times
  bool accept_any_node = false;  // nodes not listed are accepted on first heartbeat
  std::vector<std::string> nodes;
};

struct PlanSetup {
  std::string from;
  std::string to;
  std::vector<std::string> steps;       // action names, in order
  std::vector<std::string> on_failure;  // actions run once each when the plan fails or is refused
};

// Who may publish heartbeats, and which frames are believed (aggregator/curve_gate.h, core/sequence_guard.h).
struct IngestSecurity {
  // Plaintext ZeroMQ: whoever reaches `listen` can speak for any node. Off unless the operator says so.
  bool insecure = false;
  curve::Keypair server;                          // [curve] secret_key_file: this aggregator's keypair
  std::map<std::string, std::string> agent_keys;  // [agent_keys]: node id -> the Z85 public key it must use
  // [ingest]: a frame sent further than this from our clock: with CURVE believed and counted as skewed
  // (its send time clamped), without it refused (clock_skew).
  std::chrono::milliseconds max_clock_skew{30000};
  int max_restarts_per_minute = 6;  // new boot ids accepted per node per minute; more are refused
};

struct AggregatorConfig {
  std::string source;
  std::vector<std::string> listen;  // ZeroMQ endpoints to bind, e.g. tcp://10.0.0.5:7450
  IngestSecurity ingest;
  std::string control_socket = "/run/hale/aggregator.sock";
  std::string control_group;  // group of the socket (may read status); empty: the aggregator's own
  std::string admin_group;    // may also fail over, approve, pause...; root and the aggregator's user always may
  std::string journal = "/var/lib/hale/journal.db";
  LogFormat log_format = LogFormat::text;  // log_format = "text" | "json"
  std::string http_listen = "127.0.0.1";
  int http_port = 9181;  // /metrics; -1 disables it
  std::chrono::milliseconds tick{100};
  std::chrono::milliseconds max_retry_after{60000};  // [guards]: the longest a server's Retry-After is honoured
  // `coordination` (required): "none", one aggregator deciding alone, or "etcd", several observers, a
  // quorum and one leader; the [etcd] table configures the latter.
  CoordinationConfig coordination;
  ObserverConfig observer;
  PolicyConfig policy;
  std::vector<RegionSetup> regions;
  std::vector<PlanSetup> plans;
  ActionTable actions;
  AlertConfig alerts;  // [alerts]
};

Result<AggregatorConfig> loadAggregatorConfig(const std::string& path);
Result<AggregatorConfig> parseAggregatorConfig(std::string_view text, const std::string& source_name);

}  // namespace hale::aggregator
