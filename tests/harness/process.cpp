#include "process.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace hale::test {
namespace {

struct Credentials {
  bool change = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
};

Credentials lookupUser(const std::string& user) {
  Credentials c;
  if (user.empty()) return c;
  const passwd* pw = ::getpwnam(user.c_str());
  if (pw == nullptr) throw std::runtime_error("no such user: " + user);
  c.change = true;
  c.uid = pw->pw_uid;
  c.gid = pw->pw_gid;
  c.home = pw->pw_dir;
  return c;
}

// Everything the child needs, prepared before fork: after fork only async-signal-safe calls are made.
struct ExecPlan {
  std::vector<std::string> argv_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::string program;
  Credentials creds;
  std::string cwd;

  explicit ExecPlan(const SpawnOptions& o) : argv_storage(o.argv), creds(lookupUser(o.run_as)), cwd(o.cwd) {
    if (argv_storage.empty()) throw std::runtime_error("spawn: empty argv");
    program = argv_storage[0].find('/') == std::string::npos ? findExecutable(argv_storage[0]) : argv_storage[0];
    if (program.empty()) throw std::runtime_error("spawn: executable not found: " + argv_storage[0]);
    for (char** e = environ; *e != nullptr; ++e) {
      std::string entry(*e);
      // A service user must not inherit root's HOME/USER (PostgreSQL and MariaDB read files there).
      if (creds.change &&
          (entry.rfind("HOME=", 0) == 0 || entry.rfind("USER=", 0) == 0 || entry.rfind("LOGNAME=", 0) == 0)) {
        continue;
      }
      env_storage.push_back(std::move(entry));
    }
    if (creds.change) {
      env_storage.push_back("HOME=" + creds.home);
      env_storage.push_back("USER=" + o.run_as);
      env_storage.push_back("LOGNAME=" + o.run_as);
    }
    for (const std::string& e : o.env) env_storage.push_back(e);
    for (std::string& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (std::string& e : env_storage) envp.push_back(e.data());
    envp.push_back(nullptr);
  }

  // Runs in the child after fork. Never returns.
  [[noreturn]] void exec(int stdin_fd, int out_fd) const {
    ::setpgid(0, 0);
    if (stdin_fd >= 0) ::dup2(stdin_fd, STDIN_FILENO);
    if (out_fd >= 0) {
      ::dup2(out_fd, STDOUT_FILENO);
      ::dup2(out_fd, STDERR_FILENO);
    }
    if (creds.change) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(creds.gid) != 0 || ::setuid(creds.uid) != 0) ::_exit(126);
    }
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() == 1) ::_exit(125);  // the parent already died before the death signal was armed
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    // Restore default signal dispositions and mask the test runner may have changed.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(program.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
};

int openLog(const std::string& path) {
  const int fd = ::open(path.empty() ? "/dev/null" : path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open log " + path + ": " + std::strerror(errno));
  return fd;
}

// The state letter of a /proc .../stat file, read after the command name's last ')' (the name may hold
// spaces or parentheses); empty when the file is gone.
std::string stateIn(const std::filesystem::path& stat_file) {
  std::string stat;
  std::getline(std::ifstream(stat_file), stat);
  const size_t end = stat.rfind(')');
  return end == std::string::npos || end + 2 >= stat.size() ? std::string() : stat.substr(end + 2, 1);
}

}  // namespace

std::string testToolsPrefix() {
  const char* prefix = std::getenv("HALE_TEST_PREFIX");
  return prefix != nullptr && *prefix != '\0' ? prefix : "/opt/hale-test";
}

