#pragma once

// Child processes for the test harness. A child runs in its own process group, optionally as another
// user, with stdout and stderr appended to a log file, and is killed when the test process dies for any
// reason (PR_SET_PDEATHSIG, set after dropping privileges because a credential change clears it).
// Caveat: the death signal follows the *thread* that spawned the child, so spawn from the test's thread.

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <string>
#include <vector>

namespace hale::test {

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] is an absolute path or a name looked up in PATH
  std::string run_as;             // user name; empty keeps the current user
  std::string log_path;           // stdout and stderr are appended here; empty: /dev/null
  std::string cwd;                // empty keeps the current directory
  std::vector<std::string> env;   // extra "NAME=value" entries
};

class ChildProcess {
 public:
  explicit ChildProcess(const SpawnOptions& options);  // throws std::runtime_error when fork/exec fails
  ~ChildProcess();                                     // stop() with its defaults
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // False once the child has exited (it is reaped here).
  bool running();
  // Exit status as from waitpid, valid after running() returned false.
  int waitStatus() const { return status_; }
  // Signals the whole process group (SIGSTOP/SIGCONT freeze and thaw a server with all its workers).
  void signalGroup(int sig) const;
  // SIGSTOPs the group and returns once every thread of the child itself is stopped (or the child is gone):
  // a signal takes effect asynchronously, and a thread running on another core could still answer a
  // request sent right after kill() returned. Throws std::runtime_error when it has not stopped within 5 s.
  void freeze() const;
  // SIGCONTs the group: undoes freeze().
  void thaw() const;
  // Sends `sig` to the group (a frozen group is SIGCONTed after any signal but SIGKILL, which must not let it
  // run first), waits up to `grace`, then SIGKILLs the group; reaps the child.
  void stop(int sig = SIGTERM, std::chrono::milliseconds grace = std::chrono::milliseconds{5000});
  // Waits up to `timeout` for the child to exit by itself; true if it did.
  bool waitExit(std::chrono::milliseconds timeout);

  const std::string& logPath() const { return log_path_; }
  // The last `bytes` of the log, for failure messages.
  std::string logTail(size_t bytes = 2000) const;

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool reaped_ = false;
  std::string log_path_;
};

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal or timed out
  bool timed_out = false;
  std::string output;  // stdout and stderr interleaved
};

// Runs a command to completion (or kills its process group at `timeout`).
CommandResult runCommand(const SpawnOptions& options, std::chrono::milliseconds timeout,
                         const std::string& stdin_text = "");

// Runs `argv` (10 s bound); throws std::runtime_error naming `who`, the command and its output when it
// does not exit 0. For set-up steps a fixture cannot do without (ip, for instance).
void runOrThrow(const std::string& who, const std::vector<std::string>& argv);

// Polls `condition` every `step` until it holds (true) or `timeout` passes (false).
bool waitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
             std::chrono::milliseconds step = std::chrono::milliseconds{20});

// Absolute path of an executable found in PATH (or in `extra_dirs`), empty if none.
std::string findExecutable(const std::string& name, const std::vector<std::string>& extra_dirs = {});

// Process `pid`'s state letter from /proc/<pid>/stat (R running, S sleeping, T stopped, Z zombie...), empty
// when it is gone. Read after the command name's last ')', since the name may hold spaces or parentheses.
std::string processState(pid_t pid);

// The names of process `pid`'s threads, sorted (/proc/<pid>/task/*/comm, as top -H and ps -L show them).
std::vector<std::string> threadNames(pid_t pid);
// threadNames() once `program` (the main thread's name) and each of `expected` appear exactly once, or
// as they are at `timeout`: a daemon starts and names its threads just after its control socket answers.
std::vector<std::string> settledThreadNames(pid_t pid, const std::string& program,
                                            const std::vector<std::string>& expected,
                                            std::chrono::milliseconds timeout = std::chrono::milliseconds{5000});

// Where packaging/install-deps.sh installs the test-only tools (moto's virtualenv, Prism):
// $HALE_TEST_PREFIX, /opt/hale-test by default.
std::string testToolsPrefix();

}  // namespace hale::test
