#include "hale_processes.h"

#include <stdexcept>

#include <toml++/toml.h>

#include "curve_ring.h"
#include "http_client.h"
#include "ports.h"

namespace hale::test {

using std::chrono::milliseconds;

namespace {

bool saysInsecure(const std::string& config) { return config.find("insecure = true") != std::string::npos; }

// The nodes the [[region]] tables of `body` list.
std::vector<std::string> listedNodes(const std::string& body) {
  std::vector<std::string> out;
  try {
    const toml::table doc = toml::parse(body);
    if (const toml::array* regions = doc["region"].as_array()) {
      for (const toml::node& r : *regions) {
        const toml::array* nodes = r.as_table() != nullptr ? (*r.as_table())["nodes"].as_array() : nullptr;
        if (nodes == nullptr) continue;
        for (const toml::node& n : *nodes) {
          if (auto v = n.value<std::string>()) out.push_back(*v);
        }
      }
    }
  } catch (const toml::parse_error&) {
    // Not ours to judge: the aggregator's own --check-config says what is wrong with it.
  }
  return out;
}

}  // namespace

const char* aggregatorBinary() { return HALE_AGGREGATOR_BIN; }
const char* agentBinary() { return HALE_AGENT_BIN; }
const char* halectlBinary() { return HALECTL_BIN; }

CommandResult halectl(const std::string& socket, std::vector<std::string> args) {
  std::vector<std::string> argv = {HALECTL_BIN, "--socket", socket};
  argv.insert(argv.end(), args.begin(), args.end());
  return runCommand(SpawnOptions{.argv = argv}, milliseconds{5000});
}

AggregatorProcess::AggregatorProcess(const TempDir& dir, const std::string& body, const std::string& name,
                                     const std::vector<std::string>& extra_hosts, const std::string& top,
                                     std::vector<std::string> wrapper)
    : dir_(dir), name_(name), wrapper_(std::move(wrapper)) {
  port_ = freeLoopbackPort();
  endpoint_ = "tcp://127.0.0.1:" + std::to_string(port_);
  std::string listen = "\"" + endpoint_ + "\"";
  for (const std::string& host : extra_hosts) listen += ", \"" + endpointOn(host) + "\"";
  http_port_ = freeLoopbackPort();
  // CurveZMQ unless the test asks for plaintext: a server key of its own, a key for every listed node.
  std::string security;
  if (!saysInsecure(top + body)) {
    const curve::Keypair server = curveKeys(dir, "aggregator-" + name);
    rememberServerKey(endpoint_, server.public_key);
    for (const std::string& host : extra_hosts) rememberServerKey(endpointOn(host), server.public_key);
    security = "\n[curve]\nsecret_key_file = \"" + curveSecretFile(dir, "aggregator-" + name) + "\"\n[agent_keys]\n";
    for (const std::string& node : listedNodes(body))
      security += "\"" + node + "\" = \"" + curveKeys(dir, "agent-" + node).public_key + "\"\n";
  }
  config_ = dir.writeFile(
      name + ".toml", top + "listen = [" + listen + "]\ncontrol_socket = \"" + socket() + "\"\njournal = \"" +
                          journalPath() + "\"\n[http]\nlisten = \"127.0.0.1\"\nport = " + std::to_string(http_port_) +
                          "\n" + body + security);
}

std::string AggregatorProcess::metrics() const {
  if (!wrapper_.empty()) {
    // In a network namespace of its own, its loopback listener is reached from inside: curl there.
    std::vector<std::string> argv = wrapper_;
    argv.insert(argv.end(),
                {"curl", "-sf", "--max-time", "2", "http://127.0.0.1:" + std::to_string(http_port_) + "/metrics"});
    const CommandResult r = runCommand(SpawnOptions{.argv = argv}, milliseconds{5000});
    return r.exit_code == 0 ? r.output : std::string();
  }
  HttpRequest request;
  request.url = "http://127.0.0.1:" + std::to_string(http_port_) + "/metrics";
  request.timeout = std::chrono::milliseconds{2000};
  const HttpResponse response = httpPerform(request);
  return response.status == 200 ? response.body : std::string();
}

void AggregatorProcess::start() {
  std::vector<std::string> argv = wrapper_;
  argv.insert(argv.end(), {HALE_AGGREGATOR_BIN, "--config", config_});
  argv.insert(argv.end(), args_.begin(), args_.end());
  process_ = std::make_unique<ChildProcess>(SpawnOptions{.argv = argv, .log_path = logPath()});
  if (!waitFor([&] { return !process_->running() || halectl({"regions"}).exit_code == 0; }, milliseconds{10000}) ||
      !process_->running()) {
    throw std::runtime_error(name_ + " did not start:\n" + process_->logTail());
  }
}

void AggregatorProcess::kill() {
  if (process_) process_->stop(SIGKILL, milliseconds{2000});
}
void AggregatorProcess::stop() {
  if (process_) process_->stop(SIGTERM, milliseconds{5000});
}
void AggregatorProcess::signal(int sig) const {
  if (process_) process_->signalGroup(sig);
}

nlohmann::json AggregatorProcess::json(std::vector<std::string> args) const {
  args.emplace_back("--json");
  const CommandResult r = halectl(args);
  return nlohmann::json::parse(r.output, nullptr, false);
}

AgentProcess::AgentProcess(const TempDir& dir, const std::string& node, const std::string& region,
                           const std::vector<std::string>& aggregators, const std::string& body,
                           std::vector<std::string> wrapper)
    : dir_(dir), node_(node), wrapper_(std::move(wrapper)) {
  http_port_ = freeLoopbackPort();
  std::string transport;
  std::string trailing_tables;
  if (saysInsecure(body)) {
    std::string list;
    for (const std::string& a : aggregators) list += (list.empty() ? "\"" : ", \"") + a + "\"";
    transport = "aggregators = [" + list + "]\n";
  } else {
    curveKeys(dir, "agent-" + node);
    std::string tables = "\n[curve]\nsecret_key_file = \"" + curveSecretFile(dir, "agent-" + node) + "\"\n";
    for (const std::string& a : aggregators) {
      const std::string key = serverKeyAt(a);
      if (key.empty())
        throw std::runtime_error("agent " + node + ": no aggregator key known for " + a +
                                 " (start its AggregatorProcess first, or say insecure = true)");
      tables += "[[aggregator]]\nendpoint = \"" + a + "\"\npublic_key = \"" + key + "\"\n";
    }
    trailing_tables = tables;
  }
  config_ = dir.writeFile(node + ".toml", "node = \"" + node + "\"\nregion = \"" + region + "\"\n" + transport +
                                              "control_socket = \"" + socket() + "\"\n" + body +
                                              "\n[http]\nlisten = \"127.0.0.1\"\nport = " + std::to_string(http_port_) +
                                              "\n" + trailing_tables);
}

void AgentProcess::start() {
  std::vector<std::string> argv = wrapper_;
  argv.insert(argv.end(), {HALE_AGENT_BIN, "--config", config_});
  process_ = std::make_unique<ChildProcess>(SpawnOptions{.argv = argv, .log_path = dir_.path() + "/" + node_ + ".log"});
  if (!waitFor([&] { return !process_->running() || halectl(socket(), {"status"}).exit_code != 2; },
               milliseconds{10000}) ||
      !process_->running()) {
    throw std::runtime_error("agent " + node_ + " did not start:\n" + process_->logTail());
  }
}

void AgentProcess::kill() {
  if (process_) process_->stop(SIGKILL, milliseconds{2000});
}
void AgentProcess::signal(int sig) const {
  if (process_) process_->signalGroup(sig);
}

}  // namespace hale::test
