// hale-agent and halectl as an operator runs them: separate processes, signals, exit codes.

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "ports.h"
#include "process.h"
#include "temp_dir.h"

namespace hale::agent {
namespace {

using hale::test::ChildProcess;
using hale::test::CommandResult;
using hale::test::runCommand;
using hale::test::SpawnOptions;
using hale::test::waitFor;
using std::chrono::milliseconds;

class AgentProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    socket_ = dir_.path() + "/agent.sock";
    config_ = dir_.path() + "/agent.toml";
    app_port_ = app_.port();
  }

  std::string config(const std::string& checks, const std::string& extra = "") const {
    return "node = \"proc-1\"\nregion = \"eu\"\ncontrol_socket = \"" + socket_ +
           "\"\nheartbeat_interval = \"100ms\"\n" + extra + "\n[http]\nlisten = \"127.0.0.1\"\nport = 0\n" + checks;
  }
  std::string tcpCheck(const std::string& name, bool critical = true) const {
    return "[[check]]\nname = \"" + name +
           "\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = " + std::to_string(app_port_) +
           "\ninterval = \"100ms\"\ntimeout = \"80ms\"\nfall = 1\nrise = 1\ncritical = " +
           (critical ? "true" : "false") + "\n";
  }
  void writeConfig(const std::string& text) const { std::ofstream(config_) << text; }

  std::unique_ptr<ChildProcess> startAgent() {
    auto p = std::make_unique<ChildProcess>(
        SpawnOptions{.argv = {HALE_AGENT_BIN, "--config", config_}, .log_path = dir_.path() + "/agent.log"});
    EXPECT_TRUE(waitFor([&] { return halectl({"status"}).exit_code != 2; }, milliseconds{5000})) << p->logTail();
    return p;
  }
  CommandResult halectl(std::vector<std::string> args) const {
    std::vector<std::string> argv = {HALECTL_BIN, "--socket", socket_};
    argv.insert(argv.end(), args.begin(), args.end());
    return runCommand(SpawnOptions{.argv = argv}, milliseconds{5000});
  }
  void closeApp() { app_.close(); }

  hale::test::TempDir dir_{"agentproc"};
  std::string socket_;
  std::string config_;
  hale::test::LoopbackListener app_;  // the "application" the tcp checks probe
  uint16_t app_port_ = 0;
};

TEST_F(AgentProcessTest, CheckConfigExitCodes) {
  writeConfig(config(tcpCheck("app")));
  CommandResult ok =
      runCommand(SpawnOptions{.argv = {HALE_AGENT_BIN, "--config", config_, "--check-config"}}, milliseconds{5000});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_EQ(ok.output, config_ + ": valid (1 checks)\n");

  writeConfig("region = 5\nbogus = true\n[[check]]\nname = \"x\"\ntype = \"tcp\"\nhost = \"h\"\n");
  CommandResult bad =
      runCommand(SpawnOptions{.argv = {HALE_AGENT_BIN, "--config", config_, "--check-config"}}, milliseconds{5000});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find(config_ + ":1: region: expected a string, got an integer"), std::string::npos)
      << bad.output;
  EXPECT_NE(bad.output.find(config_ + ":2: bogus: unknown key"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find(config_ + ":3: check[0].port: required key is missing"), std::string::npos) << bad.output;

  EXPECT_EQ(runCommand(SpawnOptions{.argv = {HALE_AGENT_BIN, "--nope"}}, milliseconds{5000}).exit_code, 64);
}

