#!/usr/bin/env bash
# The failover drill on a fresh Debian 12 machine, as root: installs the dependencies, builds hale and the
# drill, and runs it. Options go to hale-drill: --db mysql, --failback, --keep, --dry-run, --heartbeat 1s.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${HALE_BUILD_DIR:-$root/build}

bash "$root/packaging/install-deps.sh" > /dev/null
echo "building hale (first run: a few minutes) ..."
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build "$build" --parallel "$(nproc)" --target hale-drill hale-agent hale-aggregator halectl > /dev/null
echo
exec "$build/tests/drill/hale-drill" "$@"
