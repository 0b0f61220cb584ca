#include "agent_config.h"

#include <unistd.h>

#include <algorithm>
#include <climits>

#include "check_registry.h"
#include "control_server.h"
#include "fencer.h"
#include "heartbeat.h"
#include "net_address.h"
#include "subprocess.h"
#include "text.h"

namespace hale::agent {
namespace {

using std::chrono::milliseconds;

std::string hostName() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return {};
  return buf;
}

// What the aggregator's decoder accepts: 1..64 bytes of clean text (common/text.h).
bool validIdentifier(const std::string& s) {
  return !s.empty() && s.size() <= heartbeat::kMaxIdBytes && isCleanText(s);
}

// An argv whose program is resolved now, so a typo is a config error and not a failed fence.
bool readCommand(ConfigTable& t, const char* key, std::vector<std::string>& argv) {
  if (!t.get(key, argv)) return true;
  if (argv.empty()) {
    t.error(key, "must name a program");
    return false;
  }
  const std::string program = findProgram(argv.front());
  if (program.empty()) {
    t.error(key, "\"" + argv.front() + "\" not found or not executable");
    return false;
  }
  argv.front() = program;
  return true;
}

// [check.lease]: the database's primary lease.
std::optional<LeaseSettings> readLease(ConfigTable& check, const Check* built) {
  auto t = check.table("lease");
  if (!t) return std::nullopt;
  LeaseSettings s;
  bool ok = t->get("database", s.database, Presence::required);
  if (t->has("database") && !dblease::validName(s.database)) {
    t->error("database", "must be 1..64 letters, digits, '-', '_' or '.'");
    ok = false;
  }
  t->get("endpoint", s.endpoint);
  t->getDuration("ttl", s.ttl, Presence::optional, milliseconds{1000}, std::chrono::minutes{1});
  s.margin = std::min(s.margin, s.ttl / 3);
  t->getDuration("margin", s.margin, Presence::optional, milliseconds{100}, std::chrono::minutes{1});
  if (s.margin * 2 > s.ttl) {
    t->error("margin", "must be at most half of ttl, or the lease is fenced before it is ever renewed");
    ok = false;
  }
  s.fence_timeout = s.margin;
  t->getDuration("fence_timeout", s.fence_timeout, Presence::optional, milliseconds{100}, std::chrono::minutes{1});
  if (s.fence_timeout > s.margin) {
    t->error("fence_timeout", "must be at most margin, or a slow fence could end after the lease lapsed");
    ok = false;
  }
  ok &= readCommand(*t, "fence_command", s.fence_command);
  ok &= readCommand(*t, "unfence_command", s.unfence_command);
  if (!s.unfence_command.empty() && s.fence_command.empty()) {
    t->error("unfence_command", "needs fence_command");
    ok = false;
  }
  if (s.fence_command.empty() && built != nullptr && !built->makeFencer()) {
    t->error("fence_command", "a lease on a check that is not postgres or mysql needs a fence_command");
    ok = false;
  }
  t->finish();
  if (!ok) return std::nullopt;
  return s;
}

void readCheck(ConfigTable& t, AgentConfig& config) {
  CheckSettings s;
  t.get("name", s.name, Presence::required);
  t.get("type", s.type, Presence::required);
  t.getDuration("interval", s.interval, Presence::optional, milliseconds{100}, std::chrono::hours{1});
  t.getDuration("timeout", s.timeout, Presence::optional, milliseconds{10}, std::chrono::hours{1});
  int64_t rise = s.thresholds.rise;
  int64_t fall = s.thresholds.fall;
  t.get("rise", rise, Presence::optional, 1, 100);
  t.get("fall", fall, Presence::optional, 1, 100);
  s.thresholds.rise = static_cast<uint32_t>(rise);
  s.thresholds.fall = static_cast<uint32_t>(fall);
  t.get("critical", s.critical);

  bool ok = true;
  if (t.has("name") && !validIdentifier(s.name)) {
    t.error("name",
            "must be 1.." + std::to_string(heartbeat::kMaxIdBytes) + " bytes of text without control characters");
    ok = false;
  }
  for (const ConfiguredCheck& other : config.checks) {
    if (other.settings.name == s.name) {
      t.error("name", "duplicate check name \"" + s.name + "\"");
      ok = false;
    }
  }
  if (s.timeout >= s.interval) {
    t.error("timeout", "must be shorter than interval");
    ok = false;
  }
  const CheckType* type = findCheckType(s.type);
  if (type == nullptr) {
    if (t.has("type")) {
      std::string known;
      for (const CheckType& k : checkTypes()) known += (known.empty() ? "" : ", ") + std::string(k.name);
      t.error("type", "unknown check type \"" + s.type + "\" (known: " + known + ")");
    }
    t.finish();  // still report typos among the common keys; the type's own keys stay unchecked
    return;
  }
  std::unique_ptr<Check> check = type->create(t, s);
  const bool leased = t.has("lease");
  std::optional<LeaseSettings> lease = readLease(t, check.get());
  t.finish();
  if (leased && !lease) ok = false;
  if (lease) {
    for (const ConfiguredCheck& other : config.checks) {
      if (other.lease && other.lease->database == lease->database) {
        t.error("lease", "database \"" + lease->database + "\" already has a lease on check " + other.settings.name);
        ok = false;
      }
    }
  }
  if (check && ok)
    config.checks.push_back(ConfiguredCheck{s, std::shared_ptr<Check>(std::move(check)), std::move(lease)});
}

// Where heartbeats go: [[aggregator]] tables (endpoint and the aggregator's public key), or in insecure mode
// a plain list of endpoints; and this agent's own keypair from [curve].
void readTransport(ConfigTable& root, AgentConfig& config) {
  root.get("insecure", config.insecure);
  PublisherTransport& t = config.transport;
  std::vector<std::string> plain;
  if (root.get("aggregators", plain)) {
    if (!config.insecure) {
      root.error("aggregators",
                 "endpoints alone carry no aggregator key: use [[aggregator]] tables with endpoint "
                 "and public_key, or set insecure = true for plaintext heartbeats");
    }
    for (const std::string& e : plain) {
      if (const std::string wrong = checkZmqEndpoint(e, /*bind=*/false); !wrong.empty())
        root.error("aggregators", "\"" + e + "\": " + wrong);
      t.aggregators.push_back({e, ""});
    }
  }
  for (ConfigTable& a : root.tables("aggregator")) {
    AggregatorTarget target;
    if (a.get("endpoint", target.endpoint, Presence::required)) {
      if (const std::string wrong = checkZmqEndpoint(target.endpoint, /*bind=*/false); !wrong.empty())
        a.error("endpoint", "\"" + target.endpoint + "\": " + wrong);
    }
    const bool keyed =
        a.get("public_key", target.public_key, config.insecure ? Presence::optional : Presence::required);
    if (keyed && !curve::isKey(target.public_key))
      a.error("public_key", "is not a CURVE public key (40 characters of Z85, the aggregator's .pub file)");
    a.finish();
    t.aggregators.push_back(std::move(target));
  }
  auto curve_table = root.table("curve");
  if (!curve_table) {
    if (!config.insecure && !t.aggregators.empty())
      root.error("curve",
                 "heartbeats need this agent's CURVE key: add [curve] secret_key_file (make one with "
                 "`halectl keygen`), or set insecure = true");
    return;
  }
  std::string secret_file;
  if (curve_table->get("secret_key_file", secret_file, config.insecure ? Presence::optional : Presence::required)) {
    auto keys = curve::loadSecretKey(secret_file);
    if (keys) {
      // In insecure mode the key is checked but not used: plaintext is what both ends agreed.
      if (!config.insecure) t.keys = std::move(keys).value();
    } else {
      curve_table->error("secret_key_file", keys.error().message);
    }
  }
  curve_table->finish();
}

Result<AgentConfig> fromDocument(const ConfigDocument& doc) {
  ConfigErrors errors;
  AgentConfig config;
  config.source = doc.file();
  ConfigTable root = doc.root(errors);

  if (!root.get("node", config.node_id)) config.node_id = hostName();
  if (!validIdentifier(config.node_id))
    root.error("node", "must be 1..64 bytes of text without control characters (default: the host name)");
  root.get("region", config.region, Presence::required);
  if (root.has("region") && !validIdentifier(config.region))
    root.error("region", "must be 1..64 bytes of text without control characters");
  root.getDuration("heartbeat_interval", config.heartbeat_interval, Presence::optional, milliseconds{100},
                   std::chrono::minutes{1});
  readTransport(root, config);
  root.get("control_socket", config.control_socket);
  readControlGroups(root, config.control_group, config.admin_group);
  if (std::string format; root.getEnum("log_format", format, {"text", "json"}))
    parseLogFormat(format, config.log_format);

  if (auto http = root.table("http")) {
    if (http->get("listen", config.http_listen) && !isIpAddress(config.http_listen))
      http->error("listen", "\"" + config.http_listen + "\" is not an IPv4 or IPv6 address");
    config.http_details = config.http_listen.rfind("127.", 0) == 0 || config.http_listen == "::1";
    http->get("details", config.http_details);
    int64_t port = config.http_port;
    http->get("port", port, Presence::optional, 0, 65535);  // 0: any free port (tests)
    config.http_port = static_cast<uint16_t>(port);
    http->finish();
  }
  root.get("journal", config.journal);
  milliseconds etcd_timeout{0};
  if (auto t = root.table("etcd")) {
    etcd::StoreConfig store;
    etcd::readStoreConfig(*t, store);
    t->getDuration("timeout", etcd_timeout, Presence::optional, milliseconds{50}, milliseconds{30000});
    t->finish();
    config.etcd = store;
  }
  for (ConfigTable& t : root.tables("check")) readCheck(t, config);
  milliseconds shortest_ttl = std::chrono::minutes{1};
  for (const ConfiguredCheck& c : config.checks) {
    if (c.lease) shortest_ttl = std::min(shortest_ttl, c.lease->ttl);
  }
  const bool leases = std::any_of(config.checks.begin(), config.checks.end(),
                                  [](const ConfiguredCheck& c) { return c.lease.has_value(); });
  if (leases && !config.etcd) root.error("etcd", "a check with a lease needs an [etcd] table: the lease lives there");
  if (config.etcd) {
    // Default: 1 s, or a third of the shortest lease, so one slow request never outlives a renewal period.
    config.etcd->options.timeout =
        etcd_timeout.count() > 0 ? etcd_timeout : std::min(milliseconds{1000}, shortest_ttl / 3);
    if (leases && config.etcd->options.timeout * 3 > shortest_ttl)
      root.error("etcd", "timeout must be at most a third of the shortest lease ttl");
  }
  root.finish();

  if (!errors.empty()) return makeError("config", errors.format());
  return config;
}

}  // namespace