TEST_F(AgentProcessTest, HalectlStatusTableJsonAndExitCodes) {
  writeConfig(config(tcpCheck("app") + tcpCheck("cache", false)));
  auto agent = startAgent();
  ASSERT_TRUE(waitFor([&] { return halectl({"status"}).exit_code == 0; }, milliseconds{3000}));
  CommandResult healthy = halectl({"status"});
  EXPECT_NE(healthy.output.find("node    proc-1  region eu  status HEALTHY"), std::string::npos) << healthy.output;
  EXPECT_NE(healthy.output.find("CHECK"), std::string::npos);
  EXPECT_NE(healthy.output.find("app    tcp   pass"), std::string::npos) << healthy.output;
  EXPECT_NE(healthy.output.find("cache  tcp   pass    no"), std::string::npos) << healthy.output;

  CommandResult json = halectl({"status", "--json"});
  EXPECT_EQ(json.exit_code, 0);
  const auto j = nlohmann::json::parse(json.output);
  EXPECT_EQ(j["status"], "healthy");
  EXPECT_EQ(j["checks"].size(), 2u);

  CommandResult checks = halectl({"checks"});
  EXPECT_EQ(checks.exit_code, 0);
  EXPECT_NE(checks.output.find("RISE/FALL"), std::string::npos);

  closeApp();  // both checks fail: the critical one makes the node unhealthy
  ASSERT_TRUE(waitFor([&] { return halectl({"status"}).exit_code == 1; }, milliseconds{3000}));
  EXPECT_NE(halectl({"status"}).output.find("status UNHEALTHY"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(halectl({"status", "--json"}).output)["status"], "unhealthy");

  agent->stop(SIGTERM);
  CommandResult gone = halectl({"status"});
  EXPECT_EQ(gone.exit_code, 2);
  EXPECT_NE(gone.output.find("unreachable"), std::string::npos) << gone.output;
}

TEST_F(AgentProcessTest, DegradedNodeExitsOne) {
  writeConfig(config(tcpCheck("optional", false) +
                     "[[check]]\nname = \"ok\"\ntype = \"exec\"\ncommand = [\"/bin/true\"]\n"
                     "interval = \"100ms\"\ntimeout = \"80ms\"\n"));
  closeApp();
  auto agent = startAgent();
  ASSERT_TRUE(waitFor([&] { return halectl({"status"}).output.find("status DEGRADED") != std::string::npos; },
                      milliseconds{3000}));
  EXPECT_EQ(halectl({"status"}).exit_code, 1);
}

TEST_F(AgentProcessTest, SighupKeepsTheOldConfigWhenTheNewOneIsBroken) {
  writeConfig(config(tcpCheck("first")));
  auto agent = startAgent();
  ASSERT_TRUE(waitFor([&] { return halectl({"status"}).exit_code == 0; }, milliseconds{3000}));

  writeConfig("region = \"eu\"\n[[check]]\nname = \"broken\"\ntype = \"tcp\"\n");  // port missing
  ::kill(agent->pid(), SIGHUP);
  ASSERT_TRUE(
      waitFor([&] { return agent->logTail().find("-config-reload-refused") != std::string::npos; }, milliseconds{3000}))
      << agent->logTail();
  EXPECT_NE(agent->logTail().find("check[0].port: required key is missing"), std::string::npos);
  CommandResult still = halectl({"status"});
  EXPECT_EQ(still.exit_code, 0) << still.output;
  EXPECT_NE(still.output.find("first"), std::string::npos);
  EXPECT_TRUE(agent->running());

  writeConfig(config(tcpCheck("second")));
  ::kill(agent->pid(), SIGHUP);
  ASSERT_TRUE(waitFor(
      [&] {
        const CommandResult s = halectl({"status"});
        return s.exit_code == 0 && s.output.find("second") != std::string::npos &&
               s.output.find("first") == std::string::npos;
      },
      milliseconds{3000}))
      << halectl({"status"}).output;
  const auto metrics = nlohmann::json::parse(halectl({"raw", "status", "--json"}).output);
  EXPECT_EQ(metrics["checks"][0]["name"], "second");
}

// Whether `pid` has a child process whose command is `name` (read from /proc: no procps on a stock image).
bool hasChildNamed(pid_t pid, const std::string& name) {
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::istringstream children(hale::test::readFile(task.path().string() + "/children"));
    for (pid_t child; children >> child;) {
      if (hale::test::readFile("/proc/" + std::to_string(child) + "/comm") == name + "\n") return true;
    }
  }
  return false;
}

