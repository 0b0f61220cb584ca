// http, tcp and exec checks against peers the test runs itself.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "canned_http_server.h"
#include "check_runner.h"
#include "http_client.h"
#include "ports.h"
#include "process.h"
#include "temp_dir.h"

namespace hale::agent {
namespace {

using std::chrono::milliseconds;
using test::runCheck;

TEST(HttpCheck, StatusAndBody) {
  hale::test::CannedHttpServer app;
  const std::string base = "type = \"http\"\nurl = \"" + app.url("/health") + "\"\n";
  app.respond(200, "{\"status\":\"ok\"}");
  EXPECT_OUTCOME(runCheck(base), Outcome::pass);
  EXPECT_OUTCOME(runCheck(base + "body_contains = \"\\\"ok\\\"\"\n"), Outcome::pass);
  auto r = runCheck(base + "body_contains = \"ready\"\n");
  EXPECT_OUTCOME(r, Outcome::fail);
  EXPECT_EQ(r.result.message, "HTTP 200 but the body lacks the expected text");
  app.respond(503, "draining");
  r = runCheck(base);
  EXPECT_OUTCOME(r, Outcome::fail);
  EXPECT_EQ(r.result.message, "HTTP 503");
  app.respond(204, "");
  EXPECT_OUTCOME(runCheck(base + "expect_status = 204\n"), Outcome::pass);
  r = runCheck(base + "expect_status = 200\n");
  EXPECT_OUTCOME(r, Outcome::fail);
  EXPECT_EQ(r.result.message, "HTTP 204 (expected 200)");
  EXPECT_EQ(app.requests().front(), "GET /health HTTP/1.1");
}

// #16: one check probes over one kept connection, not a new one (and a new handshake) per probe; a
// connection the server closed is replaced without failing a probe.
TEST(HttpCheck, ProbesReuseOneConnection) {
  hale::test::CannedHttpServer app;
  app.keepAlive(true);
  app.respond(200, "ok");
  auto check = test::makeCheck("type = \"http\"\nurl = \"" + app.url("/health") + "\"\n");
  ASSERT_NE(check, nullptr);
  for (int i = 0; i < 20; ++i) EXPECT_OUTCOME(runCheck(*check, milliseconds{2000}), Outcome::pass);
  EXPECT_EQ(app.requests().size(), 20u);
  EXPECT_EQ(app.connections(), 1);
  app.keepAlive(false);  // the next answer closes the connection
  EXPECT_OUTCOME(runCheck(*check, milliseconds{2000}), Outcome::pass);
  EXPECT_OUTCOME(runCheck(*check, milliseconds{2000}), Outcome::pass);
  EXPECT_EQ(app.connections(), 2);
}

// A kept connection is not used past its age (a server wedged for new connections still answers on old
// ones; a name may point elsewhere now): after it, the next request opens a new one.
TEST(HttpSession, AKeptConnectionIsReplacedOnceItIsMaxConnectionAgeOld) {
  hale::test::CannedHttpServer app;
  app.keepAlive(true);
  app.respond(200, "ok");
  HttpSession session;
  const HttpRequest request{.url = app.url("/"), .max_connection_age = std::chrono::seconds{1}};
  EXPECT_EQ(session.perform(request).status, 200);
  EXPECT_EQ(session.perform(request).status, 200);
  EXPECT_EQ(app.connections(), 1);
  std::this_thread::sleep_for(milliseconds{2100});  // libcurl counts whole seconds: older than 1 s is 2 s
  EXPECT_EQ(session.perform(request).status, 200);
  EXPECT_EQ(app.connections(), 2);
}

TEST(HttpCheck, NoAnswerIsATransientError) {
  hale::test::CannedHttpServer app;
  app.respond(200, "late", milliseconds{3000});
  auto slow = runCheck("type = \"http\"\nurl = \"" + app.url() + "\"\n", milliseconds{300});
  EXPECT_OUTCOME(slow, Outcome::error);
  EXPECT_EQ(slow.result.message, "no answer within the timeout");
  EXPECT_LT(slow.elapsed, milliseconds{1000});
  const uint16_t closed = hale::test::freeLoopbackPort();
  auto refused = runCheck("type = \"http\"\nurl = \"http://127.0.0.1:" + std::to_string(closed) + "/\"\n");
  EXPECT_OUTCOME(refused, Outcome::error);
}

TEST(TcpCheck, OpenAndClosedPorts) {
  hale::test::LoopbackListener listener;
  const std::string port = std::to_string(listener.port());
  EXPECT_OUTCOME(runCheck("type = \"tcp\"\nhost = \"127.0.0.1\"\nport = " + port + "\n"), Outcome::pass);
  EXPECT_OUTCOME(runCheck("type = \"tcp\"\nhost = \"localhost\"\nport = " + port + "\n"), Outcome::pass);
  listener.close();
  auto r = runCheck("type = \"tcp\"\nhost = \"127.0.0.1\"\nport = " + port + "\n");
  EXPECT_OUTCOME(r, Outcome::error);
  EXPECT_NE(r.result.message.find("Connection refused"), std::string::npos) << r.result.message;
  auto unresolvable = runCheck("type = \"tcp\"\nhost = \"no-such-host.invalid\"\nport = 1\n");
  EXPECT_OUTCOME(unresolvable, Outcome::error);
}

TEST(ExecCheck, NagiosExitCodes) {
  auto exec = [](const std::string& script) {
    return runCheck("type = \"exec\"\ncommand = [\"/bin/sh\", \"-c\", \"" + script + "\"]\n");
  };
  auto ok = exec("echo 'DISK OK - 40% used'; echo 'second line'; exit 0");
  EXPECT_OUTCOME(ok, Outcome::pass);
  EXPECT_EQ(ok.result.message, "DISK OK - 40% used");
  EXPECT_OUTCOME(exec("echo 'DISK WARNING'; exit 1"), Outcome::warn);
  auto critical = exec("echo 'DISK CRITICAL' >&2; exit 2");
  EXPECT_OUTCOME(critical, Outcome::fail);
  EXPECT_EQ(critical.result.message, "DISK CRITICAL");
  auto unknown = exec("echo 'cannot stat /data'; exit 3");
  EXPECT_OUTCOME(unknown, Outcome::error);
  EXPECT_EQ(unknown.result.message, "exit 3: cannot stat /data");
  EXPECT_OUTCOME(exec("kill -9 $$"), Outcome::error);
}

TEST(ExecCheck, OutputIsTruncated) {
  auto r = runCheck(
      "type = \"exec\"\ncommand = [\"/bin/sh\", \"-c\", \"head -c 100000 /dev/zero | tr '\\\\\\\\0' x; exit 0\"]\n");
  EXPECT_OUTCOME(r, Outcome::pass);
  EXPECT_LE(r.result.message.size(), 200u);
}

TEST(ExecCheck, TimeoutKillsTheWholeProcessGroup) {
  hale::test::TempDir dir("exec");
  const std::string pid_file = dir.path() + "/child.pid";
  // The plugin forks a grandchild that would outlive it, then hangs.
  auto r = runCheck(
      "type = \"exec\"\ncommand = [\"/bin/sh\", \"-c\", \"sleep 60 & echo $! > " + pid_file + "; sleep 60\"]\n",
      milliseconds{300});
  EXPECT_OUTCOME(r, Outcome::error);
  EXPECT_EQ(r.result.message, "timed out; killed the plugin's process group");
  EXPECT_LT(r.elapsed, milliseconds{1500});
  pid_t child = 0;
  std::ifstream(pid_file) >> child;
  ASSERT_GT(child, 0);
  // Gone, or a zombie waiting for init to reap it: either way no longer running.
  const bool gone = hale::test::waitFor(
      [&] {
        const std::string state = hale::test::processState(child);
        return state.empty() || state == "Z";
      },
      milliseconds{2000});
  EXPECT_TRUE(gone) << "grandchild " << child << " survived the timeout";
}

}  // namespace
}  // namespace hale::agent
