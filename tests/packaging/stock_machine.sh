#!/usr/bin/env bash
# The set-up commands on a stock Debian 12 without this image's Python (#14 item 5), in a mount namespace
# where /root/.pyenv is an empty tmpfs and PATH is Debian's, and a network namespace with no way out (no
# registry answers):
# - `install-deps.sh drill` succeeds and never mentions moto or Prism (the drill needs neither), and the
#   drill itself (the binary tests/drill/run.sh then runs, from this build) passes there;
# - `install-deps.sh all` finds no moto_server, tries the pinned virtualenv, and stops with exit 1 and a
#   message saying exactly what to install, leaving no half-made virtualenv behind.
# Needs root, and every Debian package installed already (tests/run-all.sh did it): apt-get cannot reach
# anything in here either. Usage: stock_machine.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/hale-stock.XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

cat >"$work/inside.sh" <<'INSIDE'
set -u
[ -d /root/.pyenv ] && mount -t tmpfs none /root/.pyenv
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
if command -v moto_server >/dev/null; then echo "moto_server still visible: $(command -v moto_server)"; exit 99; fi
bash "$1/packaging/install-deps.sh" drill >"$2/drill.out" 2>&1
echo $? >"$2/drill.code"
ip link set lo up
"$3/tests/drill/hale-drill" >"$2/run.out" 2>&1
echo $? >"$2/run.code"
bash "$1/packaging/install-deps.sh" all >"$2/all.out" 2>&1
echo $? >"$2/all.code"
INSIDE
HALE_TEST_PREFIX=$work/opt unshare --mount --net --propagation private bash "$work/inside.sh" "$src" "$work" "$build" ||
  fail "the namespace did not run: exit $?"

echo "--- install-deps.sh drill, without the image's Python:"
cat "$work/drill.out"
[ "$(cat "$work/drill.code")" = 0 ] || fail "install-deps.sh drill exited $(cat "$work/drill.code")"
grep -q "install-deps (drill): " "$work/drill.out" || fail "install-deps.sh drill did not say what it installs"
if grep -qi "moto\|prism" "$work/drill.out"; then fail "install-deps.sh drill dealt with moto or Prism"; fi

echo "--- the drill, without the image's Python (last lines):"
tail -n 5 "$work/run.out"
[ "$(cat "$work/run.code")" = 0 ] || { cat "$work/run.out"; fail "the drill exited $(cat "$work/run.code")"; }
grep -q "drill PASSED" "$work/run.out" || fail "the drill did not say PASSED"

echo "--- install-deps.sh all, without the image's Python and with no registry:"
cat "$work/all.out"
[ "$(cat "$work/all.code")" = 1 ] || fail "install-deps.sh all exited $(cat "$work/all.code"), not 1"
grep -q "moto_server not found; installing moto\[server\]==" "$work/all.out" ||
  fail "install-deps.sh all did not say it tries to install moto"
grep -qF "/usr/bin/python3 -m venv $work/opt/moto && $work/opt/moto/bin/pip install 'moto[server]==" "$work/all.out" ||
  fail "the message does not say exactly what to install"
[ ! -e "$work/opt/moto" ] || fail "a half-made virtualenv was left in $work/opt/moto"
if grep -qi "prism at\|installing Prism" "$work/all.out"; then fail "it went on to Prism after moto failed"; fi

if [ "$failures" -ne 0 ]; then
  echo "FAIL: $failures"
  exit 1
fi
echo "PASS: the drill's set-up and the drill need no Python; the test set-up says what to install when moto cannot be had"
