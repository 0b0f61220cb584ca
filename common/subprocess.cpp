#include "subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
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
  // Arguments and environment prepared as the exec needs them.
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
  // posix_spawn, not fork: glibc starts the child with vfork semantics, so a daemon of many threads and
  // mappings does not copy its page tables for every probe.
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDERR_FILENO);
  // Nothing else: the checks' kept sessions (MariaDB Connector/C and libcurl do not mark their sockets
  // close-on-exec) must never reach a plugin or a grandchild that outlives it.
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  // Its own process group (killed whole at the deadline); no blocked signals (daemons block theirs) and
  // every signal at its default (a daemon ignores SIGPIPE; a plugin must not inherit that).
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int spawn_error = ::posix_spawn(&pid, program.c_str(), &actions, &attr, arg_ptrs.data(), env_ptrs.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out[1]);
  if (spawn_error != 0) {
    ::close(out[0]);
    result.output = std::string("posix_spawn: ") + std::strerror(spawn_error);
    return result;
  }
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
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

}  // namespace hale
