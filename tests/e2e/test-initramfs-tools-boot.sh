#!/bin/bash
# End-to-end, the Debian/Ubuntu way: a Debian bookworm system with initramfs-tools
# (no dracut) and the .deb built by dpkg-buildpackage, installed with
# `apt install ./ephemeral_*.deb` (build-image-initramfs-tools.sh), booted under QEMU
# once per scenario: default, reboot, discard, off, badcmdline, crash (as the dracut
# suite, lib-scenarios.sh) plus bigupper: 220 MB of new logs in /var/log still reach
# the disk at poweroff, merged from the shutdown root that
# ephemeral-shutdown-root.service builds (no 90 s limit). Also lintian on the
# packages and the packaged man pages rendered with every groff warning on.
set -uo pipefail
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
# A reboot is two boots, bigupper writes and merges 220 MB: on a loaded 2-core machine
# (QEMU TCG) these took 500-770 s; the default 300 s of lib-e2e.sh is too short.
export E2E_BOOT_TIMEOUT=${E2E_BOOT_TIMEOUT:-1200}
# shellcheck source=tests/lib/lib.sh
. "$TOP/tests/lib/lib.sh"
# shellcheck source=tests/e2e/lib-e2e.sh
. "$TOP/tests/e2e/lib-e2e.sh"
# shellcheck source=tests/e2e/lib-scenarios.sh
. "$TOP/tests/e2e/lib-scenarios.sh"
need_root
command -v qemu-system-x86_64 >/dev/null || { echo "# skipped: qemu-system-x86_64 missing (tests/deps.sh e2e)"; exit 77; }
if ! command -v dpkg-buildpackage >/dev/null || ! command -v lintian >/dev/null; then
	echo "# skipped: dpkg-buildpackage or lintian missing (tests/deps.sh e2e)"
	exit 77
fi

# The artifacts of build-image-initramfs-tools.sh (the kernel, initrd and image booted).
E2E_DIR=$E2E_DIR/initramfs-tools
E2E_RUN=$E2E_DIR/run
rm -rf "$E2E_RUN"
mkdir -p "$E2E_RUN"

scenarios_build "$E2E_SRC/build-image-initramfs-tools.sh"

# ---- the packages (no boot) ----------------------------------------------------------
deb=$("$E2E_SRC/build-deb.sh")
# shellcheck disable=SC2317 # called through check
lintian_clean() { # lintian's exit status decides; its root warning is not shown
	local out rc
	out=$(lintian --fail-on error,warning "${deb%/*}"/ephemeral_*.changes 2>&1)
	rc=$?
	grep -v '^running with root' <<<"$out" || :
	return "$rc"
}
check "lintian: no error or warning on the packages" lintian_clean
# shellcheck disable=SC2317 # called through check
man_renders() { # the page as packaged (gzipped), every groff warning on
	local w
	w=$(dpkg-deb --fsys-tarfile "$deb" | tar -xOf - "./usr/share/man/$1" | zcat | groff -ww -man -Tutf8 -z 2>&1) ||
		{ echo "$w"; return 1; }
	[ -z "$w" ] || { echo "$w"; return 1; }
}
for page in man8/ephemeral.8.gz man5/ephemeral.conf.5.gz; do
	check "packaged man page $page renders without warnings" man_renders "$page"
done

# ---- boots (two at a time, each on its own copy of the image) -----------------------
failed_before=$_tap_failed # (scenario_done shows a console only for its own failures)
run_scenarios \
	"bigupper|ephemeral_test=bigupper ephemeral.size=400M|" \
	"reboot|ephemeral_test=reboot|--reboot" \
	"default|ephemeral_test=default|" \
	"crash|ephemeral_test=crash|--crash" \
	"badcmdline|ephemeral_test=badcmdline ephemeral.dirs=relative,/nonexistent,/,/etc|" \
	"discard|ephemeral_test=discard ephemeral.dirs=/etc:discard|" \
	"off|ephemeral_test=off ephemeral=off|"

# ---- assertions ---------------------------------------------------------------------
# shellcheck disable=SC2317 # called through check
flushed_in_shutdown_root() { in_console "$1" "ephemeral: merging the RAM changes into the disk (root /oldroot"; }
# shellcheck disable=SC2317 # called through check
initramfs_tools_boot() { in_console "$1" "Running /scripts/init-bottom" && ! in_console "$1" "dracut"; }

boot_status default 0
guest_checks default
default_on_disk default
check "default: booted an initramfs-tools image (no dracut)" initramfs_tools_boot default
check "default: merged from the shutdown root (no 90 s limit)" flushed_in_shutdown_root default
scenario_done default
for name in reboot discard off badcmdline crash; do
	"assert_$name" "$name"
	scenario_done "$name"
done

# A big upper (220 MB of new logs): every byte on disk after poweroff.
name=bigupper
boot_status $name 0
guest_checks $name
check "$name: merged from the shutdown root (no 90 s limit)" flushed_in_shutdown_root $name
fsck_clean $name
block $name big-sums >"$E2E_RUN/$name-guest.sums"
# shellcheck disable=SC2016 # expanded by the inner shell
in_image "$E2E_RUN/$name.img" sh -c 'cd "$IMG_ROOT/var/log/e2e-big" && sha256sum log*' >"$E2E_RUN/$name-disk.sums"
assert_eq "$name: 22 logs of 10 MB in the guest" 22 "$(grep -c ' log' "$E2E_RUN/$name-guest.sums")"
same_manifest "$name: the disk holds every log byte for byte" "$E2E_RUN/$name-guest.sums" "$E2E_RUN/$name-disk.sums"
summary=$(image_cat "$E2E_RUN/$name.img" /var/log/ephemeral.log 2>/dev/null | tail -1)
assert_match "$name: flush summary on disk" 'flush: .*/var/log: [0-9]+ written' "$summary"
diag "$name: $summary"
scenario_done $name

rm -f "$E2E_RUN"/*.img
finish
