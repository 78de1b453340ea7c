#!/bin/bash
# Lint as a test: shellcheck on every shell file, clang-format on every C file, the
# layering of src/, the sweeper's libc-only linking, and the documents generated from
# the table of keys. Expects the plain build in build/ (tests/run builds it first).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
n=0
check() {
	n=$((n + 1))
	if "$@" >/tmp/lint.$$ 2>&1; then echo "ok $n - $*" | cut -c1-120
	else echo "not ok $n - $*" | cut -c1-120; sed 's/^/#   /' /tmp/lint.$$ | head -40; fi
	rm -f /tmp/lint.$$
}
mapfile -t sh_files < <(git ls-files | while read -r f; do
	case "$f" in *.service|*.timer|*.tmpfiles) ;; *.sh|tests/run|bench/run|.ci/run|initcpio/*|initramfs-tools/*|runtime/openrc/*|runtime/sysv/*|runtime/system-shutdown/*|runtime/runit/*|tests/e2e/guest/ephemeral-e2e.openrc|tests/e2e/guest/ephemeral-e2e.runit|dracut/*|tests/lib/mkinitcpio-init-standin|tests/fixtures/initcpio/install/*|tests/fixtures/initcpio/hooks/*|tests/fixtures/initcpio/shutdown-stub) echo "$f" ;; esac
done)
for f in "${sh_files[@]}"; do [ -f "$f" ] && check shellcheck -x "$f"; done
mapfile -t c_files < <(git ls-files 'src/*.c' 'src/*.h' 'tests/unit/*.c' 'tests/unit/*/*.c' 'tests/lib/*.h' 'tests/lib/*.c' 'tests/fuzz/*.c' 'bench/*.c')
[ ${#c_files[@]} -gt 0 ] && check clang-format --dry-run --Werror "${c_files[@]}"
check tests/check-layers.sh
# The sweeper runs in the real system for the whole uptime: libc only, no libkmod/libblkid.
sweeper_libs() { readelf -d build/ephemeral-sweep | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' '; }
check test "$(sweeper_libs)" = "libc.so.6 "
# ephemeral opens libkmod only to load a module (dlopen): linked, it (and its libcrypto)
# cost every command ~4 ms of start-up, the boot's mount included.
ephemeral_libs() { readelf -d build/ephemeral | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' '; }
check test "$(ephemeral_libs)" = "libblkid.so.1 libc.so.6 "
check tests/gen-docs.sh --check build/ephemeral
# The man pages render without a single groff warning (all warnings on).
# shellcheck disable=SC2317 # called through check
man_clean() {
	local w
	w=$(groff -ww -man -Tutf8 -z "$1" 2>&1) || { echo "$w"; return 1; }
	[ -z "$w" ] || { echo "$w"; return 1; }
}
for f in man/*.[1-9]; do grep -q "^\.so " "$f" || check man_clean "$f"; done
# One version: the Makefile's VERSION is the Debian package's and the man pages'.
version=$(sed -n 's/^VERSION *:= *//p' Makefile)
check test "$(head -n 1 debian/changelog | sed 's/^[^(]*(\([^)]*\)).*/\1/')" = "$version"
for f in man/ephemeral.8 man/ephemeral.conf.5; do check grep -q "^\.TH .* \"ephemeral $version\"" "$f"; done
exit 0
