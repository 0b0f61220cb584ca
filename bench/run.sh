#!/usr/bin/env bash
# Every benchmark in one command, each figure beside a baseline measured in the same run; writes
# bench/report.md and bench/report.json (see bench/README.md for what each measures).
#   bash bench/run.sh            about 12 minutes once built (the footprint takes 5 of them)
#   bash bench/run.sh --soak     the footprint for 1 hour
#   bash bench/run.sh --quick    every step, briefly (the figures are not worth reading: a smoke run)
#   bash bench/run.sh --tail-by-check   only the fixed-rate /healthz p99 once per kind of check (about
#                                8 minutes), written to bench/tail_by_check.json
#   --out DIR                    write the reports there instead of bench/
# As root on a fresh Debian 12 it first installs what it needs (packaging/install-deps.sh: the build, the
# servers, wrk, nginx-light, prometheus-node-exporter, monit). It builds into $HALE_BENCH_BUILD (default
# build/, RelWithDebInfo with line tables as tests/run-all.sh) only what is missing or stale.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${HALE_BENCH_BUILD:-$root/build}
out=$root/bench
footprint_seconds=300
wrk_seconds=10
rounds=3
failover_runs=10
ingest_seconds=10
decode_iterations=200000
mode=normal
while [ $# -gt 0 ]; do
  case $1 in
    --soak) footprint_seconds=3600 mode=soak ;;
    --quick)
      footprint_seconds=12 wrk_seconds=2 rounds=1 failover_runs=1 ingest_seconds=2 decode_iterations=20000
      mode=quick
      ;;
    --tail-by-check) mode=by-check ;;
    --out)
      out=$2
      shift
      ;;
    *)
      echo "usage: bench/run.sh [--soak|--quick|--tail-by-check] [--out DIR]" >&2
      exit 64
      ;;
  esac
  shift
done

if [ "$(id -u)" -eq 0 ]; then
  bash "$root/packaging/install-deps.sh" all
fi
for tool in wrk nginx prometheus-node-exporter monit cmake python3; do
  if ! command -v "$tool" > /dev/null && [ ! -x "/usr/sbin/$tool" ]; then
    echo "bench/run.sh: $tool is missing; run this as root once (it installs packaging/install-deps.sh all)" >&2
    exit 1
  fi
done

if [ ! -f "$build/CMakeCache.txt" ]; then
  bash "$root/tests/ci/configure-plain.sh" "$build"
fi
cmake --build "$build" -j "$(nproc)" --target bench_heartbeat_decode bench_policy_scale bench_ingest bench_failover \
  bench_agent_footprint hale-agent hale-aggregator halectl

results=$(mktemp -d /tmp/hale-bench.XXXXXX)
trap 'rm -rf "$results"' EXIT
mkdir -p "$out"
commit=$(git -C "$root" rev-parse --short HEAD 2> /dev/null || echo unknown)
if [ "$mode" = by-check ]; then
  "$build/bench/bench_agent_footprint" --tail-by-check --rounds 9 > "$results/tail.json"
  python3 - "$results/tail.json" "$out/tail_by_check.json" "$commit" "$(nproc)" "$(uname -r)" << 'PY'
import datetime, json, sys
source, target, commit, cpus, kernel = sys.argv[1:6]
report = json.load(open(source))
report["machine"] = {"commit": commit, "cpus": int(cpus), "kernel": kernel, "command": "bash bench/run.sh --tail-by-check",
                     "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
json.dump(report, open(target, "w"), indent=2)
PY
  echo "bench/run.sh: $out/tail_by_check.json" >&2
  exit 0
fi
started=$(date +%s)
step() { echo "== $* ($(($(date +%s) - started)) s)" >&2; }

step "heartbeat decode"
"$build/bench/bench_heartbeat_decode" "$decode_iterations" | tee "$results/decode.txt" >&2
step "policy at scale"
"$build/bench/bench_policy_scale" > "$results/policy.json"
step "ingest"
"$build/bench/bench_ingest" --seconds "$ingest_seconds" > "$results/ingest.json"
step "failover drill x $failover_runs"
"$build/bench/bench_failover" --runs "$failover_runs" | tee "$results/failover.txt" >&2
step "agent footprint ($footprint_seconds s) and /healthz"
"$build/bench/bench_agent_footprint" --seconds "$footprint_seconds" --wrk-seconds "$wrk_seconds" --rounds "$rounds" \
  > "$results/agent.json"

memory=$(awk '/MemTotal/ { printf "%.1f GB RAM", $2 / 1048576 }' /proc/meminfo)
cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
python3 - "$results/machine.json" "$cpu" "$(nproc)" "$memory" "$(uname -r)" "$commit" "$mode" << 'PY'
import datetime, json, sys
path, cpu, cpus, memory, kernel, commit, mode = sys.argv[1:8]
command = "bash bench/run.sh" + ("" if mode == "normal" else " --" + mode)
json.dump({"cpu": cpu, "cpus": int(cpus), "memory": memory, "kernel": kernel, "commit": commit, "mode": mode,
           "command": command, "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")},
          open(path, "w"))
PY
python3 "$root/bench/report.py" "$results" "$out/report.json" "$out/report.md"
step "done: $out/report.md and $out/report.json"
