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
	case "$f" in *.service|*.timer|*.tmpfiles) ;; *.sh|tests/run|bench/run|.ci/run|initcpio/*|runtime/openrc/*|runtime/system-shutdown/*|runtime/runit/*|dracut/*|tests/lib/mkinitcpio-init-standin|tests/fixtures/initcpio/install/*|tests/fixtures/initcpio/hooks/*|tests/fixtures/initcpio/shutdown-stub) echo "$f" ;; esac
done)
for f in "${sh_files[@]}"; do [ -f "$f" ] && check shellcheck -x "$f"; done
mapfile -t c_files < <(git ls-files 'src/*.c' 'src/*.h' 'tests/unit/*.c' 'tests/unit/*/*.c' 'tests/lib/*.h' 'tests/lib/*.c' 'bench/*.c')
[ ${#c_files[@]} -gt 0 ] && check clang-format --dry-run --Werror "${c_files[@]}"
check tests/check-layers.sh
# The sweeper runs in the real system for the whole uptime: libc only, no libkmod/libblkid.
sweeper_libs() { readelf -d build/ephemeral-sweep | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' '; }
check test "$(sweeper_libs)" = "libc.so.6 "
check tests/gen-docs.sh --check build/ephemeral
exit 0