// A stop waits for a running probe only up to the scheduler's 500 ms grace. The probe here would run 9 s (its
// timeout), so the bound is a third of that: a stop that waited for it fails, a loaded machine does not.
TEST_F(AgentProcessTest, SigtermDoesNotWaitForARunningProbe) {
  writeConfig(config(tcpCheck("app") +
                     "[[check]]\nname = \"slow\"\ntype = \"exec\"\ncommand = [\"/bin/sleep\", \"30\"]\n"
                     "interval = \"10s\"\ntimeout = \"9s\"\ncritical = false\n"));
  auto agent = startAgent();
  // The slow plugin is running once its process exists (a child of the agent running sleep).
  ASSERT_TRUE(waitFor([&] { return hasChildNamed(agent->pid(), "sleep"); }, milliseconds{5000}));
  const auto t0 = std::chrono::steady_clock::now();
  ::kill(agent->pid(), SIGTERM);
  ASSERT_TRUE(agent->waitExit(milliseconds{9000}));
  const auto took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0);
  std::cout << "stopped " << took.count() << " ms after SIGTERM with a probe running\n";
  EXPECT_LT(took, milliseconds{3000});
  EXPECT_TRUE(WIFEXITED(agent->waitStatus()));
  EXPECT_EQ(WEXITSTATUS(agent->waitStatus()), 0);
  EXPECT_NE(::access(socket_.c_str(), F_OK), 0) << "the status socket file is left behind";
}

TEST_F(AgentProcessTest, NotifiesSystemdReadyAndWatchdog) {
  // Plays systemd: a datagram socket in NOTIFY_SOCKET, a watchdog interval in WATCHDOG_USEC.
  const std::string notify_path = dir_.path() + "/notify";
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", notify_path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  writeConfig(config(tcpCheck("app")));
  ChildProcess agent(SpawnOptions{.argv = {HALE_AGENT_BIN, "--config", config_},
                                  .log_path = dir_.path() + "/agent.log",
                                  .env = {"NOTIFY_SOCKET=" + notify_path, "WATCHDOG_USEC=400000"}});
  std::string seen;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{5};
  while (std::chrono::steady_clock::now() < deadline &&
         (seen.find("READY=1") == std::string::npos || seen.find("WATCHDOG=1") == std::string::npos)) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[512];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) seen.append(buf, static_cast<size_t>(n)).append("\n");
  }
  EXPECT_NE(seen.find("READY=1"), std::string::npos) << seen;
  EXPECT_NE(seen.find("WATCHDOG=1"), std::string::npos) << seen;
  ::kill(agent.pid(), SIGTERM);
  ASSERT_TRUE(agent.waitExit(milliseconds{2000}));
  for (char buf[512];;) {  // what the agent said on its way out
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) break;
    seen.append(buf, static_cast<size_t>(n)).append("\n");
  }
  EXPECT_NE(seen.find("STOPPING=1"), std::string::npos) << seen;
  ::close(fd);
}

// #15 item 6: log_format = "json": every line one JSON object, a refused reload included; a reload back to
// text applies at once.
TEST_F(AgentProcessTest, JsonLogLinesEachParseAndAReloadSwitchesBack) {
  writeConfig(config(tcpCheck("app"), "log_format = \"json\""));
  const std::string log = dir_.path() + "/json.log";
  // A JOURNAL_STREAM that is not this stderr (inherited, then redirected): no journald prefixes.
  ChildProcess agent(
      SpawnOptions{.argv = {HALE_AGENT_BIN, "--config", config_}, .log_path = log, .env = {"JOURNAL_STREAM=8:123456"}});
  ASSERT_TRUE(waitFor([&] { return hale::test::readFile(log).find("+agent-started") != std::string::npos; },
                      milliseconds{5000}))
      << hale::test::readFile(log);
  writeConfig(config(tcpCheck("app"), "log_format = \"json\"\nbogus = 1"));  // refused: stays JSON
  ::kill(agent.pid(), SIGHUP);
  ASSERT_TRUE(waitFor([&] { return hale::test::readFile(log).find("-config-reload-refused") != std::string::npos; },
                      milliseconds{5000}));
  std::istringstream lines(hale::test::readFile(log));
  int parsed = 0;
  for (std::string line; std::getline(lines, line); ++parsed) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object() && j.contains("event") && j.contains("level") && j.contains("ts")) << line;
  }
  EXPECT_GE(parsed, 2);
  writeConfig(config(tcpCheck("app")));
  ::kill(agent.pid(), SIGHUP);
  ASSERT_TRUE(waitFor([&] { return hale::test::readFile(log).find(" info +config-reloaded") != std::string::npos; },
                      milliseconds{5000}))
      << hale::test::readFile(log);
  ::kill(agent.pid(), SIGTERM);
  ASSERT_TRUE(agent.waitExit(milliseconds{5000}));
}

