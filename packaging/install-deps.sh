#!/usr/bin/env bash
# Installs everything hale needs to build and test, from Debian 12 packages. Idempotent and
# non-interactive; run as root. Packages already present are not touched, and apt-get update runs only
# when something is missing.
#
# python3-msgpack is the second msgpack implementation the wire-format test reads the golden heartbeat with;
# systemd brings systemd-analyze, which checks the units, and prometheus promtool, which checks /metrics
# (neither is started here); debhelper and lintian build and check the Debian packages (deb/).
# The test servers (PostgreSQL, MariaDB, BIND, etcd) are installed but never started as system
# services: the tests run their own instances on free loopback ports. moto_server is not packaged by
# Debian; it comes with the machine image's Python, and this script only checks that it is there. Prism
# (the contract-validating mock that serves the published Linode and OVH APIs to the tests) comes from the
# npm registry, pinned, into /opt/hale-test/prism.
set -euo pipefail

build_packages=(
  build-essential cmake pkg-config
  cppzmq-dev libzmq3-dev libmsgpack-cxx-dev libmicrohttpd-dev default-libmysqlclient-dev libpq-dev
  libcurl4-openssl-dev libssl-dev libtomlplusplus-dev nlohmann-json3-dev libsqlite3-dev libsystemd-dev
  libldns-dev libgtest-dev libbenchmark-dev clang-format clang libclang-rt-14-dev
)
server_packages=(postgresql mariadb-server bind9 bind9-dnsutils etcd-server etcd-client iproute2 socat curl python3-msgpack
  systemd prometheus debhelper lintian)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (it installs Debian packages)" >&2
  exit 1
fi

missing=()
for p in "${build_packages[@]}" "${server_packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  # Keep package scripts from starting default server instances (ports 5432, 3306, 53, 2379) on machines
  # that do not already block it; an existing policy is left exactly as it was.
  policy=/usr/sbin/policy-rc.d
  added_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    added_policy=1
  fi
  trap 'if [ "$added_policy" = 1 ]; then rm -f "$policy"; fi' EXIT
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all Debian packages present"
fi

moto=$(command -v moto_server || true)
[ -n "$moto" ] || [ ! -x /root/.pyenv/shims/moto_server ] || moto=/root/.pyenv/shims/moto_server
if [ -z "$moto" ]; then
  echo "install-deps: moto_server not found. The DynamoDB and Route 53 tests need it; it ships with this" >&2
  echo "machine image's Python (Debian 12 has no package for it)." >&2
  exit 1
fi
echo "install-deps: moto_server at $moto"

prism_dir=/opt/hale-test/prism
prism_version=5.14.2
if [ ! -x "$prism_dir/node_modules/.bin/prism" ]; then
  if ! command -v npm > /dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends nodejs npm
  fi
  echo "install-deps: installing Prism $prism_version into $prism_dir"
  mkdir -p "$prism_dir"
  npm install --prefix "$prism_dir" --no-audit --no-fund --loglevel=error "@stoplight/prism-cli@$prism_version"
fi
echo "install-deps: prism at $prism_dir/node_modules/.bin/prism"
