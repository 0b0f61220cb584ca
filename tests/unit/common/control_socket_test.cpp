// The control server and client over a real Unix socket.

#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <mutex>
#include <thread>

#include "control_client.h"
#include "control_protocol.h"
#include "control_server.h"
#include "temp_dir.h"
#include "unix_socket.h"

namespace hale::control {
namespace {

using std::chrono::milliseconds;

class ControlSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() + "/ctl.sock";
    server_.addCommand("echo", "returns its arguments",
                       [](const nlohmann::json& args) -> Result<nlohmann::json> { return args; });
    server_.addCommand("refuse", "always fails", [](const nlohmann::json&) -> Result<nlohmann::json> {
      return makeError("paused", "refused on purpose");
    });
    server_.addCommand("explode", "throws",
                       [](const nlohmann::json&) -> Result<nlohmann::json> { throw std::runtime_error("boom"); });
  }

  void startServer(milliseconds deadline = milliseconds{30'000}, size_t max_clients = 32) {
    ServerOptions options;
    options.path = path_;
    options.client_deadline = deadline;
    options.max_clients = max_clients;
    startServer(options);
  }
  void startServer(const ServerOptions& options) {
    auto started = server_.start(options);
    ASSERT_TRUE(started.ok()) << started.error().message;
  }

  // A raw client: writes `text`, reads until `lines` newlines or the peer closes.
  std::string rawExchange(const std::string& text, int lines) {
    auto fd = connectUnix(path_, milliseconds{1000});
    EXPECT_TRUE(fd.ok());
    if (!fd) return {};
    ::send(fd.value().get(), text.data(), text.size(), MSG_NOSIGNAL);
    std::string in;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{5};
    char buf[4096];
    while (std::count(in.begin(), in.end(), '\n') < lines && std::chrono::steady_clock::now() < deadline) {
      const ssize_t n = ::recv(fd.value().get(), buf, sizeof buf, 0);
      if (n == 0) break;
      if (n > 0) {
        in.append(buf, static_cast<size_t>(n));
      } else {
        std::this_thread::sleep_for(milliseconds{5});
      }
    }
    return in;
  }

  test::TempDir dir_{"ctl"};
  std::string path_;
  ControlServer server_;
};

TEST_F(ControlSocketTest, CallsRegisteredCommands) {
  startServer();
  auto echoed = call(path_, "echo", {{"x", 1}, {"s", "two"}});
  ASSERT_TRUE(echoed.ok()) << echoed.error().message;
  EXPECT_EQ(echoed.value(), (nlohmann::json{{"x", 1}, {"s", "two"}}));

  auto help = call(path_, "help");
  ASSERT_TRUE(help.ok());
  std::vector<std::string> names;
  for (const auto& entry : help.value()) names.push_back(entry["command"]);
  EXPECT_EQ(names, (std::vector<std::string>{"echo", "explode", "help", "refuse"}));
}

TEST_F(ControlSocketTest, ErrorsBecomeFailureResponsesAndAreCounted) {
  startServer();
  auto refused = call(path_, "refuse");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "paused");
  EXPECT_EQ(refused.error().message, "refused on purpose");

  auto exploded = call(path_, "explode");
  ASSERT_FALSE(exploded.ok());
  EXPECT_EQ(exploded.error().code, errc::internal);

  auto unknown = call(path_, "nope");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, errc::unknown_command);

  EXPECT_EQ(server_.counters().failures.load(), 3u);
  EXPECT_TRUE(call(path_, "echo").ok());  // the server is still serving
}

TEST_F(ControlSocketTest, GarbageLinesGetAnAnswerAndTheConnectionStaysUsable) {
  startServer();
  const std::string out = rawExchange("this is not json\n{\"v\":1,\"id\":5,\"cmd\":\"echo\",\"args\":{\"k\":1}}\n", 2);
  const auto nl = out.find('\n');
  ASSERT_NE(nl, std::string::npos) << out;
  auto first = parseResponse(out.substr(0, nl), 0);
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().code, errc::bad_json);
  auto second = parseResponse(out.substr(nl + 1, out.find('\n', nl + 1) - nl - 1), 5);
  ASSERT_TRUE(second.ok()) << out;
  EXPECT_EQ(second.value()["k"], 1);
  EXPECT_EQ(server_.counters().protocol_errors.load(), 1u);
}

