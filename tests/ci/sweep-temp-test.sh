#!/usr/bin/env bash
# sweep-temp.sh removes an hour-old hale-* temp dir nobody uses, keeps one a running process names on its
# command line (as a --keep drill's servers do), and keeps a young one.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export TMPDIR
TMPDIR=$(mktemp -d)
trap 'kill "$user" 2>/dev/null; rm -rf "$TMPDIR"' EXIT
abandoned=$(mktemp -d "$TMPDIR/hale-abandoned-XXXXXX")
in_use=$(mktemp -d "$TMPDIR/hale-drill-XXXXXX")
young=$(mktemp -d "$TMPDIR/hale-young-XXXXXX")
touch -d '2 hours ago' "$abandoned" "$in_use"
bash -c 'sleep 30; :' "$in_use/postgres/data" &
user=$!
bash "$here/sweep-temp.sh"
failures=0
[ ! -e "$abandoned" ] || { echo "FAIL: the abandoned dir was kept"; failures=1; }
[ -d "$in_use" ] || { echo "FAIL: the dir a running process uses was removed"; failures=1; }
[ -d "$young" ] || { echo "FAIL: a young dir was removed"; failures=1; }
[ "$failures" -eq 0 ] && echo "PASS: abandoned swept, in-use and young kept"
exit "$failures"
