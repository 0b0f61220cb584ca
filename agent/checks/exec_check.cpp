// exec: a Nagios-compatible plugin.
//   command = ["/usr/lib/nagios/plugins/check_disk", "-w", "20%", "-c", "10%"]
// Exit 0 OK -> pass, 1 WARNING -> warn, 2 CRITICAL -> fail, 3 UNKNOWN or anything else -> error. The
// message is the first line of its output. The plugin runs in its own process group with stdin from
// /dev/null; at the timeout the whole group is killed, so children it forked cannot linger.

#include "check_util.h"
#include "factories.h"
#include "subprocess.h"

namespace hale::agent {
namespace {

class ExecCheck final : public Check {
 public:
  ExecCheck(std::string program, std::vector<std::string> argv)
      : program_(std::move(program)), argv_(std::move(argv)) {}

  CheckResult run(const CheckContext& ctx) noexcept override {
    try {
      const SubprocessResult r = runSubprocess(program_, argv_, {}, ctx.deadline, ctx.stopping, *ctx.clock);
      if (r.timed_out) return {Outcome::error, "timed out; killed the plugin's process group"};
      if (!r.started)
        return {Outcome::error, "could not execute " + program_ + (r.output.empty() ? "" : ": " + r.output)};
      if (!r.exited) return {Outcome::error, "plugin killed by signal " + std::to_string(r.signal)};
      const std::string message = firstLine(r.output);
      switch (r.exit_code) {
        case 0: return {Outcome::pass, message};
        case 1: return {Outcome::warn, message};
        case 2: return {Outcome::fail, message};
        default:
          return {Outcome::error, "exit " + std::to_string(r.exit_code) + (message.empty() ? "" : ": " + message)};
      }
    } catch (const std::exception& e) {
      return {Outcome::error, e.what()};
    }
  }

 private:
  std::string program_;
  std::vector<std::string> argv_;
};

}  // namespace

std::unique_ptr<Check> makeExecCheck(ConfigTable& t, const CheckSettings&) {
  std::vector<std::string> command;
  if (!t.get("command", command, Presence::required)) return nullptr;
  if (command.empty()) {
    t.error("command", "must name a program");
    return nullptr;
  }
  // Resolved now, so a missing plugin is a config error and the child never searches PATH after fork.
  std::string program = findProgram(command[0]);
  if (program.empty()) {
    t.error("command", "\"" + command[0] + "\" is not an executable file (absolute path or in PATH)");
    return nullptr;
  }
  return std::make_unique<ExecCheck>(std::move(program), std::move(command));
}

}  // namespace hale::agent
