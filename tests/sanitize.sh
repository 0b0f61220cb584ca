#!/usr/bin/env bash
# The unit and component tests under AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer:
# builds them with clang in build-sanitize/ (-DHALE_FUZZ=ON, the build tests/fuzz.sh uses too, so
# the daemons the component tests start are instrumented as well) and runs the labels `unit` and
# `component` through ctest against the same real servers as the plain build. Any report fails the run.
# Extra arguments go to ctest instead of the label selection (e.g. -R Policy).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${HALE_SANITIZE_BUILD_DIR:-$root/build-sanitize}
HALE_SANITIZE_BUILD_DIR="$build" bash "$root/tests/ci/configure-sanitize.sh"
# By default only what the unit and component tests need (target sanitizer_suite); with a selection of
# one's own, everything.
if [ $# -eq 0 ]; then target=(--target sanitizer_suite); else target=(); fi
cmake --build "$build" --parallel "$(nproc)" "${target[@]}"
echo "sanitize: built in $SECONDS s"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# The policy property test runs 10 000 schedules in about 10 s; instrumented, 2 000 keep it near that.
export HALE_POLICY_SCHEDULES=${HALE_POLICY_SCHEDULES:-2000}
# Memory measurements mean nothing here (ASan's quarantine holds what is freed): the plain build runs them.
if [ $# -eq 0 ]; then set -- -L '^(unit|component)$' -E 'MemoryStaysFlat|DecoderAllocations'; fi
bash "$root/tests/ci/ctest-strict.sh" "$build" --parallel "$(nproc)" -LE '^(probe|packaging)$' "$@"
