// exec: runs a command, as keepalived's notify scripts do, with the event in its environment:
//   HALE_EVENT (failover|failback) HALE_FROM HALE_TO HALE_REASON HALE_PLAN_ID HALE_STEP HALE_REQUEST_ID
//   HALE_FORCED (0|1)
//   command = ["/usr/local/bin/fence-region", "--region", "eu"]
// Exit 0: applied. Exit 75 (EX_TEMPFAIL): retryable. Any other exit, a signal or no such program:
// permanent. A timeout kills the command's whole process group and is retryable. The script must be
// idempotent per HALE_REQUEST_ID: after a crash the same step may be run again.

#include "action_registry.h"
#include "subprocess.h"

namespace hale::aggregator {
namespace {

constexpr int kExitTempFail = 75;

std::string firstLine(const std::string& s) {
  std::string line = s.substr(0, s.find('\n'));
  return line.substr(0, 200);
}

class ExecAction final : public Action {
 public:
  ExecAction(std::string program, std::vector<std::string> argv)
      : program_(std::move(program)), argv_(std::move(argv)) {}

  ActionResult execute(const ActionRequest& r) override {
    const std::vector<std::string> env = {
        "HALE_EVENT=" + r.event,
        "HALE_FROM=" + r.from,
        "HALE_TO=" + r.to,
        "HALE_REASON=" + r.reason,
        "HALE_PLAN_ID=" + std::to_string(r.plan_id),
        "HALE_STEP=" + std::to_string(r.step),
        "HALE_REQUEST_ID=" + r.request_id,
        std::string("HALE_FORCED=") + (r.forced ? "1" : "0"),
    };
    const SubprocessResult p = runSubprocess(program_, argv_, env, r.deadline, r.cancel, *r.clock);
    if (p.timed_out) return {ActionStatus::retryable, "timed out; killed " + program_ + "'s process group"};
    if (!p.started) return {ActionStatus::permanent, "could not execute " + program_};
    if (!p.exited) return {ActionStatus::permanent, program_ + " killed by signal " + std::to_string(p.signal)};
    const std::string out = firstLine(p.output);
    if (p.exit_code == 0) return {ActionStatus::applied, out};
    const std::string detail = "exit " + std::to_string(p.exit_code) + (out.empty() ? "" : ": " + out);
    return {p.exit_code == kExitTempFail ? ActionStatus::retryable : ActionStatus::permanent, detail};
  }

 private:
  std::string program_;
  std::vector<std::string> argv_;
};

}  // namespace

std::unique_ptr<Action> makeExecAction(ConfigTable& t) {
  std::vector<std::string> command;
  if (!t.get("command", command, Presence::required)) return nullptr;
  const std::string program = command.empty() ? "" : findProgram(command[0]);
  if (program.empty()) {
    t.error("command", command.empty() ? "must name a program" : "\"" + command[0] + "\" is not an executable file");
    return nullptr;
  }
  return std::make_unique<ExecAction>(program, std::move(command));
}

}  // namespace hale::aggregator
