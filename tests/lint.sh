#!/usr/bin/env bash
# clang-format and clang-tidy over the project's sources (every tracked file, or the files given).
# Needs a configured build directory (for compile_commands.json): HALE_BUILD_DIR, default ./build. The
# fuzz targets are compiled only in the sanitizer build, so their compile commands come from there
# (HALE_SANITIZE_BUILD_DIR, default ./build-sanitize; configured here when missing, in seconds).
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
sanitize_build=${HALE_SANITIZE_BUILD_DIR:-$root/build-sanitize}
compiledIn() { grep -qF "\"file\": \"$root/$2\"" "$1/compile_commands.json" 2>/dev/null; }
units=()
fuzz_units=()
for f in "${sources[@]}"; do
  [[ $f == *.cpp ]] || continue
  if compiledIn "$build" "$f"; then
    units+=("$f")
  else
    fuzz_units+=("$f")
  fi
done
if [ ${#fuzz_units[@]} -gt 0 ] && ! [ -f "$sanitize_build/compile_commands.json" ]; then
  HALE_SANITIZE_BUILD_DIR="$sanitize_build" bash "$root/tests/ci/configure-sanitize.sh"
fi
for f in "${fuzz_units[@]}"; do
  # A unit no build compiles cannot be checked: say so rather than pass it.
  compiledIn "$sanitize_build" "$f" || { echo "lint: $f is compiled in neither $build nor $sanitize_build" >&2; exit 1; }
done
if [ ${#units[@]} -gt 0 ]; then
  printf '%s\n' "${units[@]}" | xargs -P "$(nproc)" -n 4 clang-tidy -p "$build" --quiet
fi
if [ ${#fuzz_units[@]} -gt 0 ]; then
  printf '%s\n' "${fuzz_units[@]}" | xargs -P "$(nproc)" -n 4 clang-tidy -p "$sanitize_build" --quiet
fi
echo "lint: clean"
