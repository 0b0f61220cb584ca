#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine, as root: installs the dependencies, builds with
# warnings as errors, runs clang-tidy over the changed files and the tests through ctest, each where it
# tells most for its time (README, "What runs where"): the plain build runs the unit, e2e and packaging
# tests; the sanitizer build (clang, ASan, UBSan) the unit and component tests and 30 s of each fuzz
# target; the ThreadSanitizer build the engine, scheduler and agent runtime tests.
# Extra arguments go to ctest on the plain build only, e.g. `bash tests/run-all.sh -L component`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${HALE_BUILD_DIR:-$root/build}
jobs=$(nproc)

# Each phase's time, said as it ends and again at the end: CI's limit is an hour, and this says where it goes.
times=()
timed() {
  local name=$1 start=$SECONDS
  shift
  "$@"
  times+=("$(printf '%6d s  %s' $((SECONDS - start)) "$name")")
  echo "run-all: $name took $((SECONDS - start)) s"
}
summary() {
  echo "run-all: time by phase"
  printf '  %s\n' "${times[@]}"
  echo "  $(printf '%6d s  %s' "$SECONDS" "in all")"
}

timed "dependencies" bash "$root/packaging/install-deps.sh" all
# Formatting first: seconds, and a tree that is not clang-formatted does not pass.
timed "format" bash "$root/tests/lint.sh" --format-only
# The same settings as tests/drill/run.sh and bench/run.sh, so none rebuilds what another built.
bash "$root/tests/ci/configure-plain.sh" "$build"
timed "plain build" cmake --build "$build" --parallel "$jobs"
# clang-tidy over the C++ files changed since the merge base (without one, in the last 20 commits): a minute
# or two.
HALE_BUILD_DIR="$build" timed "clang-tidy" bash "$root/tests/ci/lint-changed.sh"

# Temp dirs of test processes that were SIGKILLed (their servers died with them) are swept after an hour;
# one a running process still uses (a drill left running with --keep) stays.
bash "$root/tests/ci/sweep-temp.sh"

# A skipped test fails the run; the skip probe (label `probe`) is what proves that rule and is left out.
if [ $# -gt 0 ]; then
  bash "$root/tests/ci/ctest-strict.sh" "$build" --parallel "$jobs" -LE probe "$@"
  exit 0
fi
# The whole suite. The component tests run once, in the sanitizer build below, where a memory or
# undefined-behaviour error fails them too; the unit tests (seconds) run in both builds.
timed "plain tests" bash "$root/tests/ci/ctest-strict.sh" "$build" --parallel "$jobs" -L '^(unit|e2e|packaging)$' -LE probe
# Except the component test that measures memory, which means nothing under ASan.
timed "memory test" bash "$root/tests/ci/ctest-strict.sh" "$build" -R '^AgentProcessTest\.MemoryStaysFlat'
# Unit and component tests under ASan and UBSan, then every parser of outside input fuzzed for 30 s
# (same build; a finding fails the run; longer: bash tests/fuzz.sh TARGET SECONDS).
timed "sanitizer build and tests" bash "$root/tests/sanitize.sh"
timed "fuzzing" bash "$root/tests/fuzz.sh" all "${HALE_FUZZ_SECONDS:-30}"
# The threaded hearts of both daemons under ThreadSanitizer.
timed "ThreadSanitizer build and tests" bash "$root/tests/tsan.sh"
summary
