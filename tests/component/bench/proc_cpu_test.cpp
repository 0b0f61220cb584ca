#include "proc_cpu.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "thread_name.h"

namespace {

// What bench_ingest and bench_agent_footprint report as the bound of a rate must be the CPU the threads
// really spent: a thread that spins for 300 ms shows at least most of it under its own name, even a
// name with spaces and parentheses (which /proc's stat line does not escape).
TEST(ProcCpuTest, AThreadsSpinShowsUnderItsNameInTheProcessAndTheMachine) {
  const std::string name = "spin (a) b";
  const double process_before = hale::bench::processCpuSeconds(::getpid());
  const double machine_before = hale::bench::machineBusySeconds();
  double during = 0;
  std::thread spinner([&] {
    hale::nameThisThread(name);
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds{300};
    volatile uint64_t n = 0;
    while (std::chrono::steady_clock::now() < until) n = n + 1;
    during = hale::bench::cpuByThread(::getpid())[name];  // read while the thread is alive
  });
  spinner.join();
  EXPECT_GE(during, 0.2);
  EXPECT_LE(during, 1.0);
  EXPECT_GE(hale::bench::processCpuSeconds(::getpid()) - process_before, 0.2);
  EXPECT_GE(hale::bench::machineBusySeconds() - machine_before, 0.2);
  EXPECT_EQ(hale::bench::cpuByThread(::getpid()).count(name), 0u);  // an ended thread is not listed
  EXPECT_EQ(hale::bench::processCpuSeconds(999'999'999), 0);        // no such process
}

}  // namespace
