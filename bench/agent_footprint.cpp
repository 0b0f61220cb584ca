// hale-agent's cost on a node, beside peers measured the same way in the same run (bench/run.sh):
//   footprint: hale-agent with six checks every 1 s (PostgreSQL, MariaDB, DynamoDB on moto, HTTP, TCP,
//              exec) against real servers, CURVE heartbeats to a real aggregator; beside it
//              prometheus-node-exporter scraped every 15 s and monit checking every 1 s, and the floor of
//              the exec check: a bare loop that posix_spawns the same /bin/true every 1 s. CPU including
//              reaped children, RSS, PSS, anonymous memory (first and last sample), threads.
//   /healthz:  wrk against the agent's /healthz and nginx's `return 200` (one worker, as libmicrohttpd
//              serves from one thread), 1 and 2 wrk threads, 32 connections, rounds interleaved, with
//              the server's, wrk's and the machine's CPU over each run (what bounds the rate); then
//              both at the same fixed rate below saturation (a quarter of the slower one's wrk -t1 rate,
//              or --rate), open loop (fixed_rate_http.h): latency from each request's due time.
//   --tail-by-check: instead of all that, the fixed-rate comparison alone, once per kind of check: an
//              agent with that one check every 1 s (then with all six) against nginx and nginx against
//              itself in the same rounds, so what lengthens the agent's p99 can be told apart. The rounds
//              come in passes over the kinds, alternately forward and in reverse.
// Prints a human summary on stderr and one JSON object on stdout.
//
//   bench_agent_footprint [--seconds N] [--wrk-seconds N] [--rounds N] [--rate R]
//   bench_agent_footprint --tail-by-check [--rounds N] [--rate R]

#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli_args.h"
#include "fixed_rate_http.h"
#include "hale_processes.h"
#include "http_client.h"
#include "mariadb_pair.h"
#include "moto_server.h"
#include "ports.h"
#include "postgres_pair.h"
#include "proc_cpu.h"
#include "process.h"
#include "temp_dir.h"

