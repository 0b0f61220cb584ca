#pragma once

// Runs a program to completion under a deadline, for the agent's exec checks and the aggregator's exec
// actions. The child is started with posix_spawn (no copy of the caller's address space) and gets its
// own process group, stdin from /dev/null, no other descriptor than its output pipe, an unblocked signal
// mask, every signal at its default and a minimal environment (PATH, HOME, LANG, LC_ALL, LC_CTYPE, TZ from the
// caller's) plus `extra_env`; stdout and stderr are captured together (up to max_output bytes, the rest read and
// dropped). At the deadline, or when `cancel` becomes true, the whole group is killed, so grandchildren cannot linger;
// a program that closes its output and goes on is bound by the deadline all the same.

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "clock.h"

namespace hale {

struct SubprocessResult {
  bool started = false;    // false: the program could not be executed, or a pipe failed (see output)
  bool timed_out = false;  // killed at the deadline or on cancel
  bool exited = false;     // exited normally (exit_code valid)
  int exit_code = -1;
  int signal = 0;  // the signal that ended it, when it did not exit
  std::string output;
};

// `program` must be an absolute path (resolve it with findProgram).
SubprocessResult runSubprocess(const std::string& program, const std::vector<std::string>& argv,
                               const std::vector<std::string>& extra_env, SteadyTime deadline,
                               const std::atomic<bool>* cancel, const Clock& clock, size_t max_output = 4096);

// Absolute path of `name`: itself when it contains a slash and is executable, else looked up in PATH.
// Empty when not found.
std::string findProgram(const std::string& name);

}  // namespace hale