TEST_F(ControlSocketTest, PipelinedRequestsAreAnsweredInOrder) {
  startServer();
  std::string batch;
  for (int i = 1; i <= 50; ++i) batch += encodeRequest(Request{static_cast<uint64_t>(i), "echo", {{"i", i}}});
  const std::string out = rawExchange(batch, 50);
  size_t start = 0;
  for (int i = 1; i <= 50; ++i) {
    const size_t nl = out.find('\n', start);
    ASSERT_NE(nl, std::string::npos) << "answer " << i;
    auto r = parseResponse(out.substr(start, nl - start), static_cast<uint64_t>(i));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value()["i"], i);
    start = nl + 1;
  }
}

TEST_F(ControlSocketTest, OverlongLineIsRefusedAndClosed) {
  startServer();
  const std::string out = rawExchange(std::string(kMaxLineBytes + 10, 'a'), 1);
  auto r = parseResponse(out.substr(0, out.find('\n')), 0);
  ASSERT_FALSE(r.ok()) << out;
  EXPECT_EQ(r.error().code, errc::line_too_long);
  EXPECT_TRUE(call(path_, "echo").ok());
}

TEST_F(ControlSocketTest, ClientsAreDroppedAtTheirDeadlineAndExtraClientsRefused) {
  startServer(milliseconds{300}, 1);
  auto idle = connectUnix(path_, milliseconds{1000});
  ASSERT_TRUE(idle.ok());
  std::this_thread::sleep_for(milliseconds{100});
  // The only slot is taken: a second client is told so and closed.
  auto second = call(path_, "echo", nlohmann::json::object(), milliseconds{1000});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, errc::busy);
  EXPECT_GE(server_.counters().rejected_clients.load(), 1u);
  // After the deadline the slot is free again.
  std::this_thread::sleep_for(milliseconds{1500});
  EXPECT_TRUE(call(path_, "echo").ok());
}

// A client trickling one byte at a time is dropped at its deadline: bytes do not buy time.
TEST_F(ControlSocketTest, ATricklingClientIsDroppedAtItsDeadline) {
  startServer(milliseconds{500});
  auto fd = connectUnix(path_, milliseconds{1000});
  ASSERT_TRUE(fd.ok());
  const auto start = std::chrono::steady_clock::now();
  bool closed = false;
  while (!closed && std::chrono::steady_clock::now() - start < std::chrono::seconds{5}) {
    closed = ::send(fd.value().get(), "{", 1, MSG_NOSIGNAL) < 0;
    char c;
    if (::recv(fd.value().get(), &c, 1, MSG_DONTWAIT) == 0) closed = true;
    std::this_thread::sleep_for(milliseconds{50});
  }
  EXPECT_TRUE(closed);
  EXPECT_EQ(server_.counters().expired_clients.load(), 1u);
  EXPECT_TRUE(call(path_, "echo").ok());  // and the server goes on
}

