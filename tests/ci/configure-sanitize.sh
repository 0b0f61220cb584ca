#!/usr/bin/env bash
# Configures the sanitizer build (clang; ASan, UBSan, fuzzing coverage and the libFuzzer targets,
# -DHALE_FUZZ=ON) that tests/sanitize.sh and tests/fuzz.sh build in, and whose compile_commands.json
# tests/lint.sh reads for the fuzz targets (the plain build does not compile them). Configuring takes
# seconds; building is the caller's.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${HALE_SANITIZE_BUILD_DIR:-$root/build-sanitize}
command -v clang++ >/dev/null || { echo "sanitize: clang++ not found (packaging/install-deps.sh installs it)" >&2; exit 1; }
# -O1 and line tables only: a third of the compile time of -O2 -g, and reports still name file and line.
cmake -S "$root" -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only" -DHALE_FUZZ=ON -DHALE_BUILD_BENCH=OFF >/dev/null
