// exec: a Nagios-compatible plugin.
//   command = ["/usr/lib/nagios/plugins/check_disk", "-w", "20%", "-c", "10%"]
// Exit 0 OK -> pass, 1 WARNING -> warn, 2 CRITICAL -> fail, 3 UNKNOWN or anything else -> error. The
// message is the first line of its output. The plugin runs in its own process group with stdin from
// /dev/null; at the timeout the whole group is killed, so children it forked cannot linger.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "check_util.h"
#include "factories.h"

extern char** environ;

namespace hale::agent {
namespace {

constexpr size_t kMaxOutput = 4096;  // kept from the plugin's output; the rest is read and dropped

// Resolved when the config is loaded, so the child only calls async-signal-safe functions after fork.
std::string resolveProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin");
  for (std::string d; std::getline(dirs, d, ':');) {
    std::string candidate = d + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

class ExecCheck final : public Check {
 public:
  ExecCheck(std::string program, std::vector<std::string> argv)
      : program_(std::move(program)), argv_(std::move(argv)) {}

  CheckResult run(const CheckContext& ctx) noexcept override {
    std::vector<char*> argv;
    for (std::string& a : argv_) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return {Outcome::error, std::string("pipe: ") + std::strerror(errno)};
    const int null_in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);
      ::dup2(null_in, STDIN_FILENO);
      ::dup2(out[1], STDOUT_FILENO);
      ::dup2(out[1], STDERR_FILENO);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);  // the agent blocks SIGTERM/SIGHUP; the plugin must not
      ::execve(program_.c_str(), argv.data(), environ);
      ::_exit(127);
    }
    ::close(out[1]);
    if (null_in >= 0) ::close(null_in);
    if (pid < 0) {
      ::close(out[0]);
      return {Outcome::error, std::string("fork: ") + std::strerror(errno)};
    }
    ::setpgid(pid, pid);  // also here, so the group exists before the kill below can need it

    std::string output;
    bool timed_out = false;
    char buf[1024];
    for (;;) {
      const short ev = pollUntil(out[0], POLLIN, ctx);
      if (ev == 0) {
        timed_out = true;
        break;
      }
      const ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // EOF: the plugin and everything sharing its output are done
      output.append(buf, std::min(static_cast<size_t>(n), kMaxOutput - std::min(kMaxOutput, output.size())));
    }
    ::close(out[0]);
    if (timed_out) ::kill(-pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    ::kill(-pid, SIGKILL);  // a child that closed its output and stayed behind
    if (timed_out) return {Outcome::error, "timed out; killed the plugin's process group"};
    if (!WIFEXITED(status)) return {Outcome::error, "plugin killed by signal " + std::to_string(WTERMSIG(status))};
    const std::string message = firstLine(output);
    switch (WEXITSTATUS(status)) {
      case 0: return {Outcome::pass, message};
      case 1: return {Outcome::warn, message};
      case 2: return {Outcome::fail, message};
      case 127: return {Outcome::error, "could not execute " + program_};
      default:
        return {Outcome::error,
                "exit " + std::to_string(WEXITSTATUS(status)) + (message.empty() ? "" : ": " + message)};
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
  std::string program = resolveProgram(command[0]);
  if (program.empty()) {
    t.error("command", "\"" + command[0] + "\" is not an executable file (absolute path or in PATH)");
    return nullptr;
  }
  return std::make_unique<ExecCheck>(std::move(program), std::move(command));
}

}  // namespace hale::agent
