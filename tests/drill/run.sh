#!/usr/bin/env bash
# The failover drill on a fresh Debian 12 machine, as root: installs the dependencies, builds hale and the
# drill, and runs it. Options go to hale-drill: --db mysql, --failback, --keep, --dry-run, --heartbeat 1s.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${HALE_BUILD_DIR:-$root/build}

if [ "$(id -u)" -ne 0 ]; then
  echo "tests/drill/run.sh: run as root (it installs packages and starts PostgreSQL, MariaDB and BIND)" >&2
  exit 1
fi
mkdir -p "$build"
log=$build/drill-setup.log
: > "$log"
# Quiet when all goes well; the whole story when something does not.
step() {
  echo "$1"
  shift
  if ! "$@" >> "$log" 2>&1; then
    echo "failed; the last lines of $log:" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
}
step "installing what the drill needs (Debian packages only) ..." bash "$root/packaging/install-deps.sh" drill
grep "^install-deps" "$log" | sed 's/^/  /'
# The same settings as tests/run-all.sh, so running the test suite after the drill builds only what is
# left instead of everything again.
step "configuring ..." bash "$root/tests/ci/configure-plain.sh" "$build"
step "building hale (the first time takes a few minutes) ..." \
  cmake --build "$build" --parallel "$(nproc)" --target hale-drill hale-agent hale-aggregator halectl
echo
exec "$build/tests/drill/hale-drill" "$@"
