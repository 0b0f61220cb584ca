#!/usr/bin/env bash
# Installs what hale needs, from Debian 12 packages, and says what it installs. Idempotent and
# non-interactive; run as root. Packages already present are not touched, and apt-get update runs only
# when something is missing. Usage: install-deps.sh [drill|all] (default all).
#
# drill: what the failover drill builds and runs with: the compiler, CMake, the libraries, GoogleTest
#   (the tree configures its tests), PostgreSQL, MariaDB, BIND, etcd, iproute2 and curl (the partition
#   scenario's network namespaces).
# all: the test suite's too. clang, clang-format and the sanitizer runtime (fuzzing, lint);
#   python3-msgpack, the second msgpack implementation the wire-format test reads the golden heartbeat
#   with; systemd brings systemd-analyze, which checks the units, and prometheus promtool, which checks
#   /metrics (neither is started here); debhelper and lintian build and check the Debian packages; socat.
#   moto_server (the DynamoDB and Route 53 endpoint) is not packaged by Debian: the one on PATH or in the
#   machine image's Python is used, else a pinned moto is installed into a virtualenv under
#   /opt/hale-test/moto (python3-venv) when the Python package registry answers, else the script stops
#   saying what to install. Prism (the contract-validating mock that serves the published Linode and OVH
#   APIs) comes from the npm registry, pinned, into /opt/hale-test/prism. The benchmarks' peers and load
#   (bench/run.sh, and the test that runs it briefly): wrk, nginx-light, prometheus-node-exporter, monit.
# The servers are installed but never started as system services: the drill and the tests run their own
# instances on free loopback ports.
set -euo pipefail
mode=${1:-all}
case $mode in
  drill | all) ;;
  *)
    echo "usage: install-deps.sh [drill|all]" >&2
    exit 64
    ;;
esac
prefix=${HALE_TEST_PREFIX:-/opt/hale-test}

drill_packages=(
  build-essential cmake pkg-config
  cppzmq-dev libzmq3-dev libsodium-dev libmsgpack-cxx-dev libmicrohttpd-dev default-libmysqlclient-dev libpq-dev
  libcurl4-openssl-dev libssl-dev libtomlplusplus-dev nlohmann-json3-dev libsqlite3-dev
  libldns-dev libgtest-dev libbenchmark-dev
  postgresql mariadb-server bind9 bind9-dnsutils etcd-server etcd-client iproute2 curl
)
test_packages=(clang-format clang-tidy clang libclang-rt-14-dev socat python3-msgpack python3-venv systemd prometheus debhelper
  lintian wrk nginx-light prometheus-node-exporter monit)
wanted=("${drill_packages[@]}")
[ "$mode" = drill ] || wanted+=("${test_packages[@]}")

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (it installs Debian packages)" >&2
  exit 1
fi

missing=()
for p in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps ($mode): installing ${missing[*]}"
  # Keep package scripts from starting default server instances (ports 5432, 3306, 53, 2379, 80, 9100) on machines
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
  echo "install-deps ($mode): all ${#wanted[@]} Debian packages present"
fi

if [ "$mode" = drill ]; then
  exit 0  # the drill uses neither moto nor Prism
fi

# moto_server: on PATH, in the image's Python, or in our virtualenv; else installed there, pinned.
moto_version=5.2.1
moto_venv=$prefix/moto
moto=$(command -v moto_server || true)
[ -n "$moto" ] || [ ! -x /root/.pyenv/shims/moto_server ] || moto=/root/.pyenv/shims/moto_server
[ -n "$moto" ] || [ ! -x "$moto_venv/bin/moto_server" ] || moto=$moto_venv/bin/moto_server
if [ -z "$moto" ]; then
  echo "install-deps: moto_server not found; installing moto[server]==$moto_version into $moto_venv"
  if ! /usr/bin/python3 -m venv "$moto_venv" ||
    ! timeout 600 "$moto_venv/bin/pip" install --quiet --disable-pip-version-check --retries 2 \
      "moto[server]==$moto_version"; then
    rm -rf "$moto_venv"
    cat >&2 <<MSG
install-deps: could not install moto (see the output above: most often the Python package registry
cannot be reached). The DynamoDB and Route 53 tests need moto_server. Either put one on PATH, or, where the registry answers, run:
  /usr/bin/python3 -m venv $moto_venv && $moto_venv/bin/pip install 'moto[server]==$moto_version'
and run this command again. (The drill alone needs none of it: bash tests/drill/run.sh.)
MSG
    exit 1
  fi
  moto=$moto_venv/bin/moto_server
fi
echo "install-deps: moto_server at $moto"

prism_dir=$prefix/prism
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
