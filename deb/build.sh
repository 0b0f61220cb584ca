#!/usr/bin/env bash
# Builds the Debian packages hale-agent, hale-aggregator and hale-tools from this checkout (binary, unsigned)
# into deb/out/ (or the directory given), with dpkg-buildpackage. Needs the build dependencies
# (packaging/install-deps.sh installs them, debhelper and lintian included).
#
# dpkg-buildpackage wants debian/ at the top of the source tree, whose top level is fixed here, so the
# tree is staged in a temporary directory: the files git knows (tracked, and new ones not ignored), deb/debian
# as debian/, and the units from packaging/ as debian/<package>.service, so each has one source. The
# version is the one in CMakeLists.txt's project().
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/deb/out}
version=$(sed -n 's/^project(hale VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
[ -n "$version" ] || { echo "deb/build.sh: no version in CMakeLists.txt's project()" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/hale-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
src="$work/hale-$version"
mkdir -p "$src" "$out"
git -C "$root" ls-files -z --cached --others --exclude-standard |
  (cd "$root" && tar --null --files-from=- -cf -) | tar -C "$src" -xf -
rm -rf "$src/deb"
cp -r "$root/deb/debian" "$src/debian"
cp "$root/packaging/hale-agent.service" "$src/debian/hale-agent.service"
cp "$root/packaging/hale-aggregator.service" "$src/debian/hale-aggregator.service"
cat > "$src/debian/changelog" <<CHANGELOG
hale ($version) unstable; urgency=medium

  * Built from the hale source tree (CMakeLists.txt project version $version).

 -- hale developers <hale-devel@lists.example.org>  $(date -R -d "@$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)")
CHANGELOG

echo "deb/build.sh: building hale $version packages in $src"
# No -dbgsym packages: none is published.
(cd "$src" && DEB_BUILD_OPTIONS="parallel=$(nproc) nocheck noautodbgsym" dpkg-buildpackage -us -uc -b)
mv "$work"/*.deb "$out"/
ls -1 "$out"/*.deb