// #14 item 2: under systemd (JOURNAL_STREAM set) every line carries its syslog priority for journald, so
// `journalctl -p warning` finds the warnings, and no timestamp of its own (journald stamps lines).
TEST_F(AgentProcessTest, UnderSystemdLogLinesCarryTheirPriorityForJournald) {
  const uint16_t dead = hale::test::freeLoopbackPort();
  writeConfig(
      config(tcpCheck("app"), "insecure = true\naggregators = [\"tcp://127.0.0.1:" + std::to_string(dead) + "\"]"));
  const std::string log = dir_.path() + "/journald.log";
  // JOURNAL_STREAM names the device and inode of the stream systemd connected: here, the log file.
  std::ofstream(log).flush();
  struct stat st {};
  ASSERT_EQ(::stat(log.c_str(), &st), 0);
  const std::string stream = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  ChildProcess agent(SpawnOptions{
      .argv = {HALE_AGENT_BIN, "--config", config_}, .log_path = log, .env = {"JOURNAL_STREAM=" + stream}});
  ASSERT_TRUE(waitFor([&] { return hale::test::readFile(log).find("+agent-started") != std::string::npos; },
                      milliseconds{5000}))
      << hale::test::readFile(log);
  ::kill(agent.pid(), SIGTERM);
  ASSERT_TRUE(agent.waitExit(milliseconds{2000}));
  const std::string text = hale::test::readFile(log);
  EXPECT_NE(text.find("<6>info +agent-started"), std::string::npos) << text;
  EXPECT_NE(text.find("<4>warn +heartbeats-insecure"), std::string::npos) << text;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_EQ(line.rfind('<', 0), 0u) << "a line without its priority: " << line;
  }
}

long rssKiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

TEST_F(AgentProcessTest, MemoryStaysFlatWithNoAggregatorListening) {
  // Two aggregators that do not exist: one port nobody listens on, one never-answering listener.
  const uint16_t dead = hale::test::freeLoopbackPort();
  writeConfig(config(tcpCheck("app"), "insecure = true\naggregators = [\"tcp://127.0.0.1:" + std::to_string(dead) +
                                          "\", \"tcp://127.0.0.1:" + std::to_string(app_port_) + "\"]"));
  auto agent = startAgent();
  std::this_thread::sleep_for(milliseconds{1500});  // warm up: every buffer at its working size
  const long before = rssKiB(agent->pid());
  // Heartbeats made, whether counted sent or (nobody connected) dropped.
  const auto made = [&] {
    const auto s = nlohmann::json::parse(halectl({"raw", "status", "--json"}).output);
    return s["heartbeats_sent"].get<uint64_t>() + s["heartbeats_dropped"].get<uint64_t>();
  };
  const uint64_t sent_before = made();
  std::this_thread::sleep_for(milliseconds{6000});
  const long after = rssKiB(agent->pid());
  const uint64_t sent_after = made();
  EXPECT_GE(sent_after - sent_before, 40u);  // ~60 heartbeats went nowhere
  EXPECT_LT(after - before, 256) << "RSS grew from " << before << " KiB to " << after << " KiB";
  std::cout << "agent RSS " << before << " KiB -> " << after << " KiB over " << (sent_after - sent_before)
            << " undeliverable heartbeats\n";
}

