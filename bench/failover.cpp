// bench_failover: runs the drill N times (default 10) on fresh deployments and prints the median and p95
// of detect (kill -> region down), decide (kill -> decision journaled) and complete (kill -> plan done and
// DNS answering the new region), against the goal of 5 s to completed failover.
// With --aggregators 3, three aggregators decide by quorum through a 3-member etcd, and region eu dies
// with its aggregator and its etcd member.
//   bench_failover [--runs N] [--db postgres|mysql] [--heartbeat 1s] [--aggregators 1|3]

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "cli_args.h"
#include "duration.h"
#include "run_guarded.h"
#include "scenario.h"

namespace {

std::atomic<bool> g_never{false};

int64_t percentile(std::vector<int64_t> v, double p) {
  std::sort(v.begin(), v.end());
  const auto i = static_cast<size_t>(std::lround(p * static_cast<double>(v.size() - 1)));
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

int benchMain(int argc, char** argv) {
  auto parsed = hale::CliArgs::parse(argc, argv, {}, {"runs", "db", "heartbeat", "aggregators"});
  if (!parsed || !parsed.value().positional().empty()) {
    std::cerr << "usage: bench_failover [--runs N] [--db postgres|mysql] [--heartbeat 1s] [--aggregators 1|3]\n";
    return hale::kExitUsage;
  }
  const hale::CliArgs& args = parsed.value();
  const int runs = std::atoi(args.valueOr("runs", "10").c_str());
  const auto hb = hale::parseDuration(args.valueOr("heartbeat", "1s"));
  hale::drill::DrillOptions options{.db = args.valueOr("db", "postgres")};
  const std::string aggregators = args.valueOr("aggregators", "1");
  options.aggregators = aggregators == "3" ? 3 : 1;
  if (runs < 1 || runs > 1000 || !hb || (options.db != "postgres" && options.db != "mysql") ||
      (aggregators != "1" && aggregators != "3")) {
    std::cerr << "bench_failover: --runs 1..1000, --db postgres|mysql, --heartbeat a duration, --aggregators 1|3\n";
    return hale::kExitUsage;
  }
  if (::geteuid() != 0) {
    std::cerr << "bench_failover: run as root (it starts database servers as their service users)\n";
    return hale::kExitUnavailable;
  }
  options.heartbeat = *hb;

  std::vector<int64_t> detect, decide, complete;
  for (int i = 1; i <= runs; ++i) {
    try {
      hale::drill::Deployment d(options);
      d.start([](const std::string&) {});
      const std::string leader = options.aggregators > 1 ? d.aggregator().name() : "";
      const hale::drill::FailoverRun r = hale::drill::killAndFollow(
          d, [](const std::string&) {}, std::chrono::seconds{30}, g_never);
      const auto down = r.timeline.offset("+region-down", hale::drill::kRegionA);
      const auto decided = r.timeline.offset("+decision");
      const auto done = r.timeline.offset("+plan-done");
      const auto dns = r.timeline.offset("dns-answer");
      if (!r.plan_done || !down || !decided || !done || !dns) {
        std::printf("run %2d: failover did not complete\n", i);
        continue;
      }
      detect.push_back(*down);
      decide.push_back(*decided);
      complete.push_back(std::max(*done, *dns));
      std::printf("run %2d: detect %5lld ms  decide %5lld ms  complete %5lld ms%s\n", i,
                  static_cast<long long>(detect.back()), static_cast<long long>(decide.back()),
                  static_cast<long long>(complete.back()),
                  leader.empty() ? "" : ("  (" + leader + " led at the kill)").c_str());
    } catch (const std::exception& e) {
      std::printf("run %2d: %s\n", i, e.what());
    }
    std::fflush(stdout);
  }
  if (complete.empty()) return hale::kExitFailure;
  std::printf("\n%zu of %d runs completed (%s, heartbeat %lld ms, %d aggregator%s)\n", complete.size(), runs,
              options.db.c_str(), static_cast<long long>(options.heartbeat.count()), options.aggregators,
              options.aggregators > 1 ? "s by quorum through etcd" : " deciding alone");
  std::printf("%-9s %8s %8s\n", "", "median", "p95");
  for (auto [name, v] : {std::pair{"detect", &detect}, std::pair{"decide", &decide}, std::pair{"complete", &complete}})
    std::printf("%-9s %6lld ms %6lld ms\n", name, static_cast<long long>(percentile(*v, 0.5)),
                static_cast<long long>(percentile(*v, 0.95)));
  const int64_t p95 = percentile(complete, 0.95);
  std::printf("goal: region death to completed failover <= 5000 ms at p95: %s (%.2fx of the budget)\n",
              p95 <= 5000 ? "met" : "NOT met", static_cast<double>(p95) / 5000.0);
  return static_cast<int>(complete.size()) == runs ? hale::kExitOk : hale::kExitFailure;
}

int main(int argc, char** argv) { return hale::runGuarded(benchMain, argc, argv); }