std::string findExecutable(const std::string& name, const std::vector<std::string>& extra_dirs) {
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream ss(path);
    for (std::string d; std::getline(ss, d, ':');) dirs.push_back(d);
  }
  dirs.insert(dirs.end(), extra_dirs.begin(), extra_dirs.end());
  for (const std::string& d : dirs) {
    std::string candidate = d + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

ChildProcess::ChildProcess(const SpawnOptions& options) : log_path_(options.log_path) {
  const ExecPlan plan(options);
  const int log_fd = openLog(options.log_path);
  if (!options.run_as.empty() && !options.log_path.empty()) {
    const Credentials c = lookupUser(options.run_as);
    [[maybe_unused]] const int rc = ::fchown(log_fd, c.uid, c.gid);
  }
  const int null_in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_ = ::fork();
  if (pid_ == 0) plan.exec(null_in, log_fd);
  ::close(log_fd);
  ::close(null_in);
  if (pid_ < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
  ::setpgid(pid_, pid_);  // also from the parent, so signalGroup works before the child ran
}

ChildProcess::~ChildProcess() { stop(); }

bool ChildProcess::running() {
  if (reaped_ || pid_ <= 0) return false;
  const pid_t r = ::waitpid(pid_, &status_, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    ::kill(-pid_, SIGKILL);  // workers the server left behind
    return false;
  }
  return true;
}

void ChildProcess::freeze() const {
  signalGroup(SIGSTOP);
  if (pid_ <= 0 || reaped_) return;
  const std::string tasks = "/proc/" + std::to_string(pid_) + "/task";
  const bool stopped = waitFor(
      [&] {
        std::error_code ec;
        for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
          const std::string state = stateIn(task.path() / "stat");  // empty: the thread is gone
          if (!state.empty() && state != "T" && state != "t" && state != "Z" && state != "X") return false;
        }
        // Every thread stopped, or the child gone (no task directory); any other error (a /proc that hides
        // other users' processes) proves nothing, and the wait runs out.
        return !ec || ec == std::errc::no_such_file_or_directory;
      },
      std::chrono::milliseconds{5000}, std::chrono::milliseconds{1});
  if (!stopped) throw std::runtime_error("process " + std::to_string(pid_) + " did not stop within 5 s of SIGSTOP");
}

void ChildProcess::thaw() const { signalGroup(SIGCONT); }

void ChildProcess::signalGroup(int sig) const {
  if (pid_ > 0 && !reaped_) ::kill(-pid_, sig);
}

bool ChildProcess::waitExit(std::chrono::milliseconds timeout) {
  return waitFor([this] { return !running(); }, timeout, std::chrono::milliseconds{10});
}

void ChildProcess::stop(int sig, std::chrono::milliseconds grace) {
  if (pid_ <= 0) return;
  if (!reaped_) {
    // The signal first: SIGKILL ends a stopped group where it stands, while a SIGCONT sent before it let a
    // frozen server run for a moment and answer what it held (a probe once passed so). Any other signal
    // waits, pending, until the SIGCONT lets the group act on it.
    ::kill(-pid_, sig);
    if (sig != SIGKILL) ::kill(-pid_, SIGCONT);
    if (!waitExit(grace)) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, &status_, 0);
      reaped_ = true;
    }
  }
  ::kill(-pid_, SIGKILL);  // anything left in the group
}

std::string ChildProcess::logTail(size_t bytes) const {
  std::ifstream in(log_path_, std::ios::binary);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string all = ss.str();
  return all.size() > bytes ? all.substr(all.size() - bytes) : all;
}

void runOrThrow(const std::string& who, const std::vector<std::string>& argv) {
  const CommandResult r = runCommand(SpawnOptions{.argv = argv}, std::chrono::seconds{10});
  if (r.exit_code == 0) return;
  std::string line;
  for (const std::string& a : argv) line += a + " ";
  throw std::runtime_error(who + ": " + line + "failed: " + r.output);
}

CommandResult runCommand(const SpawnOptions& options, std::chrono::milliseconds timeout,
                         const std::string& stdin_text) {
  const ExecPlan plan(options);
  int out_pipe[2];
  int in_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(in_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = ::fork();
  if (pid == 0) plan.exec(in_pipe[0], out_pipe[1]);
  ::close(out_pipe[1]);
  ::close(in_pipe[0]);
  if (pid < 0) throw std::runtime_error("fork failed");
  ::setpgid(pid, pid);
  // Input is small (a script for nsupdate, SQL); write it all, then close so the child sees EOF.
  size_t written = 0;
  while (written < stdin_text.size()) {
    const ssize_t n = ::write(in_pipe[1], stdin_text.data() + written, stdin_text.size() - written);
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  ::close(in_pipe[1]);

  CommandResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      ::kill(-pid, SIGKILL);
      break;
    }
    pollfd p{out_pipe[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = ::read(out_pipe[0], buf, sizeof buf);
    if (n <= 0) break;  // EOF: the child (and everything that shared the pipe) closed it
    result.output.append(buf, static_cast<size_t>(n));
  }
  ::close(out_pipe[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::kill(-pid, SIGKILL);
  if (!result.timed_out && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

bool waitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
             std::chrono::milliseconds step) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(step);
  }
}

std::string processState(pid_t pid) { return stateIn("/proc/" + std::to_string(pid) + "/stat"); }

std::vector<std::string> threadNames(pid_t pid) {
  std::vector<std::string> names;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::string name;
    std::getline(std::ifstream(task.path() / "comm"), name);
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> settledThreadNames(pid_t pid, const std::string& program,
                                            const std::vector<std::string>& expected,
                                            std::chrono::milliseconds timeout) {
  std::vector<std::string> names;
  const auto once = [&](const std::string& name) { return std::count(names.begin(), names.end(), name) == 1; };
  waitFor(
      [&] {
        names = threadNames(pid);
        return once(program) && std::all_of(expected.begin(), expected.end(), once);
      },
      timeout);
  return names;
}

}  // namespace hale::test
