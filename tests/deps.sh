#!/bin/bash
# Install what the build and the tests need from Debian's packages (CI starts on a
# clean machine). Usage: tests/deps.sh build|test|e2e|all. Installs only what is
# missing; needs root (or prints the apt-get line to run).
set -euo pipefail

build=(gcc make pkg-config libkmod-dev libblkid-dev)
test=(acl attr libcap2-bin util-linux busybox shellcheck clang-format python3 rsync e2fsprogs groff-base strace clang libclang-rt-14-dev)
e2e=(qemu-system-x86 qemu-utils debootstrap e2fsprogs cpio zstd dpkg-dev debhelper lintian)

want=()
for group in "$@"; do
	case "$group" in
	build) want+=("${build[@]}") ;;
	test) want+=("${build[@]}" "${test[@]}") ;;
	e2e) want+=("${e2e[@]}") ;;
	all) want+=("${build[@]}" "${test[@]}" "${e2e[@]}") ;;
	*) echo "deps.sh: unknown group '$group' (build|test|e2e|all)" >&2; exit 100 ;;
	esac
done

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages: ${missing[*]}; run as root: apt-get install ${missing[*]}" >&2
	exit 111
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || true
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
