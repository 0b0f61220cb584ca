// halectl: the operator's command-line client for hale-agent and hale-aggregator, over their local
// control sockets (common/control_protocol.h). Exit codes: 0 success (or healthy), 1 the daemon refused,
// reported failure or is not healthy, 2 the daemon could not be reached, 64 wrong command line.

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "commands.h"
#include "duration.h"
#include "hale/version.h"
#include "run_guarded.h"

namespace {

using hale::cli::Command;

// Every command, in the order `--help` lists them. Adding one: a line here and its handler.
constexpr Command kCommands[] = {
    {"status", "", "the local agent's node and checks; where no agent runs (or with --socket), the aggregator's view",
     hale::cli::kAgentSocket, hale::cli::status},
    {"checks", "", "the local agent's checks in detail (thresholds, counters)", hale::cli::kAgentSocket,
     hale::cli::agentChecks},
    {"active", "", "the active region and each database's primary and lease holder, from etcd", hale::cli::kAgentSocket,
     hale::cli::agentActive},
    {"unfence", "[--database D]", "lift this node's fence now; automatic fencing waits for the lease",
     hale::cli::kAgentSocket, hale::cli::agentUnfence},
    {"regions", "", "the aggregator's regions: verdicts and node counts", hale::cli::kAggregatorSocket,
     hale::cli::aggregatorRegions},
    {"nodes", "[--region R] [--unknown]",
     "the aggregator's nodes and their health (--unknown: senders refused for who they say they are)",
     hale::cli::kAggregatorSocket, hale::cli::aggregatorNodes},
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
    {"keygen", "<path> [--group G]",
     "write a CurveZMQ keypair: <path>.key (secret, 0600; 0640 and group G with --group) and <path>.pub", "",
     hale::cli::keygen},
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
  std::cout << "  version                     print halectl's version\n"
               "  help [command]              this text, or one command's\n\n"
               "options:\n"
               "  --socket PATH     control socket (default: the command's daemon: /run/hale/agent.sock for\n"
               "                    status, checks, active and unfence, /run/hale/aggregator.sock for the others)\n"
               "  --timeout D       how long to wait for an answer (default 5s)\n"
               "  --json            machine-readable output\n"
               "  --help, -h        this text (after a command: that command's)\n"
               "  --version         print the version\n\n"
               "exit codes: 0 success or healthy, 1 refused, failed or not healthy, 2 daemon unreachable, "
               "64 usage error\n";
}

int usageError(const std::string& message) {
  std::cerr << "halectl: " << message << "\n(see halectl --help)\n";
  return hale::kExitUsage;
}

// The options that belong to some commands (--socket, --timeout, --json and --help belong to all): each is
// allowed only where the command's usage names it.
constexpr std::string_view kCommandOptions[] = {"force", "to", "region", "limit", "database", "unknown", "group"};

// What a command's usage line allows: its options ("--to R" -> "to") and how many arguments. The usage
// text is the one source, so help and behaviour cannot drift apart. (Missing arguments are the
// handlers' to say: they know what each one is.)
struct Shape {
  std::vector<std::string> options;
  size_t max_args = 0;
};

Shape shapeOf(std::string_view usage) {
  Shape shape;
  bool after_option = false;
  size_t start = 0;
  while (start < usage.size()) {
    size_t end = usage.find(' ', start);
    if (end == std::string_view::npos) end = usage.size();
    std::string_view word = usage.substr(start, end - start);
    start = end + 1;
    while (!word.empty() && (word.front() == '[' || word.back() == ']')) {
      word = word.front() == '[' ? word.substr(1) : word.substr(0, word.size() - 1);
    }
    if (word.empty()) continue;
    if (word.rfind("--", 0) == 0) {
      shape.options.emplace_back(word.substr(2));
      after_option = true;
      continue;
    }
    // An option's value placeholder ("R", "N", "D") follows it.
    if (after_option && std::all_of(word.begin(), word.end(), [](char c) { return std::isupper(c) != 0; })) {
      after_option = false;
      continue;
    }
    after_option = false;
    ++shape.max_args;
  }
  return shape;
}

void printCommandHelp(const Command& c) {
  std::cout << "usage: halectl " << c.name << (c.usage[0] != '\0' ? " " + std::string(c.usage) : "") << "\n  "
            << c.summary << "\n";
}

// Refuses what the command's usage does not allow: extra arguments, options it does not take.
std::string misuse(const Command& c, const hale::CliArgs& args) {
  const Shape shape = shapeOf(c.usage);
  const size_t given = args.positional().size() - 1;
  if (given > shape.max_args) {
    return std::string(c.name) +
           (shape.max_args == 0 ? " takes no arguments"
                                : " takes at most " + std::to_string(shape.max_args) + " argument(s)") +
           " (given: " + args.positional()[1 + shape.max_args] + ")";
  }
  for (const std::string_view option : kCommandOptions) {
    if (!args.has(option) && !args.value(option)) continue;
    if (std::find(shape.options.begin(), shape.options.end(), option) == shape.options.end()) {
      return std::string(c.name) + " does not take --" + std::string(option);
    }
  }
  return "";
}

const Command* findCommand(std::string_view name) {
  for (const Command& c : kCommands) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

int run(int argc, char** argv) {
  // "-h" is the one short option, an alias of --help.
  std::vector<const char*> words(argv, argv + argc);
  for (const char*& w : words) {
    if (std::string_view(w) == "--") break;  // after it, "-h" is an argument
    if (std::string_view(w) == "-h") w = "--help";
  }
  auto parsed = hale::CliArgs::parse(static_cast<int>(words.size()), words.data(),
                                     {"help", "version", "json", "force", "unknown"},
                                     {"socket", "timeout", "to", "region", "limit", "database", "group"});
  if (!parsed) return usageError(parsed.error().message);
  const hale::CliArgs& args = parsed.value();
  const std::vector<std::string>& pos = args.positional();
  // "help", "help COMMAND", "--help", "COMMAND --help".
  if (args.has("help") || (!pos.empty() && pos[0] == "help")) {
    const size_t at = !pos.empty() && pos[0] == "help" ? 1 : 0;
    if (pos.size() <= at) {
      printUsage();
      return hale::kExitOk;
    }
    if (pos[at] == "version" || pos[at] == "help") {
      std::cout << (pos[at] == "version" ? "usage: halectl version\n  print halectl's version\n"
                                         : "usage: halectl help [command]\n  the commands, or one command's usage\n");
      return hale::kExitOk;
    }
    const Command* c = findCommand(pos[at]);
    if (c == nullptr) return usageError("unknown command \"" + pos[at] + "\"");
    printCommandHelp(*c);
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
    if (const std::string wrong = misuse(c, args); !wrong.empty()) return usageError(wrong);
    std::string socket = args.valueOr("socket", c.default_socket);
    // `status` asks whichever daemon runs here: the agent, or on an aggregator's host the aggregator.
    if (!args.value("socket") && name == "status" && ::access(hale::cli::kAgentSocket, F_OK) != 0 &&
        ::access(hale::cli::kAggregatorSocket, F_OK) == 0) {
      socket = hale::cli::kAggregatorSocket;
    }
    const hale::cli::Context ctx{args, socket, *timeout, args.has("json")};
    return c.run(ctx);
  }
  return usageError("unknown command \"" + name + "\"");
}

}  // namespace

int main(int argc, char** argv) { return hale::runGuarded(run, argc, argv); }
