// systemd's notification protocol as hale speaks it without libsystemd: the datagram systemd reads, on a
// socket path and on an abstract socket, and the watchdog interval as sd_watchdog_enabled(3) reads it.

#include "sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "temp_dir.h"

namespace hale::systemd {
namespace {

// What systemd does: a bound datagram socket; receives one datagram.
class NotifyListener {
 public:
  explicit NotifyListener(const std::string& name) : fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    if (name[0] == '@') addr.sun_path[0] = '\0';
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + (name[0] == '@' ? 0 : 1));
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0) ADD_FAILURE() << "bind " << name;
    timeval tv{2, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~NotifyListener() { ::close(fd_); }
  std::string receive() {
    char buf[512];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n < 0 ? "(nothing)" : std::string(buf, static_cast<size_t>(n));
  }

 private:
  int fd_;
};

class Env {
 public:
  Env(const char* name, const std::string& value) : name_(name) { ::setenv(name, value.c_str(), 1); }
  ~Env() { ::unsetenv(name_); }

 private:
  const char* name_;
};

TEST(SdNotify, SendsTheStateAsOneDatagramToTheSocketPath) {
  test::TempDir dir("notify");
  const std::string path = dir.path() + "/notify";
  NotifyListener systemd(path);
  Env env("NOTIFY_SOCKET", path);
  EXPECT_TRUE(notify("READY=1\nSTATUS=running"));
  EXPECT_EQ(systemd.receive(), "READY=1\nSTATUS=running");
  EXPECT_TRUE(notify("WATCHDOG=1"));
  EXPECT_EQ(systemd.receive(), "WATCHDOG=1");
}

TEST(SdNotify, AnAtSignNamesAnAbstractSocket) {
  const std::string name = "@hale-notify-test-" + std::to_string(::getpid());
  NotifyListener systemd(name);
  Env env("NOTIFY_SOCKET", name);
  EXPECT_TRUE(notify("STOPPING=1"));
  EXPECT_EQ(systemd.receive(), "STOPPING=1");
}

TEST(SdNotify, WithoutSystemdOrWithAnUnusableAddressNothingIsSent) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(notify("READY=1"));
  {
    Env env("NOTIFY_SOCKET", "relative/path");
    EXPECT_FALSE(notify("READY=1"));
  }
  {
    Env env("NOTIFY_SOCKET", "/" + std::string(200, 'x'));  // longer than sun_path
    EXPECT_FALSE(notify("READY=1"));
  }
  {
    Env env("NOTIFY_SOCKET", "/nonexistent/notify");
    EXPECT_FALSE(notify("READY=1"));
  }
  {
    Env env("NOTIFY_SOCKET", "@");  // an empty abstract name
    EXPECT_FALSE(notify("READY=1"));
  }
}

TEST(SdNotify, TheWatchdogIntervalAppliesToThisProcessOnly) {
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  EXPECT_FALSE(watchdogInterval().has_value());
  Env usec("WATCHDOG_USEC", "400000");
  ASSERT_TRUE(watchdogInterval().has_value());
  EXPECT_EQ(watchdogInterval()->count(), 400000);
  {
    Env pid("WATCHDOG_PID", std::to_string(::getpid()));
    EXPECT_EQ(watchdogInterval()->count(), 400000);
  }
  for (const std::string& other : {std::to_string(::getpid() + 1), std::string(), std::string("x")}) {
    Env pid("WATCHDOG_PID", other);  // meant for another process
    EXPECT_FALSE(watchdogInterval().has_value()) << other;
  }
  // What libsystemd refuses; a negative count would make the daemon pet the watchdog every millisecond.
  for (const char* bad :
       {"0", "-5", " -5", "+5", "12x", "", "99999999999999999999999", "18446744073709551615", "9223372036854775808"}) {
    Env v("WATCHDOG_USEC", bad);
    EXPECT_FALSE(watchdogInterval().has_value()) << bad;
  }
}

}  // namespace
}  // namespace hale::systemd
