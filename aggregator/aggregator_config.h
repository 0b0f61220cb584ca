#pragma once

// hale-aggregator's configuration (/etc/hale/aggregator.toml), loaded whole into typed, validated structs;
// errors name file:line: key. Actions are built here through the registry, so a config that loads is one
// that runs. The commented example is packaging/aggregator.toml.

#include <string>
#include <vector>

#include "alerter.h"
#include "coordination.h"
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

struct AggregatorConfig {
  std::string source;
  std::vector<std::string> listen;  // ZeroMQ endpoints to bind, e.g. tcp://0.0.0.0:7450
  std::string control_socket = "/run/hale/aggregator.sock";
  std::string journal = "/var/lib/hale/journal.db";
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
