#!/usr/bin/env bash
# The Debian packages as an operator meets them (ctest component_packaging_debs, labels component and
# packaging, run alone: it builds, and installs on this machine). Builds them from the checkout
# (deb/build.sh), runs lintian (no error, no warning), installs them with apt-get install ./*.deb, checks what they
# installed (versions, user, modes, units, the postinst's word on the example configs), then removes and
# purges them and compares /etc, /usr and /var/lib before and after. No systemd runs as PID 1 here, so the
# units are verified (systemd-analyze), not started. Needs root.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/hale-debs-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

[ "$(id -u)" -eq 0 ] || fail "needs root (it installs packages)"
if dpkg-query -W -f='${Status}' hale-agent 2>/dev/null | grep -q installed; then
  fail "hale packages are already installed here; this test installs and purges its own"
fi

snapshot() {
  find /etc /usr /var/lib -xdev \( -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/lib/ucf \
    -o -path /var/lib/systemd -o -path /etc/ld.so.cache \) -prune -o -print 2>/dev/null |
    grep -v -E '^/etc/(passwd|group|shadow|gshadow)-?$' | sort
}

step "build"
bash "$root/deb/build.sh" "$work/out" > "$work/build.log" 2>&1 || { tail -50 "$work/build.log"; fail "deb/build.sh"; }
version=$(sed -n 's/^project(hale VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
for p in hale-agent hale-aggregator hale-tools; do
  ls "$work/out/${p}_${version}_"*.deb > /dev/null || fail "no $p package built"
done

step "lintian"
lintian --fail-on error,warning --tag-display-limit 0 "$work"/out/*.deb | tee "$work/lintian.log" ||
  fail "lintian reports errors or warnings"

step "install"
snapshot > "$work/before"
apt-get install -y -q --no-install-recommends "$work"/out/hale-agent_*.deb "$work"/out/hale-aggregator_*.deb \
  "$work"/out/hale-tools_*.deb > "$work/install.log" 2>&1 || { cat "$work/install.log"; fail "apt-get install"; }
cat "$work/install.log" | grep -E "hale-(agent|aggregator):" || true
grep -q "hale-agent: /etc/hale/agent.toml is not ready yet" "$work/install.log" ||
  fail "the agent's postinst did not say its example config is not ready"
grep -q "hale-aggregator: /etc/hale/aggregator.toml is not ready yet" "$work/install.log" ||
  fail "the aggregator's postinst did not say its example config is not ready"

step "what is installed"
[ "$(/usr/sbin/hale-agent --version)" = "hale-agent $version" ] || fail "hale-agent --version"
[ "$(/usr/sbin/hale-aggregator --version)" = "hale-aggregator $version" ] || fail "hale-aggregator --version"
[ "$(/usr/bin/halectl version)" = "halectl $version" ] || fail "halectl version"
for f in /usr/share/man/man1/halectl.1.gz /usr/share/man/man8/hale-agent.8.gz /usr/share/man/man8/hale-aggregator.8.gz \
  /usr/share/man/man5/hale-agent.toml.5.gz /usr/share/man/man5/hale-aggregator.toml.5.gz \
  /usr/share/bash-completion/completions/halectl; do
  [ -f "$f" ] || fail "not installed: $f"
done
man -w halectl > /dev/null 2>&1 || ! command -v man > /dev/null || fail "man does not find halectl(1)"
getent passwd hale > /dev/null || fail "no hale user"
getent group hale > /dev/null || fail "no hale group"
[ "$(stat -c '%a %U %G' /var/lib/hale)" = "750 hale hale" ] || fail "/var/lib/hale: $(stat -c '%a %U %G' /var/lib/hale)"
for f in agent aggregator; do
  [ "$(stat -c '%a %U %G' /etc/hale/$f.toml)" = "640 root hale" ] || fail "/etc/hale/$f.toml: $(stat -c '%a %U %G' /etc/hale/$f.toml)"
  grep -q "^/etc/hale/$f.toml$" "/var/lib/dpkg/info/hale-$f.conffiles" || fail "/etc/hale/$f.toml is not a conffile"
  unit=/lib/systemd/system/hale-$f.service
  [ -f "$unit" ] || fail "no $unit"
  systemd-analyze verify "$unit" || fail "systemd-analyze verify $unit"
  exposure=$(systemd-analyze security --offline=yes --no-pager "$unit" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 2.5) }' || fail "$unit exposure $exposure"
  echo "hale-$f.service: exposure $exposure"
done
# The example config passes --check-config once it is filled in: the shipped copy says what is missing
# (exit 2), never crashes.
set +e
/usr/sbin/hale-agent --check-config --config /etc/hale/agent.toml > "$work/check.log" 2>&1
code=$?
set -e
[ "$code" -eq 2 ] || { cat "$work/check.log"; fail "hale-agent --check-config on the example: exit $code"; }
echo "no systemd as PID 1 here: the units are verified, not started"

step "remove and purge"
apt-get remove -y -q hale-agent hale-aggregator hale-tools > "$work/remove.log" 2>&1 || { cat "$work/remove.log"; fail "remove"; }
[ -f /etc/hale/agent.toml ] || fail "remove (not purge) took the agent's conffile"
apt-get purge -y -q hale-agent hale-aggregator hale-tools > "$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "purge"; }
for p in hale-agent hale-aggregator hale-tools; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q installed; then fail "$p still installed"; fi
done
snapshot > "$work/after"
if ! diff -u "$work/before" "$work/after" > "$work/fs.diff"; then
  cat "$work/fs.diff"
  fail "purge left files behind (or took some)"
fi
echo "PASS: built, lintian-clean, installed, verified, purged without a trace"
