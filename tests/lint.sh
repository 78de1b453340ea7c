#!/bin/bash
# Lint as a test: shellcheck on every shell file, clang-format on every C file.
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
	case "$f" in *.service|*.timer|*.tmpfiles) ;; *.sh|tests/run|bench/run|.ci/run|initcpio/*|runtime/openrc/*|runtime/sysv/*|runtime/system-shutdown/*|runtime/runit/*|tests/e2e/guest/ephemeral-e2e.openrc|tests/e2e/guest/ephemeral-e2e.runit|dracut/*|tests/lib/mkinitcpio-init-standin|tests/fixtures/initcpio/install/*|tests/fixtures/initcpio/hooks/*|tests/fixtures/initcpio/shutdown-stub) echo "$f" ;; esac
done)
for f in "${sh_files[@]}"; do [ -f "$f" ] && check shellcheck -x "$f"; done
mapfile -t c_files < <(git ls-files 'src/*.c' 'src/*.h' 'tests/unit/*.c' 'tests/lib/*.h' 'tests/lib/*.c' 'bench/*.c')
[ ${#c_files[@]} -gt 0 ] && check clang-format --dry-run --Werror "${c_files[@]}"
exit 0
