#include "agent_config.h"

#include <unistd.h>

#include <algorithm>
#include <climits>

#include "check_registry.h"
#include "heartbeat.h"

namespace hale::agent {
namespace {

using std::chrono::milliseconds;

std::string hostName() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return {};
  return buf;
}

bool validIdentifier(const std::string& s) { return !s.empty() && s.size() <= heartbeat::kMaxIdBytes; }

bool validEndpoint(const std::string& e) {
  // ZeroMQ checks the rest when connecting; catch the common slips here, with a line number.
  if (e.rfind("ipc://", 0) == 0) return e.size() > 6;
  if (e.rfind("tcp://", 0) != 0) return false;
  const size_t colon = e.rfind(':');
  return colon > 6 && colon + 1 < e.size() &&
         std::all_of(e.begin() + static_cast<long>(colon) + 1, e.end(), [](char c) { return c >= '0' && c <= '9'; });
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
    t.error("name", "must be 1.." + std::to_string(heartbeat::kMaxIdBytes) + " bytes");
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
  t.finish();
  if (check && ok) config.checks.push_back(ConfiguredCheck{s, std::shared_ptr<Check>(std::move(check))});
}

Result<AgentConfig> fromDocument(const ConfigDocument& doc) {
  ConfigErrors errors;
  AgentConfig config;
  config.source = doc.file();
  ConfigTable root = doc.root(errors);

  if (!root.get("node", config.node_id)) config.node_id = hostName();
  if (!validIdentifier(config.node_id)) root.error("node", "must be 1..64 bytes (default: the host name)");
  root.get("region", config.region, Presence::required);
  if (root.has("region") && !validIdentifier(config.region)) root.error("region", "must be 1..64 bytes");
  root.getDuration("heartbeat_interval", config.heartbeat_interval, Presence::optional, milliseconds{100},
                   std::chrono::minutes{1});
  if (root.get("aggregators", config.aggregators)) {
    for (const std::string& e : config.aggregators) {
      if (!validEndpoint(e))
        root.error("aggregators", "\"" + e + "\" is not a ZeroMQ endpoint (tcp://host:port or ipc://path)");
    }
  }
  root.get("control_socket", config.control_socket);

  if (auto http = root.table("http")) {
    http->get("listen", config.http_listen);
    int64_t port = config.http_port;
    http->get("port", port, Presence::optional, 0, 65535);  // 0: any free port (tests)
    config.http_port = static_cast<uint16_t>(port);
    http->finish();
  }
  for (ConfigTable& t : root.tables("check")) readCheck(t, config);
  root.finish();

  if (!errors.empty()) return makeError("config", errors.format());
  return config;
}

}  // namespace

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
