// exec: runs a command, as keepalived's notify scripts do, with the event in its environment:
//   HALE_EVENT (failover|failback) HALE_FROM HALE_TO HALE_REASON HALE_PLAN_ID HALE_STEP HALE_REQUEST_ID
//   HALE_FORCED (0|1)
//   command = ["/usr/local/bin/fence-region", "--region", "eu"]
// Exit 0: applied. Exit 75 (EX_TEMPFAIL): retryable. Any other exit, a signal or no such program:
// permanent. A timeout kills the command's whole process group and is retryable. The script must be
// idempotent per HALE_REQUEST_ID: after a crash the same step may be run again.
// The command runs under coreutils' timeout with the attempt's deadline, so it is bounded even when the
// aggregator itself is killed or stopped meanwhile: a new leader's takeover wait relies on that bound.

#include <csignal>
#include <cstdio>

#include "action_registry.h"
#include "subprocess.h"

namespace hale::aggregator {
namespace {

constexpr int kExitTempFail = 75;
constexpr int64_t kBackstopAfterMs = 100;

std::string firstLine(const std::string& s) {
  std::string line = s.substr(0, s.find('\n'));
  return line.substr(0, 200);
}

class ExecAction final : public Action {
 public:
  ExecAction(std::string program, std::vector<std::string> argv)
      : program_(std::move(program)), argv_(std::move(argv)), timeout_(findProgram("timeout")) {}

  ActionResult execute(const ActionRequest& r) override {
    std::vector<std::string> env = {
        "HALE_EVENT=" + r.event,
        "HALE_FROM=" + r.from,
        "HALE_TO=" + r.to,
        "HALE_REASON=" + r.reason,
        "HALE_PLAN_ID=" + std::to_string(r.plan_id),
        "HALE_STEP=" + std::to_string(r.step),
        "HALE_REQUEST_ID=" + r.request_id,
        std::string("HALE_FORCED=") + (r.forced ? "1" : "0"),
    };
    if (!r.alert_key.empty()) {
      env.push_back("HALE_ALERT_KEY=" + r.alert_key);
      env.push_back("HALE_OBSERVER=" + r.observer);
    }
    const SubprocessResult p =
        runSubprocess(timeout_.empty() ? program_ : timeout_, bounded(r), env, r.deadline, r.cancel, *r.clock);
    // 137: coreutils' timeout killed it, a hair after our own deadline would have.
    const bool backstop = !timeout_.empty() && p.exited && p.exit_code == 128 + SIGKILL;
    if (p.timed_out || backstop) return {ActionStatus::retryable, "timed out; killed " + program_ + "'s process group"};
    if (!p.started) return {ActionStatus::permanent, "could not execute " + program_};
    if (!p.exited) return {ActionStatus::permanent, program_ + " killed by signal " + std::to_string(p.signal)};
    const std::string out = firstLine(p.output);
    if (p.exit_code == 0) return {ActionStatus::applied, out};
    const std::string detail = "exit " + std::to_string(p.exit_code) + (out.empty() ? "" : ": " + out);
    return {p.exit_code == kExitTempFail ? ActionStatus::retryable : ActionStatus::permanent, detail};
  }

 private:
  // `timeout -s KILL SECONDS program args...`: the bound enforced by a process that outlives us.
  std::vector<std::string> bounded(const ActionRequest& r) const {
    if (timeout_.empty()) return argv_;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(r.deadline - r.clock->steadyNow());
    // Our own kill at the deadline comes first; this one is the backstop for when we cannot (stopped, dead).
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.3f",
                  static_cast<double>(std::max<int64_t>(1, left.count()) + kBackstopAfterMs) / 1000.0);
    std::vector<std::string> out = {"timeout", "-s", "KILL", secs, program_};
    out.insert(out.end(), argv_.begin() + (argv_.empty() ? 0 : 1), argv_.end());
    return out;
  }

  std::string program_;
  std::vector<std::string> argv_;
  std::string timeout_;  // coreutils' timeout, when installed
};

}  // namespace

std::unique_ptr<Action> makeExecAction(ConfigTable& t, const ActionEnvironment&) {
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
