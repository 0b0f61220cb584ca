#pragma once

// halectl's commands, registered in one table (main.cpp). A command gets the parsed command line and
// the connection settings, prints its result, and returns the process exit code.

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_args.h"

namespace hale::cli {

struct Context {
  const CliArgs& args;
  std::string socket;  // resolved: --socket, or the command's default daemon socket
  std::chrono::milliseconds timeout;
  bool json;
};

using CommandFn = int (*)(const Context& ctx);

struct Command {
  const char* name;
  const char* usage;  // arguments, e.g. "<command> [json-args]"
  const char* summary;
  const char* default_socket;
  CommandFn run;
};

inline constexpr const char* kAgentSocket = "/run/hale/agent.sock";
inline constexpr const char* kAggregatorSocket = "/run/hale/aggregator.sock";

// Either daemon: `status` renders whichever answered (agent_commands.cpp, aggregator_status.cpp).
int status(const Context& ctx);
int printAgentStatus(const nlohmann::json& s);
int printAggregatorStatus(const Context& ctx, const nlohmann::json& s);
// What holds automation or is not as it should be, one line each (aggregator_status.cpp).
std::vector<std::string> aggregatorAttention(const nlohmann::json& status);
void printCoordination(const nlohmann::json& coordination);
// A span of milliseconds for a table: "4.2s", "42s", "7m"; "-" when negative (unknown).
std::string duration(int64_t ms);
// Agent commands (agent_commands.cpp).
int agentChecks(const Context& ctx);
int agentActive(const Context& ctx);
int agentUnfence(const Context& ctx);
// Aggregator commands (aggregator_commands.cpp).
int aggregatorRegions(const Context& ctx);
int aggregatorNodes(const Context& ctx);
int aggregatorJournal(const Context& ctx);
int aggregatorPlans(const Context& ctx);
int aggregatorFailover(const Context& ctx);
int aggregatorFailback(const Context& ctx);
int aggregatorApprove(const Context& ctx);
int aggregatorReject(const Context& ctx);
int aggregatorPause(const Context& ctx);
int aggregatorResume(const Context& ctx);
// No daemon (keygen.cpp).
int keygen(const Context& ctx);
// Any daemon (raw.cpp).
int rawCall(const Context& ctx);

// Shared by commands: calls the daemon; on failure prints the error (JSON with --json) and sets `exit_code`.
bool callDaemon(const Context& ctx, const std::string& cmd, const nlohmann::json& args, nlohmann::json& result,
                int& exit_code);

}  // namespace hale::cli
