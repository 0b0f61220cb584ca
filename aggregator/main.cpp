// hale-aggregator: ingests heartbeats, keeps node and region state, decides with a pure policy and runs
// failover plans with a SQLite journal. Signals: SIGTERM/SIGINT stop (a running plan resumes at the next
// start). A configuration change needs a restart: SIGHUP only says so.

#include <iostream>
#include <string>
#include <vector>

#include "aggregator_config.h"
#include "cli_args.h"
#include "daemon.h"
#include "engine.h"
#include "hale/version.h"
#include "http_client.h"
#include "log.h"
#include "mysql_client.h"
#include "pg_client.h"
#include "run_guarded.h"

namespace {

constexpr const char* kDefaultConfig = "/etc/hale/aggregator.toml";

// Every client library, loaded now (at start and by --check-config): a failover plan must not find one
// missing half-way through its steps. What is missing, one message each.
std::vector<std::string> missingDrivers() {
  std::vector<std::string> missing;
  for (const hale::Result<void>& driver :
       {hale::requirePgDriver(), hale::requireMysqlDriver(), hale::requireHttpDriver()}) {
    if (!driver) missing.push_back(driver.error().message);
  }
  return missing;
}

constexpr const char* kUsage = R"(usage: hale-aggregator [options]

The hale aggregator: ingests heartbeats from hale-agents, keeps node and region state, decides with a
pure failover policy and runs failover plans, journaling every step.

options:
  --config PATH      configuration file (default /etc/hale/aggregator.toml)
  --check-config     validate the configuration, print every error, exit 0 (valid) or 2 (invalid)
  --log-level LEVEL  debug, info, warn or error (default info)
  --help             this text
  --version          print the version

signals: SIGTERM/SIGINT stop (a running plan resumes at the next start); restart to apply a new config.
)";

int run(int argc, char** argv) {
  auto parsed = hale::CliArgs::parse(argc, argv, {"help", "version", "check-config"}, {"config", "log-level"});
  if (!parsed) {
    std::cerr << "hale-aggregator: " << parsed.error().message << "\n(see hale-aggregator --help)\n";
    return hale::kExitUsage;
  }
  const hale::CliArgs& args = parsed.value();
  if (args.has("help")) {
    std::cout << kUsage;
    return hale::kExitOk;
  }
  if (args.has("version")) {
    std::cout << "hale-aggregator " << hale::kVersion << "\n";
    return hale::kExitOk;
  }
  if (!args.positional().empty()) {
    std::cerr << "hale-aggregator: unexpected argument \"" << args.positional()[0] << "\"\n";
    return hale::kExitUsage;
  }
  if (auto level = args.value("log-level")) {
    hale::LogLevel l;
    if (!hale::parseLogLevel(*level, l)) {
      std::cerr << "hale-aggregator: --log-level must be debug, info, warn or error\n";
      return hale::kExitUsage;
    }
    hale::setLogLevel(l);
  }
  const std::string config_path = args.valueOr("config", kDefaultConfig);
  auto config = hale::aggregator::loadAggregatorConfig(config_path);
  if (args.has("check-config")) {
    if (!config) {
      std::cerr << config.error().message;
      if (config.error().message.empty() || config.error().message.back() != '\n') std::cerr << "\n";
      return hale::kExitUnavailable;
    }
    if (const std::vector<std::string> missing = missingDrivers(); !missing.empty()) {
      for (const std::string& m : missing) std::cerr << config_path << ": " << m << "\n";
      return hale::kExitUnavailable;
    }
    std::cout << config_path << ": valid (" << config.value().regions.size() << " regions, "
              << config.value().plans.size() << " plans, " << config.value().actions.size() << " actions)\n";
    if (config.value().coordination.mode == hale::aggregator::CoordinationConfig::Mode::none) {
      std::cout << config_path
                << ": warning: coordination = \"none\": this aggregator decides alone; a network path cut between it "
                   "and a healthy region can fail that region over, and a second aggregator would act on its own "
                   "(use coordination = \"etcd\" with several observers)\n";
    }
    if (config.value().ingest.insecure) {
      std::cout << config_path
                << ": warning: insecure = true: heartbeats are plaintext and unauthenticated; anyone who reaches "
                   "listen can speak for any node (use [curve] and [agent_keys])\n";
    }
    return hale::kExitOk;
  }
  if (!config) {
    hale::logError("-config-invalid", config.error().message);
    return hale::kExitUnavailable;
  }

  hale::setLogFormat(config.value().log_format);
  hale::prepareDaemonProcess();  // before any thread starts
  if (const std::vector<std::string> missing = missingDrivers(); !missing.empty()) {
    for (const std::string& m : missing) hale::logError("-driver-missing", m);
    return hale::kExitUnavailable;
  }
  hale::aggregator::Engine engine(std::move(config).value());
  if (auto started = engine.start(); !started) {
    hale::logError("-aggregator-start-failed", started.error().message);
    engine.stop();
    return hale::kExitUnavailable;
  }
  hale::serveUntilStopped(
      [] { hale::logWarn("-reload-unsupported", "the aggregator applies a new configuration on restart"); });
  const hale::StopDeadline deadline;
  engine.stop();
  return hale::kExitOk;
}

}  // namespace

int main(int argc, char** argv) { return hale::runGuarded(run, argc, argv); }
