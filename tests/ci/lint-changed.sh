#!/usr/bin/env bash
# clang-tidy (with clang-format) over the C++ files changed since the merge base with origin/main, or
# over the last commit's when there is no such base (a CI clone of one branch, or HEAD is the base).
# Needs the build's compile_commands.json (HALE_BUILD_DIR, default ./build). The whole tree: tests/lint.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
base=""
if git rev-parse -q --verify origin/main >/dev/null; then base=$(git merge-base HEAD origin/main); fi
if [ -z "$base" ] || [ "$base" = "$(git rev-parse HEAD)" ]; then base=$(git rev-parse -q --verify 'HEAD~1' || true); fi
if [ -z "$base" ]; then
  echo "lint: no earlier commit to compare with (a one-commit clone); run tests/lint.sh for the whole tree"
  exit 0
fi
mapfile -t files < <(git diff --name-only --diff-filter=d "$base" HEAD -- '*.cpp' '*.h')
if [ ${#files[@]} -eq 0 ]; then
  echo "lint: no C++ file changed since ${base:0:12}"
  exit 0
fi
echo "lint: clang-tidy over ${#files[@]} files changed since ${base:0:12}"
bash "$root/tests/lint.sh" "${files[@]}"
