#!/usr/bin/env bash
# clang-format and clang-tidy over the project's sources (every tracked file, or the files given).
# Needs a configured build directory (for compile_commands.json): HALE_BUILD_DIR, default ./build.
# The whole tree takes about ten minutes of clang-tidy on two cores; name files to check just those.
# --format-only: clang-format alone (seconds for the whole tree; tests/run-all.sh runs it, then this
# script over the files changed since the merge base through tests/ci/lint-changed.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${HALE_BUILD_DIR:-$root/build}
cd "$root"
format_only=false
if [ "${1:-}" = "--format-only" ]; then
  format_only=true
  shift
fi
if [ $# -gt 0 ]; then
  sources=("$@")
else
  mapfile -t sources < <(git ls-files '*.cpp' '*.h')
fi
clang-format --dry-run --Werror "${sources[@]}"
if $format_only; then
  echo "lint: formatted (${#sources[@]} files)"
  exit 0
fi
units=()
for f in "${sources[@]}"; do [[ $f == *.cpp ]] && units+=("$f"); done
if [ ${#units[@]} -gt 0 ]; then
  printf '%s\n' "${units[@]}" | xargs -P "$(nproc)" -n 4 clang-tidy -p "$build" --quiet
fi
echo "lint: clean"
