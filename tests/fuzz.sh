#!/usr/bin/env bash
# Runs one libFuzzer target (or `all`) for SECONDS each: builds the targets in the sanitizer build (clang,
# ASan, UBSan, -DHALE_FUZZ=ON; build-sanitize/, shared with tests/sanitize.sh) if needed, starts from the
# seed corpus in tests/fuzz/corpus/<name> (copied, so runs never rewrite the tree) and fails on any
# finding, leaving the crashing input in build-sanitize/findings/. Targets: heartbeat, control, config,
# provider_answers.
#   bash tests/fuzz.sh heartbeat 600
#   bash tests/fuzz.sh all 30
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${HALE_SANITIZE_BUILD_DIR:-$root/build-sanitize}
targets=(heartbeat control config provider_answers)

if [ $# -ne 2 ] || ! [[ "$2" =~ ^[0-9]+$ ]]; then
  echo "usage: tests/fuzz.sh TARGET|all SECONDS   (targets: ${targets[*]})" >&2
  exit 64
fi
if [ "$1" = all ]; then
  selected=("${targets[@]}")
else
  [[ " ${targets[*]} " == *" $1 "* ]] || { echo "fuzz: no target \"$1\" (targets: ${targets[*]})" >&2; exit 64; }
  selected=("$1")
fi

HALE_SANITIZE_BUILD_DIR="$build" bash "$root/tests/ci/configure-sanitize.sh"
cmake --build "$build" --parallel "$(nproc)" --target "${selected[@]/#/fuzz_}"

mkdir -p "$build/findings"
for t in "${selected[@]}"; do
  work="$build/corpus/$t"
  mkdir -p "$work"
  cp -n "$root/tests/fuzz/corpus/$t"/* "$work"/ 2>/dev/null || true
  echo "fuzz: $t for $2 s"
  # -rss_limit_mb: a leak or a blow-up is a finding too. Findings go to findings/, never into the tree.
  "$build/tests/fuzz/fuzz_$t" "$work" -max_total_time="$2" -rss_limit_mb=1024 -timeout=10 \
    -artifact_prefix="$build/findings/$t-" -print_final_stats=1 2>&1 | tail -n 12
  status=${PIPESTATUS[0]}
  if [ "$status" -ne 0 ]; then
    echo "fuzz: $t found a problem (exit $status); the input is in $build/findings/" >&2
    exit 1
  fi
done
