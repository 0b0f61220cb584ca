// halectl: the operator's command-line client for hale-agent and hale-aggregator, over their local
// control sockets (common/control_protocol.h). Exit codes: 0 success, 1 the daemon answered with an
// error, 2 the daemon could not be reached or answered nonsense, 64 wrong command line.

#include <cstdio>
#include <iostream>
#include <string>

#include "cli_args.h"
#include "control_client.h"
#include "duration.h"
#include "hale/version.h"

namespace {

constexpr const char* kDefaultAgentSocket = "/run/hale/agent.sock";

constexpr const char* kUsage = R"(usage: halectl [options] <command> [arguments]

Talks to the local hale-agent or hale-aggregator over its control socket.

commands:
  raw <command> [json-args]   send one control-protocol command and print the JSON result
                              (e.g. "halectl raw help" lists what the daemon accepts)
  version                     print halectl's version

options:
  --socket PATH     control socket (default /run/hale/agent.sock)
  --timeout D       how long to wait for an answer (default 5s; units ms, s, m)
  --json            machine-readable output
  --help            this text
  --version         print the version

exit codes: 0 success, 1 the daemon refused or reported failure, 2 daemon unreachable, 64 usage error
)";

int usageError(const std::string& message) {
  std::cerr << "halectl: " << message << "\n(see halectl --help)\n";
  return hale::kExitUsage;
}

int runRaw(const hale::CliArgs& args, const std::string& socket, std::chrono::milliseconds timeout) {
  const auto& pos = args.positional();
  if (pos.size() < 2 || pos.size() > 3) return usageError("raw needs a command and optional JSON arguments");
  nlohmann::json call_args = nlohmann::json::object();
  if (pos.size() == 3) {
    call_args = nlohmann::json::parse(pos[2], nullptr, false);
    if (call_args.is_discarded() || !call_args.is_object()) return usageError("arguments must be a JSON object");
  }
  auto result = hale::control::call(socket, pos[1], call_args, timeout);
  if (!result) {
    const auto& e = result.error();
    if (args.has("json")) {
      std::cout << nlohmann::json{{"error", {{"code", e.code}, {"message", e.message}}}}.dump() << "\n";
    } else {
      std::cerr << "halectl: " << e.code << ": " << e.message << "\n";
    }
    const bool transport = e.code == "unreachable" || e.code == "timeout" || e.code == "bad_response";
    return transport ? hale::kExitUnavailable : hale::kExitFailure;
  }
  std::cout << (args.has("json") ? result.value().dump() : result.value().dump(2)) << "\n";
  return hale::kExitOk;
}

int run(int argc, char** argv) {
  auto parsed = hale::CliArgs::parse(argc, argv, {"help", "version", "json"}, {"socket", "timeout"});
  if (!parsed) return usageError(parsed.error().message);
  const hale::CliArgs& args = parsed.value();
  if (args.has("help")) {
    std::cout << kUsage;
    return hale::kExitOk;
  }
  if (args.has("version") || (!args.positional().empty() && args.positional()[0] == "version")) {
    std::cout << "halectl " << hale::kVersion << "\n";
    return hale::kExitOk;
  }
  if (args.positional().empty()) return usageError("no command given");

  const auto timeout = hale::parseDuration(args.valueOr("timeout", "5s"));
  if (!timeout || timeout->count() <= 0) return usageError("--timeout needs a duration such as 5s or 500ms");
  const std::string socket = args.valueOr("socket", kDefaultAgentSocket);

  const std::string& command = args.positional()[0];
  if (command == "raw") return runRaw(args, socket, *timeout);
  return usageError("unknown command \"" + command + "\"");
}

}  // namespace

int main(int argc, char** argv) {
  // Nothing may escape main unreported: an uncaught exception would abort without a word.
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "fatal: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "fatal: unknown exception\n";
  }
  return hale::kExitUnavailable;
}
