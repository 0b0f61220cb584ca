#!/usr/bin/env bash
# clang-tidy (with clang-format) over the C++ files changed since the merge base with origin/main. Where
# there is no such base (a CI clone of one branch, or HEAD is the base) it takes the files changed in the
# last HALE_LINT_COMMITS commits (default 20): a submission lands several commits at once, and a file
# touched by any of them but not by the last must not escape (a lint error once hid that way).
# Needs the build's compile_commands.json (HALE_BUILD_DIR, default ./build). The whole tree: tests/lint.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
base=""
if git rev-parse -q --verify origin/main >/dev/null; then base=$(git merge-base HEAD origin/main); fi
if [ -z "$base" ] || [ "$base" = "$(git rev-parse HEAD)" ]; then
  depth=${HALE_LINT_COMMITS:-20}
  [[ $depth =~ ^[1-9][0-9]*$ ]] || { echo "lint: HALE_LINT_COMMITS must be a positive number, got '$depth'" >&2; exit 2; }
  # A shorter history (a shallow clone) reaches back as far as it goes: its root commit.
  count=$(git rev-list --count HEAD)
  if [ "$count" -gt "$depth" ]; then base=$(git rev-parse "HEAD~$depth"); elif [ "$count" -gt 1 ]; then base=$(git rev-list --max-parents=0 HEAD | tail -n1); fi
fi
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