long rssKiB() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// A client that asks for big answers and never reads them gets no more answers than fit a bound, and
// everyone else is still served.
TEST_F(ControlSocketTest, AClientThatNeverReadsCannotGrowTheServerOrLockOthersOut) {
  const std::string big(100'000, 'x');
  server_.addCommand("big", "a large answer",
                     [&](const nlohmann::json&) -> Result<nlohmann::json> { return nlohmann::json(big); });
  startServer();
  auto hog = connectUnix(path_, milliseconds{1000});
  ASSERT_TRUE(hog.ok());
  const std::string request = encodeRequest(Request{1, "big", nlohmann::json::object()});
  const long before = rssKiB();
  // 2 000 requests, 200 MB of answers if the server kept them all; the hog never reads.
  std::string burst;
  for (int i = 0; i < 2000; ++i) burst += request;
  size_t sent = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds{3};
  while (sent < burst.size() && std::chrono::steady_clock::now() < until) {
    const ssize_t n = ::send(hog.value().get(), burst.data() + sent, burst.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0)
      sent += static_cast<size_t>(n);
    else
      std::this_thread::sleep_for(milliseconds{10});
  }
  std::this_thread::sleep_for(milliseconds{300});
  EXPECT_TRUE(call(path_, "echo", nlohmann::json::object(), milliseconds{1000}).ok());
  const long after = rssKiB();
  EXPECT_LT(after - before, 20 * 1024) << "RSS " << before << " -> " << after << " KiB";
}

TEST_F(ControlSocketTest, DeeplyNestedArgumentsAreRefusedNotRecursedInto) {
  startServer();
  std::string nested = "{\"v\":1,\"id\":7,\"cmd\":\"echo\",\"args\":{\"a\":";
  for (int i = 0; i < 20'000; ++i) nested += '[';
  for (int i = 0; i < 20'000; ++i) nested += ']';
  nested += "}}\n";
  const std::string out = rawExchange(nested, 1);
  auto r = parseResponse(out.substr(0, out.find('\n')), 7);
  ASSERT_FALSE(r.ok()) << out;
  EXPECT_EQ(r.error().code, errc::bad_request);
  EXPECT_NE(r.error().message.find("nested deeper"), std::string::npos);
  EXPECT_TRUE(call(path_, "echo").ok());
}

// The socket file is changed by name after bind: a directory others may write is refused.
TEST_F(ControlSocketTest, ADirectoryOthersMayWriteIsRefused) {
  const std::string open_dir = dir_.makeSubdir("open");
  ::chmod(open_dir.c_str(), 0777);
  ServerOptions options;
  options.path = open_dir + "/ctl.sock";
  auto started = server_.start(options);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, "unsafe");
  EXPECT_NE(started.error().message.find("mode 0777"), std::string::npos) << started.error().message;
  ::chmod(open_dir.c_str(), 01777);  // sticky, like /tmp: our file cannot be swapped
  EXPECT_TRUE(server_.start(options).ok());
}

TEST_F(ControlSocketTest, ClientReportsUnreachableAndTimeout) {
  auto missing = call(dir_.path() + "/absent.sock", "echo");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, errc::unreachable);

  // A listener that never answers.
  auto silent = listenUnix(path_, 0600);
  ASSERT_TRUE(silent.ok());
  const auto t0 = std::chrono::steady_clock::now();
  auto r = call(path_, "echo", nlohmann::json::object(), milliseconds{200});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, errc::timeout);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds{2000});
}

TEST_F(ControlSocketTest, ReplacesAStaleSocketButNotALiveOne) {
  {
    auto stale = listenUnix(path_, 0600);  // closed at the end of this scope, file left behind
    ASSERT_TRUE(stale.ok());
  }
  ASSERT_EQ(::access(path_.c_str(), F_OK), 0);
  startServer();
  EXPECT_TRUE(call(path_, "echo").ok());

  ControlServer second;
  ServerOptions options;
  options.path = path_;
  auto refused = second.start(options);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "in_use");
  EXPECT_TRUE(call(path_, "echo").ok());

  server_.stop();
  EXPECT_NE(::access(path_.c_str(), F_OK), 0);  // the socket file is removed on stop
}

TEST_F(ControlSocketTest, RefusesAPathTooLongForAUnixSocket) {
  ControlServer s;
  ServerOptions options;
  options.path = dir_.path() + "/" + std::string(200, 'p');
  auto r = s.start(options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "bad_path");
}

// Runs `fn` in a child process as `user` (as an operator's shell would be); returns its exit code.
int runAs(const std::string& user, const std::function<int()>& fn) {
  const passwd* pw = ::getpwnam(user.c_str());
  if (pw == nullptr) return -1;
  const uid_t uid = pw->pw_uid;
  const gid_t gid = pw->pw_gid;
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::initgroups(user.c_str(), gid) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) ::_exit(125);
    ::_exit(fn());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Who may do what: the socket's group may read; changing anything needs root, the daemon's user or the
