#!/usr/bin/env bash
# Configures the plain build (the default compiler, GCC on Debian; -O2, warnings as errors) in the
# directory given, default build/.
# tests/drill/run.sh, tests/run-all.sh and bench/run.sh all configure through here, so none of them changes
# a setting the others built with and rebuilds everything. Line tables only (-g1): gdb and perf still map
# code to file and line, and each file compiles in a quarter less time than with -g (engine.cpp 17.1 ->
# 13.5 s, coordination_test.cpp 25.3 -> 17.0 s, on a 2-core machine).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
  -DHALE_WERROR=ON
