#!/bin/bash
# Builds the Debian packages with dpkg-buildpackage -us -uc -b from a copy of the
# source tree (dpkg-buildpackage writes its results next to the tree) in
# build/deb/, and runs lintian on them. Cached: rebuilt only when a file of the
# tree that the package build uses changes. Prints the path of the
# ephemeral_<version>_<arch>.deb.
# Usage: tests/e2e/build-deb.sh [--check]   (--check: also run the unit tests)
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
out=$TOP/build/deb
opts=nocheck
[ "${1:-}" = --check ] && opts=
cd "$TOP"
version=$(sed -n 's/^VERSION *:= *//p' Makefile)
arch=$(dpkg --print-architecture)
deb=$out/ephemeral_${version}_${arch}.deb
# What the package build reads (the unit tests included, for --check).
files() {
	git ls-files -co --exclude-standard -- Makefile src debian man initramfs-tools runtime dracut \
		initcpio tests/deps.sh tests/unit tests/lib | LC_ALL=C sort | while read -r f; do
		[ -f "$f" ] && echo "$f"
	done
}
key=$( (echo "$opts"; files | while read -r f; do echo "$f"; cat "$f"; done) | sha256sum | cut -c1-16)
if [ -f "$deb" ] && [ "$(cat "$out/key" 2>/dev/null)" = "$key" ]; then
	echo "$deb"
	exit 0
fi
rm -rf "$out"
src=$out/ephemeral-$version
mkdir -p "$src"
files | cpio -pdm --quiet "$src"
(cd "$src" && DEB_BUILD_OPTIONS=$opts dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1 ||
	{ tail -40 "$out/build.log" >&2; echo "build-deb: dpkg-buildpackage failed (log: $out/build.log)" >&2; exit 1; }
[ -f "$deb" ] || { echo "build-deb: no $deb (log: $out/build.log)" >&2; exit 1; }
echo "$key" >"$out/key"
echo "$deb"
