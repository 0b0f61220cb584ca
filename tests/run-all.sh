#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine, as root: installs the dependencies, builds with
# warnings as errors, runs clang-tidy over the changed files and every test through ctest (unit,
# component against real servers, e2e), then 30 s of each fuzz target and the unit tests under ASan and
# UBSan.
# Extra arguments go to ctest, e.g. `bash tests/run-all.sh -L unit`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${HALE_BUILD_DIR:-$root/build}
jobs=$(nproc)

bash "$root/packaging/install-deps.sh" all
# Formatting first: seconds, and a tree that is not clang-formatted does not pass.
bash "$root/tests/lint.sh" --format-only
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHALE_WERROR=ON
cmake --build "$build" --parallel "$jobs"
# clang-tidy over the C++ files changed since the merge base (or in the last commit): a minute or two.
HALE_BUILD_DIR="$build" bash "$root/tests/ci/lint-changed.sh"

# Temp dirs of test processes that were SIGKILLed (their servers died with them) are swept after an hour;
# one a running process still uses (a drill left running with --keep) stays.
bash "$root/tests/ci/sweep-temp.sh"

# A skipped test fails the run; the skip probe (label `probe`) is what proves that rule and is left out.
bash "$root/tests/ci/ctest-strict.sh" "$build" --parallel "$jobs" -LE probe "$@"

# The whole suite (no ctest arguments) also fuzzes every parser of outside input for 30 s each (clang,
# ASan, UBSan; a finding fails the run). Longer runs: bash tests/fuzz.sh TARGET SECONDS.
# And runs the unit tests again under AddressSanitizer and UndefinedBehaviorSanitizer (tests/sanitize.sh).
if [ $# -eq 0 ]; then
  bash "$root/tests/fuzz.sh" all "${HALE_FUZZ_SECONDS:-30}"
  bash "$root/tests/sanitize.sh"
fi