// admin group; the handler learns who asked. Needs root (to create the socket for a group and become
// `nobody`), as the suite runs in CI.
class ControlSocketAccessTest : public ControlSocketTest {
 protected:
  void SetUp() override {
    ControlSocketTest::SetUp();
    ASSERT_EQ(::geteuid(), 0u) << "this suite runs as root";
    ::chmod(dir_.path().c_str(), 0755);  // others may reach the socket file; its own mode decides
    server_.addAdminCommand("lever", "changes something",
                            [this](const nlohmann::json&, const Caller& c) -> Result<nlohmann::json> {
                              std::lock_guard lock(mu_);
                              callers_.push_back(c.describe());
                              return nlohmann::json{{"by", c.user}};
                            });
  }
  std::string lastCaller() {
    std::lock_guard lock(mu_);
    return callers_.empty() ? "" : callers_.back();
  }
  // 0: ok, 1: forbidden, 2: unreachable (permission), 3: another error.
  static int tryCall(const std::string& path, const std::string& cmd) {
    auto r = call(path, cmd, nlohmann::json::object(), milliseconds{2000});
    if (r.ok()) return 0;
    if (r.error().code == errc::forbidden) return 1;
    if (r.error().code == errc::unreachable) return 2;
    return 3;
  }
  std::mutex mu_;
  std::vector<std::string> callers_;
};

TEST_F(ControlSocketAccessTest, TheSocketIsCreatedForItsGroupAndNeverWider) {
  ServerOptions options;
  options.path = path_;
  options.group = "nogroup";
  startServer(options);
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(st.st_gid, ::getgrnam("nogroup")->gr_gid);
  // Someone outside the group cannot even connect.
  EXPECT_EQ(runAs("daemon", [&] { return tryCall(path_, "echo"); }), 2);
}

TEST_F(ControlSocketAccessTest, TheGroupReadsOnlyAndTheAdminGroupPullsLevers) {
  ServerOptions options;
  options.path = path_;
  options.group = "nogroup";
  startServer(options);
  EXPECT_EQ(runAs("nobody", [&] { return tryCall(path_, "echo"); }), 0);   // nobody is in nogroup: reads
  EXPECT_EQ(runAs("nobody", [&] { return tryCall(path_, "lever"); }), 1);  // ... and may not change anything
  EXPECT_EQ(server_.counters().forbidden.load(), 1u);
  EXPECT_EQ(lastCaller(), "");
  EXPECT_EQ(tryCall(path_, "lever"), 0);  // root may
  EXPECT_EQ(lastCaller(), "root (uid 0)");
}

TEST_F(ControlSocketAccessTest, TheAdminGroupMayPullLeversAndIsNamed) {
  ServerOptions options;
  options.path = path_;
  options.group = "nogroup";
  options.admin_group = "nogroup";
  startServer(options);
  EXPECT_EQ(runAs("nobody", [&] { return tryCall(path_, "lever"); }), 0);
  EXPECT_EQ(lastCaller(), "nobody (uid 65534)");
}

// A few slow clients of one user cannot lock out another user.
TEST_F(ControlSocketAccessTest, OneUsersConnectionsAreCapped) {
  ServerOptions options;
  options.path = path_;
  options.group = "nogroup";
  options.max_clients_per_uid = 2;
  startServer(options);
  auto a = connectUnix(path_, milliseconds{1000});
  auto b = connectUnix(path_, milliseconds{1000});
  ASSERT_TRUE(a.ok() && b.ok());
  std::this_thread::sleep_for(milliseconds{100});
  auto third = call(path_, "echo", nlohmann::json::object(), milliseconds{1000});
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code, errc::busy);
  EXPECT_EQ(runAs("nobody", [&] { return tryCall(path_, "echo"); }), 0);
}

}  // namespace
}  // namespace hale::control
