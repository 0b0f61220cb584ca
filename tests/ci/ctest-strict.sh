#!/usr/bin/env bash
# ctest, where a skipped test fails the run. GoogleTest's skip ("[  SKIPPED ]") makes ctest report the
# test as skipped, whatever its exit code, and ctest then exits 0: a test that could not check anything
# would pass CI. Usage: ctest-strict.sh BUILD_DIR [ctest arguments...]
set -uo pipefail
build=$1
shift
log=$(mktemp)
trap 'rm -f "$log"' EXIT
(cd "$build" && ctest --output-on-failure --no-tests=error "$@") 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
if grep -q "The following tests did not run" "$log"; then
  echo "ctest-strict: tests were skipped or not run; a skip fails the suite" >&2
  exit 1
fi
exit "$status"
