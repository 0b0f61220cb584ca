#include "subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <thread>

extern char** environ;

namespace hale {
namespace {

// Passed through to children from the daemon's environment; nothing else is.
constexpr const char* kPassedEnvironment[] = {"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ"};

}  // namespace

std::string findProgram(const std::string& name) {
  if (name.empty()) return {};
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin");
  for (std::string d; std::getline(dirs, d, ':');) {
    std::string candidate = d + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

SubprocessResult runSubprocess(const std::string& program, const std::vector<std::string>& argv,
                               const std::vector<std::string>& extra_env, SteadyTime deadline,
                               const std::atomic<bool>* cancel, const Clock& clock, size_t max_output) {
  SubprocessResult result;
  // Everything the child touches is prepared before fork: afterwards only async-signal-safe calls.
  std::vector<std::string> args = argv;
  std::vector<char*> arg_ptrs;
  arg_ptrs.reserve(args.size() + 1);
  for (std::string& a : args) arg_ptrs.push_back(a.data());
  arg_ptrs.push_back(nullptr);
  // A minimal environment: the daemon's own (cloud credentials, systemd's CREDENTIALS_DIRECTORY, ...) is
  // not the script's business; what it needs comes in `extra_env`.
  std::vector<std::string> env_storage;
  for (const char* name : kPassedEnvironment) {
    if (const char* v = std::getenv(name); v != nullptr) env_storage.push_back(std::string(name) + "=" + v);
  }
  if (std::getenv("PATH") == nullptr) env_storage.emplace_back("PATH=/usr/local/bin:/usr/bin:/bin");
  env_storage.insert(env_storage.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> env_ptrs;
  env_ptrs.reserve(env_storage.size() + 1);
  for (std::string& e : env_storage) env_ptrs.push_back(e.data());
  env_ptrs.push_back(nullptr);

  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    result.output = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  const int null_in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(null_in, STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(out[1], STDERR_FILENO);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);  // daemons block their signals; the child must not inherit that
    ::execve(program.c_str(), arg_ptrs.data(), env_ptrs.data());
    ::_exit(127);
  }
  ::close(out[1]);
  if (null_in >= 0) ::close(null_in);
  if (pid < 0) {
    ::close(out[0]);
    result.output = std::string("fork: ") + std::strerror(errno);
    return result;
  }
  ::setpgid(pid, pid);  // also here, so the group exists before any kill below
  result.started = true;

  // Until the output ends (EOF: the program and everything sharing its output closed it) and the program
  // has exited, both bounded by the deadline: a program that closes its output and goes on is killed then
  // too, never waited on.
  char buf[1024];
  bool eof = false;
  bool reaped = false;
  int status = 0;
  for (;;) {
    if (!reaped) {
      const pid_t w = ::waitpid(pid, &status, WNOHANG);
      reaped = w == pid;
    }
    if (eof && reaped) break;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock.steadyNow());
    if (left.count() <= 0 || (cancel != nullptr && cancel->load(std::memory_order_relaxed))) {
      result.timed_out = true;
      break;
    }
    if (eof) {  // only the exit to wait for now
      std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds{10}));
      continue;
    }
    pollfd p{out[0], POLLIN, 0};
    // Slices: see a cancel soon, and an exit while a grandchild still holds the output.
    const int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), reaped ? 100 : 20)));
    if (n == 0 || (n < 0 && errno == EINTR)) continue;
    const ssize_t got = ::read(out[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      eof = true;
      continue;
    }
    const size_t room = max_output - std::min(max_output, result.output.size());
    result.output.append(buf, std::min(static_cast<size_t>(got), room));
  }
  ::close(out[0]);
  ::kill(-pid, SIGKILL);  // at the deadline the whole group; otherwise whatever it left behind in its group
  while (!reaped && ::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    result.exited = !result.timed_out;
    result.exit_code = WEXITSTATUS(status);
    if (result.exit_code == 127 && result.output.empty()) result.started = false;
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

}  // namespace hale
