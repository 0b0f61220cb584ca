#!/usr/bin/env bash
# The unit and component tests, RUNS times in a row (default 5), while stress-ng loads the machine beside
# them (two CPU hogs and one I/O worker): a test whose verdict depends on a quiet machine shows up here.
# The package build-and-install test (label packaging, ~5 min, nothing timed) is left out.
# As root, after tests/run-all.sh has built the tree. Usage: tests/stress-suite.sh [RUNS] [ctest args...]
# Prints one line per run and exits non-zero when any run failed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${HALE_BUILD_DIR:-$root/build}
runs=${1:-5}
shift || true

if ! command -v stress-ng >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stress-ng >/dev/null 2>&1
fi
stress-ng --cpu 2 --io 1 --timeout 3h --quiet &
stress=$!
trap 'kill "$stress" 2>/dev/null; wait "$stress" 2>/dev/null' EXIT

failed=0
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  log=$(mktemp)
  if bash "$root/tests/ci/ctest-strict.sh" "$build" -L 'unit|component' -LE 'probe|packaging' "$@" >"$log" 2>&1; then
    verdict=passed
  else
    verdict=FAILED
    failed=$((failed + 1))
  fi
  summary=$(grep -E "tests passed|tests failed" "$log" | tail -1)
  echo "run $i/$runs under stress-ng --cpu 2 --io 1: $verdict in $(($(date +%s) - start)) s ($summary)"
  if [ "$verdict" = FAILED ]; then
    grep -E "^\s+[0-9]+ - " "$log" | sed 's/^/    /'
    # What failed and why, kept: the run's whole output is the next one's to overwrite otherwise.
    kept=$build/stress-run-$i.log
    cp "$log" "$kept"
    grep -E "Failure|Expected|Which is|FAILED  \]" "$log" | head -20 | sed 's/^/      /'
    echo "    whole output: $kept"
  fi
  rm -f "$log"
done
echo "$((runs - failed)) of $runs runs passed"
[ "$failed" -eq 0 ]
