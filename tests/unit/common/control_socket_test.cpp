// The control server and client over a real Unix socket.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

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

  void startServer(milliseconds idle = milliseconds{30'000}, size_t max_clients = 32) {
    ServerOptions options;
    options.path = path_;
    options.idle_timeout = idle;
    options.max_clients = max_clients;
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

TEST_F(ControlSocketTest, IdleClientsAreDroppedAndExtraClientsRefused) {
  startServer(milliseconds{300}, 1);
  auto idle = connectUnix(path_, milliseconds{1000});
  ASSERT_TRUE(idle.ok());
  std::this_thread::sleep_for(milliseconds{100});
  // The only slot is taken: a second client is told so and closed.
  auto second = call(path_, "echo", nlohmann::json::object(), milliseconds{1000});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, errc::busy);
  EXPECT_GE(server_.counters().rejected_clients.load(), 1u);
  // After the idle timeout the slot is free again.
  std::this_thread::sleep_for(milliseconds{1500});
  EXPECT_TRUE(call(path_, "echo").ok());
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

}  // namespace
}  // namespace hale::control
