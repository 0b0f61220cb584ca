#!/usr/bin/env bash
# Removes the temp directories (TMPDIR/hale-*) of test processes that were SIGKILLed, once they are an hour
# old, except any that a running process still names on its command line: a drill left running with
# --keep, or another suite's servers. Usage: sweep-temp.sh [MINUTES] (default 60).
set -uo pipefail
minutes=${1:-60}
find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'hale-*' -mmin +"$minutes" -print0 2>/dev/null |
  while IFS= read -r -d '' dir; do
    if grep -qsaF -- "$dir" /proc/[0-9]*/cmdline; then
      echo "sweep-temp: keeping $dir (in use)"
      continue
    fi
    rm -rf -- "$dir"
  done
exit 0
