#include "thread_name.h"

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

namespace hale {
namespace {

// The name the kernel shows for a new thread named `name`, read back from /proc as ps and top read it.
std::string shownName(const std::string& name) {
  std::string shown;
  std::thread([&] {
    nameThisThread(name);
    std::ifstream comm("/proc/self/task/" + std::to_string(::syscall(SYS_gettid)) + "/comm");
    std::getline(comm, shown);
  }).join();
  return shown;
}

TEST(ThreadName, AShortNameIsShownAsIs) { EXPECT_EQ(shownName("chk:postgres"), "chk:postgres"); }

TEST(ThreadName, ALongNameIsCutToFifteenBytes) {
  EXPECT_EQ(shownName("chk:replica-lag-eu-west"), "chk:replica-lag");
  EXPECT_EQ(shownName("exactly-15-byte"), "exactly-15-byte");
}

// "é" is two bytes; one starting at byte 14 would be cut in half at 15: the cut falls before it instead.
TEST(ThreadName, ACutNeverSplitsACharacter) {
  EXPECT_EQ(shownName("chk:abcdefghij\xC3\xA9z"), "chk:abcdefghij");
  EXPECT_EQ(shownName("chk:abcdefghi\xC3\xA9z"), "chk:abcdefghi\xC3\xA9");
}

}  // namespace
}  // namespace hale
