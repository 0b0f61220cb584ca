// hale-agent: the hale health agent. Runs checks, serves /healthz and /metrics, publishes heartbeats to
// the aggregators, answers halectl on a local socket. Signals: SIGTERM/SIGINT stop, SIGHUP reloads the
// configuration (an invalid one is refused and the running one kept).

#include <malloc.h>

#include <iostream>

#include "agent.h"
#include "cli_args.h"
#include "daemon.h"
#include "hale/version.h"
#include "log.h"
#include "run_guarded.h"

namespace {

constexpr const char* kDefaultConfig = "/etc/hale/agent.toml";

constexpr const char* kUsage = R"(usage: hale-agent [options]

The hale health agent: runs the configured checks, serves /healthz and /metrics, publishes heartbeats
to the aggregators and answers halectl on its status socket.

options:
  --config PATH      configuration file (default /etc/hale/agent.toml)
  --check-config     validate the configuration, print every error, exit 0 (valid) or 2 (invalid)
  --log-level LEVEL  debug, info, warn or error (default info)
  --help             this text
  --version          print the version

signals: SIGTERM/SIGINT stop; SIGHUP reloads the configuration (an invalid one is refused).
)";

int run(int argc, char** argv) {
  auto parsed = hale::CliArgs::parse(argc, argv, {"help", "version", "check-config"}, {"config", "log-level"});
  if (!parsed) {
    std::cerr << "hale-agent: " << parsed.error().message << "\n(see hale-agent --help)\n";
    return hale::kExitUsage;
  }
  const hale::CliArgs& args = parsed.value();
  if (args.has("help")) {
    std::cout << kUsage;
    return hale::kExitOk;
  }
  if (args.has("version")) {
    std::cout << "hale-agent " << hale::kVersion << "\n";
    return hale::kExitOk;
  }
  if (!args.positional().empty()) {
    std::cerr << "hale-agent: unexpected argument \"" << args.positional()[0] << "\"\n";
    return hale::kExitUsage;
  }
  if (auto level = args.value("log-level")) {
    hale::LogLevel l;
    if (!hale::parseLogLevel(*level, l)) {
      std::cerr << "hale-agent: --log-level must be debug, info, warn or error\n";
      return hale::kExitUsage;
    }
    hale::setLogLevel(l);
  }
  const std::string config_path = args.valueOr("config", kDefaultConfig);
  auto config = hale::agent::loadAgentConfig(config_path);
  if (args.has("check-config")) {
    if (!config) {
      std::cerr << config.error().message;
      if (config.error().message.empty() || config.error().message.back() != '\n') std::cerr << "\n";
      return hale::kExitUnavailable;
    }
    std::cout << config_path << ": valid (" << config.value().checks.size() << " checks)\n";
    if (config.value().insecure) {
      std::cout << config_path
                << ": warning: insecure = true: heartbeats go out plaintext and unauthenticated; anyone on the path "
                   "can read them and anyone who reaches the aggregator can forge them (use [curve] and "
                   "[[aggregator]] public_key)\n";
    }
    return hale::kExitOk;
  }
  if (!config) {
    hale::logError("-config-invalid", config.error().message);
    return hale::kExitUnavailable;
  }

  hale::LogFormat log_format = config.value().log_format;
  hale::setLogFormat(log_format);
  hale::prepareDaemonProcess();  // before any thread starts
  // One malloc arena for all threads: glibc gives every thread that allocates an arena of its own (eight
  // in this agent, 30 to 120 KB touched each) against lock contention it does not have; six probes a
  // second and the heartbeats allocate little, and /healthz runs on one thread (bench/agent_footprint.cpp:
  // anonymous memory, and /healthz beside nginx).
  mallopt(M_ARENA_MAX, 1);
  hale::agent::Agent agent;
  if (auto started = agent.start(std::move(config).value()); !started) {
    hale::logError("-agent-start-failed", started.error().message);
    agent.stop();
    return hale::kExitUnavailable;
  }
  hale::serveUntilStopped([&] {
    auto fresh = hale::agent::loadAgentConfig(config_path);
    // The reload's own lines come in the new format; a refused reload keeps the running one.
    const hale::LogFormat wanted = fresh ? fresh.value().log_format : log_format;
    hale::setLogFormat(wanted);
    auto applied = fresh ? agent.reload(std::move(fresh).value()) : hale::Result<void>(fresh.error());
    hale::setLogFormat(applied ? wanted : log_format);
    if (applied) log_format = wanted;
    if (!applied) {
      hale::logError("-config-reload-refused", "keeping the running configuration: " + applied.error().message);
      agent.countRefusedReload();
    }
  });
  const hale::StopDeadline deadline;
  agent.stop();
  return hale::kExitOk;
}

}  // namespace

int main(int argc, char** argv) { return hale::runGuarded(run, argc, argv); }
