#include "aggregator_config.h"

#include <algorithm>
#include <set>

#include "action_registry.h"
#include "control_server.h"
#include "etcd_config.h"
#include "heartbeat.h"
#include "net_address.h"
#include "text.h"

namespace hale::aggregator {
namespace {

using std::chrono::milliseconds;

void readDetection(ConfigTable& root, AggregatorConfig& c) {
  auto t = root.table("detection");
  if (!t) return;
  DetectionParams& d = c.observer.detection;
  t->getDuration("suspect_after", d.suspect_after, Presence::optional, milliseconds{200}, std::chrono::minutes{10});
  t->getDuration("miss_after", d.miss_after, Presence::optional, milliseconds{200}, std::chrono::minutes{10});
  int64_t rise = d.rise;
  int64_t fall = d.fall;
  t->get("rise", rise, Presence::optional, 1, 100);
  t->get("fall", fall, Presence::optional, 1, 100);
  d.rise = static_cast<uint32_t>(rise);
  d.fall = static_cast<uint32_t>(fall);
  if (d.suspect_after >= d.miss_after) t->error("suspect_after", "must be shorter than miss_after");
  t->getDuration("tilt_threshold", c.observer.tilt_threshold, Presence::optional, milliseconds{500},
                 std::chrono::minutes{1});
  t->getDuration("tilt_period", c.observer.tilt_period, Presence::optional, milliseconds{0}, std::chrono::hours{1});
  t->getDuration("startup_grace", c.observer.startup_grace, Presence::optional, milliseconds{0},
                 std::chrono::minutes{10});
  t->getDuration("node_retention", c.observer.node_retention, Presence::optional, milliseconds{1000},
                 std::chrono::hours{24 * 30});
  if (c.observer.node_retention <= d.miss_after)
    t->error("node_retention", "must be longer than miss_after, or nodes are forgotten before they fail");
  t->getDuration("tick", c.tick, Presence::optional, milliseconds{10}, milliseconds{1000});
  if (c.tick * 2 >= c.observer.tilt_threshold) t->error("tick", "must be under half of tilt_threshold");
  t->finish();
}

void readGuards(ConfigTable& root, AggregatorConfig& c) {
  auto t = root.table("guards");
  if (!t) return;
  PolicyConfig& p = c.policy;
  t->get("dry_run", p.dry_run);
  std::string approval = "auto";
  t->getEnum("approval", approval, {"auto", "manual"});
  p.manual_approval = approval == "manual";
  t->getDuration("min_failover_interval", p.min_failover_interval, Presence::optional, milliseconds{0},
                 std::chrono::hours{24 * 7});
  std::string failback = "manual";
  t->getEnum("failback", failback, {"manual", "auto"});
  p.auto_failback = failback == "auto";
  t->getDuration("failback_after", p.failback_after, Presence::optional, milliseconds{0}, std::chrono::hours{24 * 7});
  t->getDuration("max_retry_after", c.max_retry_after, Presence::optional, milliseconds{0}, std::chrono::hours{1});
  t->getDuration("approval_timeout", p.approval_timeout, Presence::optional, milliseconds{1000},
                 std::chrono::hours{24 * 7});
  t->finish();
}

void readCoordination(ConfigTable& root, AggregatorConfig& c) {
  std::string mode;
  if (!root.has("coordination")) {
    root.error("coordination",
               "required: \"none\" (this aggregator decides alone, and a path cut between it and a healthy region "
               "can fail that region over) or \"etcd\" (a quorum of observers and one leader; see [etcd])");
  }
  root.getEnum("coordination", mode, {"none", "etcd"});
  CoordinationConfig& k = c.coordination;
  k.mode = mode == "etcd" ? CoordinationConfig::Mode::etcd : CoordinationConfig::Mode::none;
  auto t = root.table("etcd");
  if (!t) {
    if (mode == "etcd")
      root.error("etcd", "coordination = \"etcd\" needs an [etcd] table (endpoints, name, observers)");
    return;
  }
  if (mode != "etcd") t->error("endpoints", "an [etcd] table needs coordination = \"etcd\"");
  etcd::StoreConfig store;
  etcd::readStoreConfig(*t, store);
  k.store = store.options;
  k.cluster = store.cluster;
  k.password_file = store.password_file;
  t->get("name", k.name, Presence::required);
  t->get("observers", k.quorum.observers, Presence::required);
  if (t->has("name") &&
      std::find(k.quorum.observers.begin(), k.quorum.observers.end(), k.name) == k.quorum.observers.end()) {
    t->error("observers", "must list this aggregator's own name \"" + k.name + "\"");
  }
  for (const std::string& o : k.quorum.observers) {
    if (o.empty() || o.size() > 64 || o.find('/') != std::string::npos)
      t->error("observers", "observer names must be 1..64 bytes without '/'");
    if (std::count(k.quorum.observers.begin(), k.quorum.observers.end(), o) > 1)
      t->error("observers", "observer \"" + o + "\" is listed twice");
  }
  int64_t quorum = 0;
  if (t->get("quorum", quorum, Presence::optional, 1, 1000)) {
    k.quorum.quorum = static_cast<uint32_t>(quorum);
    if (quorum > static_cast<int64_t>(k.quorum.observers.size()))
      t->error("quorum", "is more than the " + std::to_string(k.quorum.observers.size()) + " observers");
    else if (quorum * 2 <= static_cast<int64_t>(k.quorum.observers.size()))
      t->error("quorum", "must be a strict majority of the observers, or two disjoint halves could both decide");
  }
  t->getDuration("lease_ttl", k.lease_ttl, Presence::optional, milliseconds{2000}, std::chrono::minutes{1});
  t->getDuration("publish_interval", k.publish_interval, Presence::optional, milliseconds{50}, milliseconds{5000});
  t->getDuration("verdict_fresh", k.quorum.fresh_within, Presence::optional, milliseconds{100},
                 std::chrono::minutes{1});
  if (k.quorum.fresh_within < k.publish_interval * 2)
    t->error("verdict_fresh", "must be at least twice publish_interval, or live observers would look silent");
  // Default: 1 s, or a third of a shorter lease.
  k.store.timeout = std::min(milliseconds{1000}, k.lease_ttl / 3);
  t->getDuration("timeout", k.store.timeout, Presence::optional, milliseconds{50}, milliseconds{30000});
  // The lease is renewed every third of its TTL, in a round: rounds and requests must fit in that.
  if (k.publish_interval * 4 > k.lease_ttl)
    t->error("publish_interval", "must be at most a quarter of lease_ttl, or the lease lapses between rounds");
  if (k.store.timeout * 3 > k.lease_ttl)
    t->error("timeout", "must be at most a third of lease_ttl, or one slow request outlives the lease");
  t->finish();
}

void readIngestSecurity(ConfigTable& root, AggregatorConfig& c) {
  IngestSecurity& s = c.ingest;
  root.get("insecure", s.insecure);
  if (auto t = root.table("ingest")) {
    t->getDuration("max_clock_skew", s.max_clock_skew, Presence::optional, milliseconds{1000}, std::chrono::hours{1});
    int64_t restarts = s.max_restarts_per_minute;
    t->get("max_restarts_per_minute", restarts, Presence::optional, 1, 600);
    s.max_restarts_per_minute = static_cast<int>(restarts);
    t->finish();
  }
  auto curve_table = root.table("curve");
  if (curve_table) {
    std::string secret_file;
    if (curve_table->get("secret_key_file", secret_file, s.insecure ? Presence::optional : Presence::required)) {
      auto keys = curve::loadSecretKey(secret_file);
      if (keys) {
        s.server = std::move(keys).value();
      } else {
        curve_table->error("secret_key_file", keys.error().message);
      }
    }
    curve_table->finish();
  } else if (!s.insecure) {
    root.error("curve",
               "heartbeats need CurveZMQ: add [curve] secret_key_file (make a key with `halectl keygen`) "
               "and [agent_keys], or set insecure = true to accept plaintext from anyone who reaches listen");
  }
  if (auto t = root.table("agent_keys")) {
    std::map<std::string, std::string> owner_of;  // key -> node
    for (const std::string& node : t->keys()) {
      std::string key;
      if (!t->get(node, key)) continue;
      if (!curve::isKey(key)) {
        t->error(node, "is not a CURVE public key (40 characters of Z85, the .pub file of `halectl keygen`)");
        continue;
      }
      if (key == s.server.public_key) t->error(node, "is the aggregator's own public key");
      if (auto [it, fresh] = owner_of.emplace(key, node); !fresh) {
        t->error(node, "is also the key of node \"" + it->second + "\": every node needs its own keypair");
      }
      s.agent_keys.emplace(node, key);
    }
    t->finish();
  } else if (!s.insecure) {
    root.error("agent_keys", "list each agent's public key (<node-id> = \"<key>\"): without it no agent is heard");
  }
}

// With CURVE, a node without a key could never be heard, and a key for a node no region can hold is a typo.
void checkAgentKeys(ConfigTable& root, const AggregatorConfig& c) {
  if (c.ingest.insecure || !root.has("agent_keys")) return;
  const bool any_region_open =
      std::any_of(c.regions.begin(), c.regions.end(), [](const RegionSetup& r) { return r.accept_any_node; });
  std::set<std::string> listed;
  for (const RegionSetup& r : c.regions) {
    for (const std::string& n : r.nodes) {
      listed.insert(n);
      if (c.ingest.agent_keys.count(n) == 0)
        root.error("agent_keys", "node \"" + n + "\" (region " + r.name + ") has no key: it could never be heard");
    }
  }
  for (const auto& [node, key] : c.ingest.agent_keys) {
    if (listed.count(node) == 0 && !any_region_open)
      root.error("agent_keys", "\"" + node + "\" is not a node of any region (and no region has accept_any_node)");
  }
}

void readRegion(ConfigTable& t, AggregatorConfig& c, std::set<std::string>& node_ids) {
  RegionSetup setup;
  RegionConfig rc;
  t.get("name", setup.name, Presence::required);
  std::string role = "standby";
  t.getEnum("role", role, {"active", "standby"});
  setup.active = role == "active";
  int64_t priority = 100;
  t.get("priority", priority, Presence::optional, 0, 1000);
  int64_t min_healthy = rc.params.min_healthy;
  t.get("min_healthy", min_healthy, Presence::optional, 1, 10000);
  rc.params.min_healthy = static_cast<uint32_t>(min_healthy);
  t.get("min_healthy_share", rc.params.min_healthy_share);
  if (rc.params.min_healthy_share < 0.0 || rc.params.min_healthy_share > 1.0)
    t.error("min_healthy_share", "must be between 0 and 1");
  int64_t fail_over_below = 0;
  t.get("fail_over_below", fail_over_below, Presence::optional, 1, 10000);
  rc.params.fail_over_below = static_cast<uint32_t>(fail_over_below);
  t.get("database_check", rc.params.database_check);
  if (t.has("database_check") && rc.params.database_check.empty()) t.error("database_check", "must name a check");
  t.getDuration("down_after", rc.params.down_after, Presence::optional, milliseconds{0}, std::chrono::hours{1});
  t.getDuration("up_after", rc.params.up_after, Presence::optional, milliseconds{0}, std::chrono::hours{24});
  t.get("accept_any_node", setup.accept_any_node);
  t.get("nodes", setup.nodes);
  for (const std::string& n : setup.nodes) {
    if (n.empty() || n.size() > heartbeat::kMaxIdBytes || !isCleanText(n))
      t.error("nodes", "node ids must be 1..64 bytes of text without control characters");
    if (!node_ids.insert(n).second) t.error("nodes", "node \"" + n + "\" is listed twice");
  }
  if (setup.nodes.empty() && !setup.accept_any_node)
    t.error("nodes", "list the region's nodes, or set accept_any_node = true");
  if (!setup.nodes.empty() && setup.nodes.size() < rc.params.min_healthy) {
    t.error("min_healthy",
            "is more than the " + std::to_string(setup.nodes.size()) + " listed nodes: the region could never be up");
  }
  if (rc.params.fail_over_below > rc.params.min_healthy) {
    t.error("fail_over_below", "is more than min_healthy (" + std::to_string(rc.params.min_healthy) +
                                   "): a region could be healthy enough to be up and lost at once");
  }
  if (!setup.nodes.empty() && setup.nodes.size() < rc.params.fail_over_below) {
    t.error("fail_over_below", "is more than the " + std::to_string(setup.nodes.size()) +
                                   " listed nodes: the region would always be down");
  }
  for (const RegionSetup& other : c.regions) {
    if (other.name == setup.name) t.error("name", "duplicate region \"" + setup.name + "\"");
  }
  t.finish();
  rc.name = setup.name;
  rc.priority = static_cast<int>(priority);
  c.observer.regions.push_back(rc);
  c.regions.push_back(std::move(setup));
}

// `broken`: names of actions declared with errors (already reported), so the plans and alerts that name
// them do not report them again as missing.
void readAction(ConfigTable& t, AggregatorConfig& c, std::set<std::string>& broken) {
  ConfiguredAction a;
  t.get("name", a.name, Presence::required);
  t.get("type", a.type, Presence::required);
  t.getDuration("timeout", a.policy.timeout, Presence::optional, milliseconds{10}, std::chrono::hours{1});
  int64_t attempts = a.policy.attempts;
  t.get("attempts", attempts, Presence::optional, 1, 100);
  a.policy.attempts = static_cast<int>(attempts);
  t.getDuration("backoff", a.policy.backoff, Presence::optional, milliseconds{0}, std::chrono::minutes{5});
  t.getDuration("deadline", a.policy.deadline, Presence::optional, milliseconds{10}, std::chrono::hours{2});
  if (c.actions.count(a.name) != 0) t.error("name", "duplicate action \"" + a.name + "\"");
  const ActionType* type = findActionType(a.type);
  if (type == nullptr) {
    if (!a.name.empty()) broken.insert(a.name);
    if (t.has("type")) {
      std::string known;
      for (const ActionType& k : actionTypes()) known += (known.empty() ? "" : ", ") + std::string(k.name);
      t.error("type", "unknown action type \"" + a.type + "\" (known: " + known + ")");
    }
    t.finish();
    return;
  }
  a.resource = std::string(type->resource);
  t.get("resource", a.resource, Presence::optional);
  ActionEnvironment env;
  etcd::StoreConfig store;
  if (c.coordination.mode == CoordinationConfig::Mode::etcd) {
    store = {c.coordination.store, c.coordination.cluster, c.coordination.password_file};
    env.etcd = &store;
  }
  std::unique_ptr<Action> action = type->create(t, env);
  t.finish();
  if (!action && !a.name.empty()) broken.insert(a.name);
  if (!action || a.name.empty()) return;
  a.action = std::move(action);
  c.actions.emplace(a.name, std::move(a));
}

Result<AggregatorConfig> fromDocument(const ConfigDocument& doc) {
  ConfigErrors errors;
  AggregatorConfig c;
  c.source = doc.file();
  ConfigTable root = doc.root(errors);
  root.get("listen", c.listen, Presence::required);
  for (const std::string& e : c.listen) {
    if (const std::string wrong = checkZmqEndpoint(e, /*bind=*/true); !wrong.empty())
      root.error("listen", "\"" + e + "\": " + wrong);
  }
  root.get("control_socket", c.control_socket);
  readControlGroups(root, c.control_group, c.admin_group);
  if (std::string format; root.getEnum("log_format", format, {"text", "json"})) parseLogFormat(format, c.log_format);
  root.get("journal", c.journal);
  readIngestSecurity(root, c);
  if (auto http = root.table("http")) {
    if (http->get("listen", c.http_listen) && !isIpAddress(c.http_listen))
      http->error("listen", "\"" + c.http_listen + "\" is not an IPv4 or IPv6 address");
    int64_t port = c.http_port;
    http->get("port", port, Presence::optional, -1, 65535);
    c.http_port = static_cast<int>(port);
    http->finish();
  }
  readCoordination(root, c);
  readDetection(root, c);
  readGuards(root, c);
  std::set<std::string> node_ids;
  for (ConfigTable& t : root.tables("region", Presence::required)) readRegion(t, c, node_ids);
  checkAgentKeys(root, c);
  std::set<std::string> broken_actions;
  for (ConfigTable& t : root.tables("action")) readAction(t, c, broken_actions);
  // A step naming an action that exists is fine; one declared with errors was reported where it is.
  const auto missing = [&](const std::string& name) {
    return c.actions.count(name) == 0 && broken_actions.count(name) == 0;
  };

  const auto actives = std::count_if(c.regions.begin(), c.regions.end(), [](const RegionSetup& r) { return r.active; });
  if (!c.regions.empty() && actives != 1)
    root.error("region", "exactly one region must have role = \"active\" (the home region)");
  for (const RegionSetup& r : c.regions) {
    if (r.active) c.policy.home_region = r.name;
  }
  auto known = [&](const std::string& name) {
    return std::any_of(c.regions.begin(), c.regions.end(), [&](const RegionSetup& r) { return r.name == name; });
  };
  if (auto t = root.table("alerts")) {
    t->get("actions", c.alerts.actions);
    for (const std::string& a : c.alerts.actions) {
      if (missing(a)) t->error("actions", "no action named \"" + a + "\"");
    }
    t->get("events", c.alerts.events);
    for (const std::string& e : c.alerts.events) {
      if (e.size() < 2 || (e[0] != '+' && e[0] != '-'))
        t->error("events", "\"" + e + "\" is not an event name (\"+split-brain\", \"-plan-failed\", ...)");
    }
    t->finish();
  }
  for (ConfigTable& t : root.tables("plan")) {
    PlanSetup p;
    t.get("from", p.from, Presence::required);
    t.get("to", p.to, Presence::required);
    t.get("steps", p.steps, Presence::required);
    t.get("on_failure", p.on_failure);
    if (t.has("from") && !known(p.from)) t.error("from", "unknown region \"" + p.from + "\"");
    if (t.has("to") && !known(p.to)) t.error("to", "unknown region \"" + p.to + "\"");
    if (p.from == p.to && !p.from.empty()) t.error("to", "a plan must go to another region");
    for (const std::string& s : p.steps) {
      if (missing(s)) t.error("steps", "no action named \"" + s + "\"");
    }
    for (const std::string& s : p.on_failure) {
      if (missing(s)) t.error("on_failure", "no action named \"" + s + "\"");
    }
    for (const PlanSetup& other : c.plans) {
      if (other.from == p.from && other.to == p.to) t.error("from", "a second plan from " + p.from + " to " + p.to);
    }
    t.finish();
    c.policy.plans.emplace_back(p.from, p.to);
    c.plans.push_back(std::move(p));
  }
  root.finish();
  if (!errors.empty()) return makeError("config", errors.format());
  return c;
}

}  // namespace

Result<AggregatorConfig> loadAggregatorConfig(const std::string& path) {
  auto doc = ConfigDocument::loadFile(path);
  if (!doc) return doc.error();
  return fromDocument(doc.value());
}

Result<AggregatorConfig> parseAggregatorConfig(std::string_view text, const std::string& source_name) {
  auto doc = ConfigDocument::parse(text, source_name);
  if (!doc) return doc.error();
  return fromDocument(doc.value());
}

}  // namespace hale::aggregator
