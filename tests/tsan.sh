#!/usr/bin/env bash
# The threaded hearts of both daemons under ThreadSanitizer, in build-tsan/: the aggregator's engine (its
# component tests: ingest, decisions, plans and the control socket on their threads) and the agent's
# check scheduler (its unit tests, and the agent runtime tests that run it with real checks, heartbeats
# and /healthz). Any report fails the run. Extra arguments go to ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${HALE_TSAN_BUILD_DIR:-$root/build-tsan}
# -O1 and line tables only (reports still name file and line): the build is part of CI's time.
flags="-fsanitize=thread -fno-omit-frame-pointer -O1 -g1"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=None -DHALE_BUILD_BENCH=OFF -DHALE_WERROR=OFF \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
cmake --build "$build" --parallel "$(nproc)" --target component_aggregator_engine unit_agent component_agent_runtime
echo "tsan: built in $SECONDS s"
# Libraries that are not instrumented (libzmq, libpq, libcurl) synchronise where TSan cannot see it;
# tests/tsan.supp names those frames, and nothing of hale's own.
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/tests/tsan.supp"
bash "$root/tests/ci/ctest-strict.sh" "$build" -R '^(EngineTest|HalfDonePlanTest|FailedPlanTest|ManualApprovalTest|AgentRuntime|Scheduler)\.' "$@"
