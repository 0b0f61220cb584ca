#include "network_fabric.h"

#include <gtest/gtest.h>

#include <thread>

#include "process.h"

namespace hale::test {
namespace {

using std::chrono::seconds;

// Inside `from`, a TCP connection to `to`'s listener on `port` (a bash /dev/tcp connect, bounded to 1 s).
bool reach(const NetworkFabric& f, const std::string& from, const std::string& to, uint16_t port) {
  const std::string connect = "exec 3<>/dev/tcp/" + f.address(to) + "/" + std::to_string(port);
  std::vector<std::string> argv = {"/usr/bin/timeout", "1", "/bin/bash", "-c", connect};
  if (from != "host") argv = f.wrap(from, argv);
  return runCommand(SpawnOptions{.argv = argv}, seconds{5}).exit_code == 0;
}

TEST(NetworkFabricFixture, MembersReachEachOtherUntilTheirPathIsCut) {
  NetworkFabric f;
  f.add("a");
  f.add("b");
  f.add("c");
  // A listener in b and one in c (socat, in the background, for the test's length).
  const uint16_t port = 7411;
  std::vector<std::unique_ptr<ChildProcess>> listeners;
  for (const char* m : {"b", "c"}) {
    listeners.push_back(std::make_unique<ChildProcess>(SpawnOptions{
        .argv = f.wrap(m, {"socat", "TCP-LISTEN:" + std::to_string(port) + ",bind=" + f.address(m) + ",reuseaddr,fork",
                           "SYSTEM:true"})}));
  }
  ASSERT_TRUE(waitFor([&] { return reach(f, "a", "b", port) && reach(f, "a", "c", port); }, seconds{5}));
  EXPECT_TRUE(reach(f, "host", "b", port));

  f.cut("a", "b");  // a and b lose each other; a still reaches c, the host still reaches b
  EXPECT_FALSE(reach(f, "a", "b", port));
  EXPECT_TRUE(reach(f, "a", "c", port));
  EXPECT_TRUE(reach(f, "host", "b", port));
  f.heal("a", "b");
  EXPECT_TRUE(reach(f, "a", "b", port));

  f.isolate("c");  // c is cut from everything
  EXPECT_FALSE(reach(f, "a", "c", port));
  EXPECT_FALSE(reach(f, "host", "c", port));
  f.rejoin("c");
  EXPECT_TRUE(waitFor([&] { return reach(f, "a", "c", port); }, seconds{5}));
}

}  // namespace
}  // namespace hale::test