namespace {

using hale::test::ChildProcess;
using hale::test::SpawnOptions;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

struct Sample {
  double cpu_seconds = 0;  // own user+system plus reaped children's
  double children_seconds = 0;
  double rss_mb = 0;
  double pss_mb = 0;
  double anon_mb = 0;
  int threads = 0;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double kbField(const std::string& text, const std::string& name) {
  const size_t at = text.find(name + ":");
  if (at == std::string::npos) return 0;
  return std::stod(text.substr(at + name.size() + 1)) / 1024.0;
}

Sample sample(pid_t pid) {
  Sample s;
  const std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) throw std::runtime_error("process " + std::to_string(pid) + " is gone");
  std::istringstream fields(stat.substr(close + 2));
  std::vector<std::string> f;
  for (std::string x; fields >> x;) f.push_back(x);
  // Fields after the name, from 3 (state): utime is 14, stime 15, cutime 16, cstime 17.
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double own = (std::stod(f[11]) + std::stod(f[12])) / tick;
  s.children_seconds = (std::stod(f[13]) + std::stod(f[14])) / tick;
  s.cpu_seconds = own + s.children_seconds;
  const std::string status = slurp("/proc/" + std::to_string(pid) + "/status");
  s.rss_mb = kbField(status, "VmRSS");
  s.anon_mb = kbField(status, "RssAnon");
  const size_t t = status.find("Threads:");
  s.threads = t == std::string::npos ? 0 : std::stoi(status.substr(t + 8));
  s.pss_mb = kbField(slurp("/proc/" + std::to_string(pid) + "/smaps_rollup"), "Pss");
  return s;
}

struct Measured {
  std::string name;
  pid_t pid;
  Sample first;
  Sample last;
  double peak_rss_mb = 0;
  double peak_anon_mb = 0;
};

json footprintJson(const Measured& m, double elapsed) {
  const double cpu = m.last.cpu_seconds - m.first.cpu_seconds;
  const double children = m.last.children_seconds - m.first.children_seconds;
  return {{"cpu_percent", 100.0 * cpu / elapsed},
          {"cpu_children_percent", 100.0 * children / elapsed},
          {"rss_mb", m.last.rss_mb},
          {"peak_rss_mb", m.peak_rss_mb},
          {"pss_mb", m.last.pss_mb},
          {"anon_mb_first", m.first.anon_mb},
          {"anon_mb_last", m.last.anon_mb},
          {"peak_anon_mb", m.peak_anon_mb},
          {"threads", m.last.threads}};
}

std::unique_ptr<ChildProcess> spawn(std::vector<std::string> argv, const std::string& log) {
  SpawnOptions o;
  o.argv = std::move(argv);
  o.log_path = log;
  return std::make_unique<ChildProcess>(o);
}

bool waitForHttp(const std::string& url) {
  const auto until = steady_clock::now() + seconds{20};
  while (steady_clock::now() < until) {
    hale::HttpRequest r;
    r.url = url;
    r.timeout = milliseconds{1000};
    if (hale::httpPerform(r).status == 200) return true;
    std::this_thread::sleep_for(milliseconds{100});
  }
  return false;
}

struct WrkResult {
  double rps = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  // Over the same run, in cores (CPU seconds a second): what bounds a saturated rate.
  double server_cores = 0;
  double wrk_cores = 0;
  double machine_busy_cores = 0;
  double server_us_per_request = 0;
};

double toMs(const std::string& value, const std::string& unit) {
  const double v = std::stod(value);
  if (unit == "us") return v / 1000;
  if (unit == "s") return v * 1000;
  return v;
}

// wrk against `url`, served by the process `server` (its CPU is sampled; wrk's comes from the reaped
// children's rusage, wrk being the only child reaped meanwhile).
WrkResult runWrk(const std::string& url, int threads, int seconds_each, pid_t server) {
  const auto childrenCpu = [] {
    rusage u{};
    ::getrusage(RUSAGE_CHILDREN, &u);
    const auto s = [](const timeval& t) {
      return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return s(u.ru_utime) + s(u.ru_stime);
  };
  const double server_before = hale::bench::processCpuSeconds(server);
  const double busy_before = hale::bench::machineBusySeconds();
  const double wrk_before = childrenCpu();
  const auto t0 = steady_clock::now();
  const hale::test::CommandResult r = hale::test::runCommand(
      {{"wrk", "-t" + std::to_string(threads), "-c32", "-d" + std::to_string(seconds_each) + "s", "--latency", url}},
      seconds{seconds_each + 30});
  const double elapsed = std::chrono::duration<double>(steady_clock::now() - t0).count();
  const double server_cpu = hale::bench::processCpuSeconds(server) - server_before;
  if (r.exit_code != 0) throw std::runtime_error("wrk failed: " + r.output);
  WrkResult w;
  std::smatch m;
  if (std::regex_search(r.output, m, std::regex(R"(Requests/sec:\s+([0-9.]+))"))) w.rps = std::stod(m[1]);
  if (std::regex_search(r.output, m, std::regex(R"(\n\s+50%\s+([0-9.]+)(us|ms|s))"))) w.p50_ms = toMs(m[1], m[2]);
  if (std::regex_search(r.output, m, std::regex(R"(\n\s+99%\s+([0-9.]+)(us|ms|s))"))) w.p99_ms = toMs(m[1], m[2]);
  // Non-2xx answers would make the comparison meaningless.
  if (r.output.find("Non-2xx") != std::string::npos) throw std::runtime_error("wrk saw non-2xx answers: " + r.output);
  if (w.rps <= 0) throw std::runtime_error("wrk printed no rate: " + r.output);
  w.server_cores = server_cpu / elapsed;
  w.wrk_cores = (childrenCpu() - wrk_before) / elapsed;
  w.machine_busy_cores = (hale::bench::machineBusySeconds() - busy_before) / elapsed;
  w.server_us_per_request = server_cpu / (w.rps * seconds_each) * 1e6;
  return w;
}

// The exec check's floor: what it costs the kernel and the dynamic loader to start and reap the
// same program at the same pace, with nothing of hale around it. Runs until killed.
[[noreturn]] void spawnEverySecond(const char* program) {
  auto next = steady_clock::now();
  for (;;) {
    char* const child_argv[] = {const_cast<char*>(program), nullptr};
    pid_t pid = 0;
    if (::posix_spawn(&pid, program, nullptr, nullptr, child_argv, environ) == 0) {
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
    next += seconds{1};
    std::this_thread::sleep_until(next);
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// How long to wait past an agent's start-up (its first probes, sessions opened, libraries loaded) before
// measuring for `window` seconds: a quarter of the window, at least 3 s and at most `at_most`.
int warmUpSeconds(int window, int at_most) { return std::clamp(window / 4, 3, at_most); }

using FixedRateRuns = std::map<std::string, std::vector<hale::bench::FixedRateResult>>;

// The agent and nginx at one fixed rate, `rounds` rounds of `seconds` each, nginx twice in each round
// (A/A: the run's own noise); each round's result is appended to `into`. The order rotates, and every
// second set of three rounds runs it backwards (counting from `first_round`, so a run split into calls
// keeps the pattern), so over each six rounds each server follows each other one as often (what
// runs just before can weigh on a round: in a fixed cycle the first nginx, always after the agent, had
// the higher p99 of the two nginx rounds in 51 to 60 % of pairs over three runs).
void measureFixedRateRounds(uint16_t agent_port, uint16_t nginx_port, double rate, int first_round, int rounds,
                            double seconds, FixedRateRuns& into) {
  const std::vector<std::pair<std::string, uint16_t>> servers{
      {"hale-agent", agent_port}, {"nginx", nginx_port}, {"nginx_again", nginx_port}};
  for (int round = first_round; round < first_round + rounds; ++round) {
    for (size_t k = 0; k < servers.size(); ++k) {
      const size_t at = (round + k) % servers.size();
      const auto& [server, port] = servers[(round / servers.size()) % 2 == 0 ? at : servers.size() - 1 - at];
      const hale::bench::FixedRateResult r =
          hale::bench::runFixedRate({.port = port,
                                     .path = server == "hale-agent" ? "/healthz" : "/",
                                     .rate_per_s = rate,
                                     .seconds = seconds,
                                     .connections = 32});
      if (r.errors > 0) {
        throw std::runtime_error(server + " failed " + std::to_string(r.errors) + " of " + std::to_string(r.sent) +
                                 " requests at a fixed rate");
      }
      into[server].push_back(r);
    }
  }
}

// Per server: medians over the rounds, the p99 of each; the agent's p99 and nginx's second one over nginx's.
json summariseFixedRate(const FixedRateRuns& fixed, double rate, double seconds) {
  const size_t rounds = fixed.empty() ? 0 : fixed.begin()->second.size();
  json fr{{"rate_per_s", rate}, {"connections", 32}, {"seconds_per_run", seconds}, {"rounds", rounds}};
  for (const auto& [server, results] : fixed) {
    std::vector<double> p50, p99, p999, achieved;
    double max_ms = 0;
    uint64_t late = 0, sent = 0;
    for (const auto& r : results) {
      p50.push_back(r.p50_ms);
      p99.push_back(r.p99_ms);
      p999.push_back(r.p999_ms);
      achieved.push_back(r.achieved_per_s);
      max_ms = std::max(max_ms, r.max_ms);
      late += r.sent_late;
      sent += r.sent;
    }
    fr[server] = {{"p50_ms_median", median(p50)},
                  {"p99_ms_median", median(p99)},
                  {"p999_ms_median", median(p999)},
                  {"max_ms", max_ms},
                  {"achieved_per_s_median", median(achieved)},
                  {"sent_late", late},
                  {"sent", sent},
                  {"p99_ms_rounds", p99}};
  }
  const auto p99Of = [&](const char* server) { return std::max(1e-6, fr[server]["p99_ms_median"].get<double>()); };
  fr["p99_ratio_median"] = p99Of("hale-agent") / p99Of("nginx");
  fr["p99_aa_ratio_median"] = p99Of("nginx_again") / p99Of("nginx");
  return fr;
}

void stopAgent(hale::test::AgentProcess& agent) {
  agent.signal(SIGTERM);
  for (int i = 0; i < 50 && agent.running(); ++i) std::this_thread::sleep_for(milliseconds{100});
  if (agent.running()) agent.kill();
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc == 3 && std::string(argv[1]) == "--spawn-every-second") spawnEverySecond(argv[2]);
  auto parsed = hale::CliArgs::parse(argc, argv, {"tail-by-check"}, {"seconds", "wrk-seconds", "rounds", "rate"});
  if (!parsed || !parsed.value().positional().empty()) {
    std::cerr << "usage: bench_agent_footprint [--seconds N] [--wrk-seconds N] [--rounds N] [--rate R]\n"
                 "       bench_agent_footprint --tail-by-check [--rounds N] [--rate R]\n";
    return hale::kExitUsage;
  }
  const hale::CliArgs& args = parsed.value();
  const bool tail_by_check = args.has("tail-by-check");
  if (tail_by_check && (args.value("seconds") || args.value("wrk-seconds"))) {
    std::cerr << "bench_agent_footprint: --tail-by-check measures only the fixed rate; --seconds and "
                 "--wrk-seconds do not apply\n";
    return hale::kExitUsage;
  }
  const int soak_seconds = std::stoi(args.valueOr("seconds", "300"));
  const int wrk_seconds = std::stoi(args.valueOr("wrk-seconds", "10"));
  const int rounds = std::stoi(args.valueOr("rounds", "3"));
  hale::test::TempDir dir("bench-agent");

  std::cerr << "starting PostgreSQL, MariaDB, moto, nginx ...\n";
  hale::test::PostgresPair pg;
  pg.start();
  hale::test::MariadbPair my;
  my.start();
  hale::test::MotoServer moto;
  moto.start();
  {
    hale::HttpRequest r;
    r.method = "POST";
    r.url = moto.endpoint() + "/";
    r.headers = {"Content-Type: application/x-amz-json-1.0", "X-Amz-Target: DynamoDB_20120810.CreateTable"};
    r.body = R"({"TableName":"app","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],)"
             R"("KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST"})";
    r.aws_sigv4 = "aws:amz:eu-west-1:dynamodb";
    r.userpwd = std::string(hale::test::MotoServer::kAccessKey) + ":" + hale::test::MotoServer::kSecretKey;
    if (hale::httpPerform(r).status != 200) throw std::runtime_error("moto CreateTable failed");
  }

  // nginx: the HTTP and TCP checks' target and the /healthz baseline.
  const uint16_t nginx_port = hale::test::freeLoopbackPort();
  const std::string nginx_conf = dir.writeFile(
      "nginx.conf", "daemon off;\nworker_processes 1;\npid " + dir.path() + "/nginx.pid;\nerror_log " + dir.path() +
                        "/nginx-error.log;\nevents { worker_connections 1024; }\nhttp {\n  access_log off;\n"
                        "  client_body_temp_path " +
                        dir.path() + "/nginx-body;\n  server {\n    listen 127.0.0.1:" + std::to_string(nginx_port) +
                        ";\n    location / { return 200 \"ok\\n\"; }\n  }\n}\n");
  auto nginx = spawn({"nginx", "-c", nginx_conf, "-p", dir.path()}, dir.path() + "/nginx.log");
  const std::string nginx_url = "http://127.0.0.1:" + std::to_string(nginx_port) + "/";
  if (!waitForHttp(nginx_url)) throw std::runtime_error("nginx did not answer: " + nginx->logTail());
  const pid_t nginx_worker = [&] {  // the one that serves (and whose CPU counts); the master only watches it
    const std::string master = std::to_string(nginx->pid());
    std::istringstream children(slurp("/proc/" + master + "/task/" + master + "/children"));
    pid_t pid = 0;
    if (!(children >> pid)) throw std::runtime_error("nginx has no worker process: " + nginx->logTail());
    return pid;
  }();

  const std::string aws_id = dir.writeFile("ak", hale::test::MotoServer::kAccessKey, 0600);
  const std::string aws_secret = dir.writeFile("sk", hale::test::MotoServer::kSecretKey, 0600);
  const std::string my_password = dir.writeFile("mysql-password", hale::test::MariadbPair::kPassword, 0600);

  hale::test::AggregatorProcess aggregator(
      dir,
      "[[region]]\nname = \"eu\"\nrole = \"active\"\nnodes = [\"bench-node\"]\n[[region]]\nname = \"us\"\n"
      "nodes = [\"bench-us\"]\n");
  aggregator.start();
  using Node = hale::test::PostgresPair::Node;
  const std::string every = "interval = \"1s\"\ntimeout = \"800ms\"\n";
  // Each check's table, in the order the agent is configured with them.
  const std::vector<std::pair<std::string, std::string>> check_tables{
      {"postgres", "[[check]]\nname = \"postgres\"\ntype = \"postgres\"\nconninfo = \"" + pg.conninfo(Node::primary) +
                       "\"\n" + every},
      {"mysql", "[[check]]\nname = \"mysql\"\ntype = \"mysql\"\nhost = \"127.0.0.1\"\nport = " +
                    std::to_string(my.port(hale::test::MariadbPair::Node::primary)) + "\nuser = \"" +
                    hale::test::MariadbPair::kUser + "\"\npassword_file = \"" + my_password + "\"\n" + every},
      {"dynamodb", "[[check]]\nname = \"dynamodb\"\ntype = \"dynamodb\"\nregion = \"eu-west-1\"\nendpoint = \"" +
                       moto.endpoint() + "\"\ntable = \"app\"\naccess_key_file = \"" + aws_id +
                       "\"\nsecret_key_file = \"" + aws_secret + "\"\n" + every},
      {"http", "[[check]]\nname = \"http\"\ntype = \"http\"\nurl = \"" + nginx_url + "\"\n" + every},
      {"tcp", "[[check]]\nname = \"tcp\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = " + std::to_string(nginx_port) +
                  "\n" + every},
      {"exec", "[[check]]\nname = \"exec\"\ntype = \"exec\"\ncommand = [\"/bin/true\"]\n" + every},
  };
  const auto tables = [&](std::initializer_list<std::string_view> names) {
    std::string out = "heartbeat_interval = \"1s\"\n";
    for (const auto& [name, table] : check_tables) {
      if (names.size() == 0 || std::find(names.begin(), names.end(), name) != names.end()) out += table;
    }
    return out;
  };
  if (tail_by_check) {
    // A quarter of nginx's saturated wrk -t1 rate, as in the full run (where the slower of the two sets it).
    const double rate = args.value("rate")
                            ? std::stod(*args.value("rate"))
                            : std::max(1000.0, std::floor(runWrk(nginx_url, 1, 5, nginx_worker).rps / 4 / 1000) * 1000);
    const int rounds_each = std::stoi(args.valueOr("rounds", "9"));
    if (rounds_each < 1) throw std::runtime_error("--rounds must be at least 1");
    json report{{"rate_per_s", rate}, {"rounds", rounds_each}};
    // Each kind of check alone, then all six. The rounds are split into passes, alternately in this
    // order and in reverse, so a drift of the machine over the run's minutes weighs on the kinds more
    // evenly than in one order (with three passes not exactly alike: the middle kinds sit nearer the
    // middle).
    std::vector<std::pair<std::string, std::string>> runs;
    runs.reserve(check_tables.size() + 1);
    for (const auto& [name, table] : check_tables) runs.emplace_back(name, tables({name}));
    runs.emplace_back("all six", tables({}));
    const int passes = std::min(rounds_each, 3);
    std::map<std::string, FixedRateRuns> by_check;
    for (int pass = 0, first_round = 0; pass < passes; ++pass) {
      const int rounds_now = rounds_each / passes + (pass < rounds_each % passes ? 1 : 0);
      for (size_t i = 0; i < runs.size(); ++i) {
        const auto& [label, body] = runs[pass % 2 == 0 ? i : runs.size() - 1 - i];
        hale::test::AgentProcess one(dir, "bench-node", "eu", {aggregator.endpoint()}, body);
        one.start();
        if (!waitForHttp("http://127.0.0.1:" + std::to_string(one.httpPort()) + "/healthz")) {
          throw std::runtime_error("the agent with " + label + " never answered 200: " + one.log());
        }
        std::this_thread::sleep_for(seconds{3});  // its first probes, sessions opened, libraries loaded
        measureFixedRateRounds(one.httpPort(), nginx_port, rate, first_round, rounds_now, 2.0, by_check[label]);
        stopAgent(one);
      }
      first_round += rounds_now;
      std::fprintf(stderr, "pass %d of %d done\n", pass + 1, passes);
    }
    for (const auto& [label, body] : runs) {
      const json fr = summariseFixedRate(by_check[label], rate, 2.0);
      report["by_check"][label] = fr;
      std::fprintf(stderr, "%-9s agent p99 %.2f ms, nginx %.2f ms: %.2fx (nginx A/A %.2fx)\n", label.c_str(),
                   fr["hale-agent"]["p99_ms_median"].get<double>(), fr["nginx"]["p99_ms_median"].get<double>(),
                   fr["p99_ratio_median"].get<double>(), fr["p99_aa_ratio_median"].get<double>());
    }
    std::cout << report.dump(2) << "\n";
    return 0;
  }
  const std::string light_checks = tables({"http", "tcp", "exec"});
  const std::string checks = tables({});
  hale::test::AgentProcess agent(dir, "bench-node", "eu", {aggregator.endpoint()}, checks);
  agent.start();
  const std::string healthz_url = "http://127.0.0.1:" + std::to_string(agent.httpPort()) + "/healthz";
  if (!waitForHttp(healthz_url)) throw std::runtime_error("the agent's /healthz never answered 200: " + agent.log());

  // The peers, started and measured the same way.
  const uint16_t exporter_port = hale::test::freeLoopbackPort();
  auto exporter = spawn({"prometheus-node-exporter", "--web.listen-address=127.0.0.1:" + std::to_string(exporter_port)},
                        dir.path() + "/node-exporter.log");
  const std::string exporter_url = "http://127.0.0.1:" + std::to_string(exporter_port) + "/metrics";
  if (!waitForHttp(exporter_url)) throw std::runtime_error("node exporter did not answer: " + exporter->logTail());
  const std::string monitrc = dir.writeFile(
      "monitrc",
      "set daemon 1\nset pidfile " + dir.path() + "/monit.pid\nset idfile " + dir.path() + "/monit.id\nset statefile " +
          dir.path() + "/monit.state\nset logfile " + dir.path() + "/monit-events.log\n" +
          "check host nginx with address 127.0.0.1\n  if failed port " + std::to_string(nginx_port) +
          " protocol http then alert\n"
          "check host nginx-tcp with address 127.0.0.1\n  if failed port " +
          std::to_string(nginx_port) +
          " type tcp then alert\n"
          "check program true with path /bin/true\n  if status != 0 then alert\n"
          "check filesystem root with path /\n  if space usage > 99% then alert\n",
      0600);
  auto monit = spawn({"monit", "-I", "-c", monitrc}, dir.path() + "/monit.log");
  std::error_code ec;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec) throw std::runtime_error("cannot find this benchmark's own executable: " + ec.message());
  auto bare_spawn = spawn({self, "--spawn-every-second", "/bin/true"}, dir.path() + "/bare-spawn.log");

  const int warm_seconds = warmUpSeconds(soak_seconds, 15);
  std::cerr << "warming up " << warm_seconds << " s, then measuring for " << soak_seconds << " s ...\n";
  std::this_thread::sleep_for(seconds{warm_seconds});
  std::vector<Measured> measured = {
      {"hale-agent", agent.pid(), {}, {}, 0, 0},
      {"prometheus-node-exporter", exporter->pid(), {}, {}, 0, 0},
      {"monit", monit->pid(), {}, {}, 0, 0},
      {"posix_spawn /bin/true every 1 s", bare_spawn->pid(), {}, {}, 0, 0},
  };
  for (Measured& m : measured) m.first = m.last = sample(m.pid);
  const auto start = steady_clock::now();
  auto next_scrape = start;
  while (steady_clock::now() - start < seconds{soak_seconds}) {
    if (steady_clock::now() >= next_scrape) {
      hale::HttpRequest r;
      r.url = exporter_url;
      if (hale::httpPerform(r).status != 200) throw std::runtime_error("node exporter scrape failed");
      next_scrape += seconds{15};
    }
    std::this_thread::sleep_for(seconds{1});
    for (Measured& m : measured) {
      m.last = sample(m.pid);
      m.peak_rss_mb = std::max(m.peak_rss_mb, m.last.rss_mb);
      m.peak_anon_mb = std::max(m.peak_anon_mb, m.last.anon_mb);
    }
  }
  const double elapsed = std::chrono::duration<double>(steady_clock::now() - start).count();
  json report;
  report["footprint"]["seconds"] = elapsed;
  for (const Measured& m : measured) report["footprint"]["processes"][m.name] = footprintJson(m, elapsed);
  {
    hale::HttpRequest r;
    r.url = healthz_url;
    // Every check must still pass, or the figures are those of an agent failing its checks.
    const hale::HttpResponse answer = hale::httpPerform(r);
    if (answer.status != 200) {
      throw std::runtime_error("the agent's /healthz answered " + std::to_string(answer.status) +
                               " after the soak: " + answer.body);
    }
  }
  exporter->stop();
  monit->stop();
  bare_spawn->stop();

  std::cerr << "/healthz against nginx: " << rounds << " rounds of wrk, " << wrk_seconds << " s each ...\n";
  std::map<int, std::vector<double>> ratio;
  std::map<int, std::map<std::string, std::vector<WrkResult>>> runs;
  for (int round = 0; round < rounds; ++round) {
    for (int threads : {1, 2}) {
      const WrkResult a = runWrk(healthz_url, threads, wrk_seconds, agent.pid());
      const WrkResult n = runWrk(nginx_url, threads, wrk_seconds, nginx_worker);
      runs[threads]["hale-agent"].push_back(a);
      runs[threads]["nginx"].push_back(n);
      ratio[threads].push_back(a.rps / n.rps);
    }
  }
  for (auto& [threads, by_server] : runs) {
    json t;
    for (auto& [server, results] : by_server) {
      std::vector<double> rps, p50, p99, server_cores, wrk_cores, busy, us_per_request;
      for (const WrkResult& w : results) {
        rps.push_back(w.rps);
        p50.push_back(w.p50_ms);
        p99.push_back(w.p99_ms);
        server_cores.push_back(w.server_cores);
        wrk_cores.push_back(w.wrk_cores);
        busy.push_back(w.machine_busy_cores);
        us_per_request.push_back(w.server_us_per_request);
      }
      t[server] = {{"rps_median", median(rps)},
                   {"p50_ms_median", median(p50)},
                   {"p99_ms_median", median(p99)},
                   {"rps_rounds", rps},
                   {"server_cores_median", median(server_cores)},
                   {"wrk_cores_median", median(wrk_cores)},
                   {"machine_busy_cores_median", median(busy)},
                   {"server_cpu_us_per_request_median", median(us_per_request)}};
      std::fprintf(stderr,
                   "wrk -t%d %-10s %8.0f req/s; the server %.2f cores (%.1f us a request), wrk %.2f, machine busy "
                   "%.2f\n",
                   threads, server.c_str(), median(rps), median(server_cores), median(us_per_request),
                   median(wrk_cores), median(busy));
    }
    t["ratio_median"] = median(ratio[threads]);
    report["healthz"]["wrk_threads_" + std::to_string(threads)] = t;
  }
  report["healthz"]["connections"] = 32;
  report["healthz"]["seconds_per_run"] = wrk_seconds;
  report["healthz"]["rounds"] = rounds;

  // The same two at one fixed rate below both saturation points, open loop: what a load balancer's and
  // the applications' probes see, with a stall counted against every request that fell due during it.
  const json& saturated = report["healthz"]["wrk_threads_1"];
  // A quarter of the slower one's saturated rate: the generator costs about as much CPU per request as
  // the server (loopback TCP both ways), and both share the machine's cores with the agent's checks.
  const double slower =
      std::min(saturated["hale-agent"]["rps_median"].get<double>(), saturated["nginx"]["rps_median"].get<double>());
  const double rate =
      args.value("rate") ? std::stod(*args.value("rate")) : std::max(1000.0, std::floor(slower / 4 / 1000) * 1000);
  // Three times as many rounds as wrk's, a third as long, in a rotating order, with nginx measured twice in
  // each: a p99 here moves several-fold from round to round with where the scheduler puts the server's
  // thread relative to the generator's, so the second nginx against the first (A/A) is the noise in this
  // same run that the agent's ratio has to be read against.
  const int fixed_rounds = rounds * 3;
  const double fixed_seconds = std::max(2.0, wrk_seconds / 3.0);
  std::cerr << "/healthz against nginx at a fixed " << rate << " req/s: " << fixed_rounds << " rounds, "
            << fixed_seconds << " s each, nginx twice ...\n";
  FixedRateRuns fixed;
  measureFixedRateRounds(agent.httpPort(), nginx_port, rate, 0, fixed_rounds, fixed_seconds, fixed);
  const json fr = summariseFixedRate(fixed, rate, fixed_seconds);
  report["healthz"]["fixed_rate"] = fr;
  stopAgent(agent);

  // The same binary on a node without database or DynamoDB checks: tcp, http and exec. Their client
  // libraries are opened only for the checks configured, so this is what such a node pays.
  const int light_seconds = std::max(10, std::min(60, soak_seconds / 5));
  std::cerr << "agent with tcp, http and exec checks only: " << light_seconds << " s ...\n";
  hale::test::AgentProcess light(dir, "bench-node", "eu", {aggregator.endpoint()}, light_checks);
  light.start();
  if (!waitForHttp("http://127.0.0.1:" + std::to_string(light.httpPort()) + "/healthz")) {
    throw std::runtime_error("the light agent's /healthz never answered 200: " + light.log());
  }
  std::this_thread::sleep_for(seconds{warmUpSeconds(light_seconds, 10)});
  Measured lm{"hale-agent", light.pid(), sample(light.pid()), {}, 0, 0};
  lm.last = lm.first;
  const auto light_start = steady_clock::now();
  while (steady_clock::now() - light_start < seconds{light_seconds}) {
    std::this_thread::sleep_for(seconds{1});
    lm.last = sample(lm.pid);
    lm.peak_rss_mb = std::max(lm.peak_rss_mb, lm.last.rss_mb);
    lm.peak_anon_mb = std::max(lm.peak_anon_mb, lm.last.anon_mb);
  }
  const double light_elapsed = std::chrono::duration<double>(steady_clock::now() - light_start).count();
  report["footprint_light"] = footprintJson(lm, light_elapsed);
  report["footprint_light"]["seconds"] = light_elapsed;
  report["footprint_light"]["checks"] = "tcp, http, exec";
  std::cout << report.dump(2) << "\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << "bench_agent_footprint: " << e.what() << "\n";
  return 1;
}
