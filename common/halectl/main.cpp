// halectl: the operator's command-line client for hale-agent and hale-aggregator, over their local
// control sockets (common/control_protocol.h). Exit codes: 0 success (or healthy), 1 the daemon refused,
// reported failure or is not healthy, 2 the daemon could not be reached, 64 wrong command line.

#include <iostream>
#include <string>

#include "commands.h"
#include "daemon.h"
#include "duration.h"
#include "hale/version.h"

namespace {

using hale::cli::Command;

// Every command, in the order `--help` lists them. Adding one: a line here and its handler.
constexpr Command kCommands[] = {
    {"status", "", "the local agent: node status and a line per check", hale::cli::kAgentSocket,
     hale::cli::agentStatus},
    {"checks", "", "the local agent's checks in detail (thresholds, counters)", hale::cli::kAgentSocket,
     hale::cli::agentChecks},
    {"active", "", "the active region and each database's primary and lease holder, from etcd", hale::cli::kAgentSocket,
     hale::cli::agentActive},
    {"unfence", "[--database D]", "lift this node's fence now; automatic fencing waits for the lease",
     hale::cli::kAgentSocket, hale::cli::agentUnfence},
    {"regions", "", "the aggregator's regions: verdicts and node counts", hale::cli::kAggregatorSocket,
     hale::cli::aggregatorRegions},
    {"nodes", "[--region R]", "the aggregator's nodes and their health", hale::cli::kAggregatorSocket,
     hale::cli::aggregatorNodes},
    {"journal", "[--limit N]", "the newest journal events (default 50)", hale::cli::kAggregatorSocket,
     hale::cli::aggregatorJournal},
    {"plans", "[--limit N]", "the newest failover plans and their steps", hale::cli::kAggregatorSocket,
     hale::cli::aggregatorPlans},
    {"failover", "--to R [--force]", "fail over to region R now (--force skips the safety checks)",
     hale::cli::kAggregatorSocket, hale::cli::aggregatorFailover},
    {"failback", "[--force]", "return to the home region", hale::cli::kAggregatorSocket, hale::cli::aggregatorFailback},
    {"approve", "<plan-id>", "run a plan that awaits approval", hale::cli::kAggregatorSocket,
     hale::cli::aggregatorApprove},
    {"reject", "<plan-id>", "refuse a plan that awaits approval (no failover for this outage)",
     hale::cli::kAggregatorSocket, hale::cli::aggregatorReject},
    {"pause", "", "stop automatic failover decisions (observing goes on)", hale::cli::kAggregatorSocket,
     hale::cli::aggregatorPause},
    {"resume", "", "resume automatic decisions; acknowledges a failed plan", hale::cli::kAggregatorSocket,
     hale::cli::aggregatorResume},
    {"keygen", "<path>", "write a CurveZMQ keypair: <path>.key (secret, 0600) and <path>.pub", "", hale::cli::keygen},
    {"raw", "<command> [json-args]", "send any control command, print the JSON result (\"raw help\" lists them)",
     hale::cli::kAgentSocket, hale::cli::rawCall},
};

void printUsage() {
  std::cout << "usage: halectl [options] <command> [arguments]\n\n"
               "Talks to the local hale-agent or hale-aggregator over its control socket.\n\ncommands:\n";
  for (const Command& c : kCommands) {
    std::string head = std::string(c.name) + (c.usage[0] != '\0' ? " " + std::string(c.usage) : "");
    std::cout << "  " << head << std::string(head.size() < 28 ? 28 - head.size() : 1, ' ') << c.summary << "\n";
  }
  std::cout << "  version                     print halectl's version\n\n"
               "options:\n"
               "  --socket PATH     control socket (default: the command's daemon: /run/hale/agent.sock for\n"
               "                    status, checks, active and unfence, /run/hale/aggregator.sock for the others)\n"
               "  --timeout D       how long to wait for an answer (default 5s)\n"
               "  --json            machine-readable output\n"
               "  --help            this text\n"
               "  --version         print the version\n\n"
               "exit codes: 0 success or healthy, 1 refused, failed or not healthy, 2 daemon unreachable, "
               "64 usage error\n";
}

int usageError(const std::string& message) {
  std::cerr << "halectl: " << message << "\n(see halectl --help)\n";
  return hale::kExitUsage;
}

int run(int argc, char** argv) {
  auto parsed = hale::CliArgs::parse(argc, argv, {"help", "version", "json", "force"},
                                     {"socket", "timeout", "to", "region", "limit", "database"});
  if (!parsed) return usageError(parsed.error().message);
  const hale::CliArgs& args = parsed.value();
  if (args.has("help")) {
    printUsage();
    return hale::kExitOk;
  }
  if (args.has("version") || (!args.positional().empty() && args.positional()[0] == "version")) {
    std::cout << "halectl " << hale::kVersion << "\n";
    return hale::kExitOk;
  }
  if (args.positional().empty()) return usageError("no command given");
  const auto timeout = hale::parseDuration(args.valueOr("timeout", "5s"));
  if (!timeout || timeout->count() <= 0) return usageError("--timeout needs a duration such as 5s or 500ms");

  const std::string& name = args.positional()[0];
  for (const Command& c : kCommands) {
    if (name != c.name) continue;
    const hale::cli::Context ctx{args, args.valueOr("socket", c.default_socket), *timeout, args.has("json")};
    return c.run(ctx);
  }
  return usageError("unknown command \"" + name + "\"");
}

}  // namespace

int main(int argc, char** argv) { return hale::runGuarded(run, argc, argv); }
