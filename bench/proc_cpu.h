#pragma once

// CPU time from /proc, for the benchmarks that say what bounds a rate: how busy the machine was, and how
// much of it each process and thread took over the same window.

#include <sys/types.h>

#include <map>
#include <string>

namespace hale::bench {

// Busy CPU seconds of the whole machine so far (all cores): /proc/stat's total but idle and iowait.
double machineBusySeconds();

// User and system CPU seconds `pid` itself has used so far (not its children); 0 once it is gone.
double processCpuSeconds(pid_t pid);

// CPU seconds each thread of `pid` has used so far, summed by thread name (threads that have ended are
// not counted).
std::map<std::string, double> cpuByThread(pid_t pid);

}  // namespace hale::bench