// The shared objects mapped into a process, by file name ("libpq.so.5.15").
std::set<std::string> mappedLibraries(pid_t pid) {
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  std::set<std::string> names;
  for (std::string line; std::getline(maps, line);) {
    const auto slash = line.rfind('/');
    if (slash != std::string::npos && line.find(".so", slash) != std::string::npos)
      names.insert(line.substr(slash + 1));
  }
  return names;
}

bool mapsLibrary(const std::set<std::string>& mapped, const std::string& prefix) {
  return std::any_of(mapped.begin(), mapped.end(), [&](const std::string& n) { return n.rfind(prefix, 0) == 0; });
}

// #16: a node that runs only tcp and exec checks maps none of the database or HTTP client libraries (nor the
// OpenSSL that libcurl and libpq bring); each is opened when a check of its type is configured, at start or
// on a reload.
TEST_F(AgentProcessTest, ClientLibrariesAreMappedOnlyOnceACheckNeedsThem) {
  const uint16_t dead = hale::test::freeLoopbackPort();
  const std::string extra = "insecure = true\naggregators = [\"tcp://127.0.0.1:" + std::to_string(dead) + "\"]";
  const std::string exec_check = "[[check]]\nname = \"script\"\ntype = \"exec\"\ncommand = [\"/bin/true\"]\n";
  writeConfig(config(tcpCheck("app") + exec_check, extra));
  auto agent = startAgent();
  std::this_thread::sleep_for(milliseconds{500});  // every check has run
  const auto light = mappedLibraries(agent->pid());
  ASSERT_TRUE(mapsLibrary(light, "libmicrohttpd.so")) << "the maps parse found nothing";
  for (const char* lib : {"libpq.so", "libmariadb.so", "libcurl.so", "libssl.so", "libcrypto.so", "libsystemd.so"}) {
    EXPECT_FALSE(mapsLibrary(light, lib)) << lib << " is mapped with only tcp and exec checks";
  }

  // The database and HTTP checks need not reach anything to be configured: their libraries open then.
  const std::string port = std::to_string(dead);
  writeConfig(config(tcpCheck("app") + exec_check +
                         "[[check]]\nname = \"pg\"\ntype = \"postgres\"\nconninfo = \"host=127.0.0.1 port=" + port +
                         " dbname=x user=x\"\ncritical = false\n"
                         "[[check]]\nname = \"my\"\ntype = \"mysql\"\nport = " +
                         port +
                         "\nuser = \"x\"\ncritical = false\n"
                         "[[check]]\nname = \"web\"\ntype = \"http\"\nurl = \"http://127.0.0.1:" +
                         port + "/\"\ncritical = false\n",
                     extra));
  ::kill(agent->pid(), SIGHUP);
  ASSERT_TRUE(waitFor(
      [&] {
        const auto mapped = mappedLibraries(agent->pid());
        return mapsLibrary(mapped, "libpq.so") && mapsLibrary(mapped, "libmariadb.so") &&
               mapsLibrary(mapped, "libcurl.so");
      },
      milliseconds{5000}))
      << agent->logTail();
  EXPECT_TRUE(waitFor(
      [&] {
        return halectl({"raw", "status", "--json"}).output.find("\"pg\"") != std::string::npos;
      },
      milliseconds{5000}));
}