std::string AgentConfig::leaseSignature() const {
  std::string s = journal + "|" + node_id + "|" + region;
  if (etcd) {
    s += "|" + etcd->cluster + "|" + etcd->password_file + "|" + etcd->options.ca_file + "|" + etcd->options.cert_file +
         "|" + etcd->options.key_file + "|" + etcd->options.username + "|" +
         std::to_string(etcd->options.timeout.count());
    for (const std::string& e : etcd->options.endpoints) s += "|" + e;
  }
  for (const ConfiguredCheck& c : checks) {
    if (!c.lease) continue;
    const LeaseSettings& l = *c.lease;
    s += "|" + c.settings.name + ":" + l.database + ":" + l.endpoint + ":" + std::to_string(l.ttl.count()) + ":" +
         std::to_string(l.margin.count()) + ":" + std::to_string(l.fence_timeout.count());
    for (const std::string& a : l.fence_command) s += ":" + a;
    s += ":";
    for (const std::string& a : l.unfence_command) s += ":" + a;
  }
  return s;
}

Result<AgentConfig> loadAgentConfig(const std::string& path) {
  auto doc = ConfigDocument::loadFile(path);
  if (!doc) return doc.error();
  return fromDocument(doc.value());
}

Result<AgentConfig> parseAgentConfig(std::string_view text, const std::string& source_name) {
  auto doc = ConfigDocument::parse(text, source_name);
  if (!doc) return doc.error();
  return fromDocument(doc.value());
}

}  // namespace hale::agent
