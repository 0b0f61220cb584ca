#include "proc_cpu.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <thread>

#include "thread_name.h"

namespace {

// What bench_ingest and bench_agent_footprint report as the bound of a rate must be the CPU the threads
// really spent: a thread that spins for 300 ms of CPU shows most of it under its own name, even a
// name with spaces and parentheses (which /proc's stat line does not escape).
TEST(ProcCpuTest, AThreadsSpinShowsUnderItsNameInTheProcessAndTheMachine) {
  const std::string name = "spin (a) b";
  const double process_before = hale::bench::processCpuSeconds(::getpid());
  const double machine_before = hale::bench::machineBusySeconds();
  double during = 0;
  std::thread spinner([&] {
    hale::nameThisThread(name);
    // Until the thread's own CPU clock says 300 ms: a loaded machine may give it less than a core.
    const auto cpu = [] {
      timespec t{};
      ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
      return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
    };
    volatile uint64_t n = 0;
    while (cpu() < 0.3) n = n + 1;
    during = hale::bench::cpuByThread(::getpid())[name];  // read while the thread is alive
  });
  spinner.join();
  EXPECT_GE(during, 0.2);
  EXPECT_LE(during, 1.0);
  EXPECT_GE(hale::bench::processCpuSeconds(::getpid()) - process_before, 0.2);
  EXPECT_GE(hale::bench::machineBusySeconds() - machine_before, 0.2);
  // An ended thread is not listed (the kernel may list it a moment after join() returns).
  bool unlisted = false;
  for (int i = 0; i < 200 && !unlisted; ++i) {
    unlisted = hale::bench::cpuByThread(::getpid()).count(name) == 0;
    if (!unlisted) std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  EXPECT_TRUE(unlisted);
  EXPECT_EQ(hale::bench::processCpuSeconds(999'999'999), 0);  // no such process
}

}  // namespace