// #15 item 2: an agent pointed at a port where nothing listens says so (per aggregator, with the reason),
// `halectl status` exits 1, and its heartbeats count as dropped, not sent; once an aggregator listens
// there, the link shows connected, status exits 0 and heartbeats count as sent. Failed before: the agent
// reported "heartbeats_sent: 12, dropped: 0" to nobody.
TEST_F(AgentProcessTest, AnAggregatorNobodyListensOnIsShownAndItsHeartbeatsAreNotCountedSent) {
  const uint16_t port = hale::test::freeLoopbackPort();
  // By host name: after a reconnect ZeroMQ names the connection by its resolved address, which must not
  // lose track of the link.
  const std::string endpoint = "tcp://localhost:" + std::to_string(port);
  const std::string bound = "tcp://127.0.0.1:" + std::to_string(port);
  writeConfig(config(tcpCheck("app"), "insecure = true\naggregators = [\"" + endpoint + "\"]"));
  auto agent = startAgent();
  const auto status = [&] {
    return nlohmann::json::parse(halectl({"raw", "status", "--json"}).output, nullptr, false);
  };
  ASSERT_TRUE(waitFor(
      [&] {
        const auto s = status();
        return s.is_object() && s["connections"].size() == 1 &&
               s["connections"][0].value("problem", "").find("cannot connect") != std::string::npos &&
               s.value("heartbeats_dropped", 0) > 2;
      },
      milliseconds{5000}))
      << status().dump();
  EXPECT_EQ(status().value("heartbeats_sent", -1), 0);
  CommandResult shown = halectl({"status"});
  EXPECT_EQ(shown.exit_code, 1) << shown.output;
  EXPECT_NE(shown.output.find("link    " + endpoint + ": NOT CONNECTED"), std::string::npos) << shown.output;
  EXPECT_NE(shown.output.find("! no aggregator is connected"), std::string::npos) << shown.output;

  // An aggregator's socket appears there (a plaintext SUB, as an insecure aggregator binds).
  zmq::context_t ctx;
  auto sub = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::sub);
  sub->set(zmq::sockopt::linger, 0);
  sub->set(zmq::sockopt::subscribe, "");
  sub->bind(bound);
  ASSERT_TRUE(waitFor([&] { return status()["connections"][0].value("connected", false); }, milliseconds{5000}))
      << status().dump();
  ASSERT_TRUE(waitFor([&] { return status().value("heartbeats_sent", 0) > 0; }, milliseconds{3000}));
  zmq::message_t m;
  sub->set(zmq::sockopt::rcvtimeo, 2000);
  EXPECT_TRUE(sub->recv(m)) << "a heartbeat counted sent arrived";
  CommandResult connected = halectl({"status"});
  EXPECT_EQ(connected.exit_code, 0) << connected.output;
  EXPECT_NE(connected.output.find("link    " + endpoint + ": connected"), std::string::npos) << connected.output;

  // The aggregator restarts: the link is lost, then connected again (by its resolved address now).
  sub.reset();
  ASSERT_TRUE(waitFor([&] { return !status()["connections"][0].value("connected", true); }, milliseconds{8000}))
      << status().dump();
  sub = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::sub);
  sub->set(zmq::sockopt::linger, 0);
  sub->set(zmq::sockopt::subscribe, "");
  sub->bind(bound);
  ASSERT_TRUE(waitFor([&] { return status()["connections"][0].value("connected", false); }, milliseconds{8000}))
      << status().dump();
}

// #16: every thread an operator sees in `top -H` or `ps -L` says what it does: one per check (chk:<name>), the
// check watchdog, the heartbeat publisher, the control socket; libzmq and libmicrohttpd name their own.
TEST_F(AgentProcessTest, EveryThreadSaysWhatItDoes) {
  const uint16_t dead = hale::test::freeLoopbackPort();
  writeConfig(config(tcpCheck("app") + tcpCheck("a-long-check-name"),
                     "insecure = true\naggregators = [\"tcp://127.0.0.1:" + std::to_string(dead) + "\"]"));
  auto agent = startAgent();
  const std::vector<std::string> expected{"chk:app", "chk:a-long-chec", "watchdog", "heartbeats", "control"};
  const std::vector<std::string> threads = hale::test::settledThreadNames(agent->pid(), "hale-agent", expected);
  const std::multiset<std::string> names(threads.begin(), threads.end());
  std::string shown;
  for (const auto& n : names) shown += n + ",";
  for (const std::string& e : expected) EXPECT_EQ(names.count(e), 1u) << e << " in " << shown;
  EXPECT_EQ(names.count("hale-agent"), 1u) << "only the main thread keeps the program's name: " << shown;
}

}  // namespace
}  // namespace hale::agent
