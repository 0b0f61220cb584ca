// The operator's fence commands (fencer.h), run like exec checks: own process group, minimal environment,
// killed at the deadline.

#include "checks/check_util.h"
#include "fencer.h"
#include "subprocess.h"

namespace hale::agent {
namespace {

class CommandFencer final : public Fencer {
 public:
  CommandFencer(std::vector<std::string> fence, std::vector<std::string> unfence)
      : fence_(std::move(fence)), unfence_(std::move(unfence)) {}

  Result<std::string> fence(SteadyTime deadline, const Clock& clock) override { return run(fence_, deadline, clock); }

  Result<std::string> unfence(SteadyTime deadline, const Clock& clock) override {
    if (unfence_.empty()) return makeError("unfence", "no unfence_command configured: lift the fence by hand");
    return run(unfence_, deadline, clock);
  }

 private:
  static Result<std::string> run(const std::vector<std::string>& argv, SteadyTime deadline, const Clock& clock) {
    const std::atomic<bool> never{false};
    const SubprocessResult r = runSubprocess(argv.front(), argv, {}, deadline, &never, clock);
    const std::string output = firstLine(r.output, 150);
    if (!r.started) return makeError("command", argv.front() + " could not run: " + output);
    if (r.timed_out) return makeError("timeout", argv.front() + " killed at its deadline");
    if (!r.exited || r.exit_code != 0) {
      return makeError("command",
                       argv.front() + " failed (" +
                           (r.exited ? "exit " + std::to_string(r.exit_code) : "signal " + std::to_string(r.signal)) +
                           (output.empty() ? "" : ": " + output) + ")");
    }
    return argv.front() + " ok" + (output.empty() ? "" : ": " + output);
  }

  std::vector<std::string> fence_;
  std::vector<std::string> unfence_;
};

}  // namespace

std::unique_ptr<Fencer> makeCommandFencer(std::vector<std::string> fence, std::vector<std::string> unfence) {
  return std::make_unique<CommandFencer>(std::move(fence), std::move(unfence));
}

}  // namespace hale::agent
