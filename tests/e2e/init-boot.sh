#!/bin/bash
# End-to-end, for the inits other than systemd (test-openrc-boot.sh,
# test-runit-boot.sh call it with E2E_VARIANT set): boots the Debian bookworm guest of
# tests/e2e/variant-$E2E_VARIANT.sh (its init, an initramfs built by the real dracut
# with our module, the project installed as README says) under QEMU, one boot per
# scenario, two at a time:
#  default  changes through the overlays, poweroff: every change on disk (the disk's
#           /etc equals the merged /etc before poweroff), whiteouts applied, the flush
#           ran once from the init's hook, no temporaries left, e2fsck -fn clean;
#  reboot   boot 1 changes and reboots, boot 2 sees the changes;
#  crash    QEMU killed after the changes: the disk exactly as before, e2fsck clean.
# FLUSH_HOOK_LINE (set by the caller) is the console line that shows the init's hook ran.
set -uo pipefail
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/lib/lib.sh
. "$TOP/tests/lib/lib.sh"
# shellcheck source=tests/e2e/lib-e2e.sh
. "$TOP/tests/e2e/lib-e2e.sh"
need_root
command -v qemu-system-x86_64 >/dev/null || { echo "# skipped: qemu-system-x86_64 missing (tests/deps.sh e2e)"; exit 77; }
: "${FLUSH_HOOK_LINE:?}"

# shellcheck source=tests/e2e/lib-scenarios.sh
. "$TOP/tests/e2e/lib-scenarios.sh"
t0=$(date +%s)
build_test_system
# E2E_SCENARIOS (e.g. "default reboot") runs only those, for development.
scenarios=()
for s in "reboot|ephemeral_test=reboot|--reboot" "default|ephemeral_test=default|" "crash|ephemeral_test=crash|--crash"; do
	[[ " ${E2E_SCENARIOS:-reboot default crash} " == *" ${s%%|*} "* ]] && scenarios+=("$s")
done
run_scenarios "${scenarios[@]}"

# no_temporaries NAME: no flush temporary or marker left in /etc or /var/log.
no_temporaries() {
	# shellcheck disable=SC2016 # expanded by the inner shell
	in_image "$E2E_RUN/$1.img" sh -c 'find "$IMG_ROOT/etc" "$IMG_ROOT/var/log" -name ".#ephemeral.*"'
}
# summaries NAME: the flush summary lines appended to the disk's ephemeral.log.
summaries() { image_cat "$E2E_RUN/$1.img" /var/log/ephemeral.log 2>/dev/null | grep -c ' flush: '; }
# shellcheck disable=SC2317 # called through check
hook_ran() { in_console "$1" "$FLUSH_HOOK_LINE"; }
# shellcheck disable=SC2317 # called through check
nothing_lost() { ! tr -d '\r' <"$E2E_RUN/$1.console" | grep -a -E 'UNREACHABLE|flush failed|Merging failed|merging failed'; }

name=default
if [ -f "$E2E_RUN/$name.rc" ]; then # (E2E_SCENARIOS)
	boot_status $name 0
	guest_checks $name
	check "$name: the init's shutdown hook ran the flush" hook_ran $name
	check "$name: no flush failure on the console" nothing_lost $name
	default_on_disk $name
	assert_eq "$name: flushed exactly once" 1 "$(summaries $name)"
	assert_eq "$name: no temporaries left" "" "$(no_temporaries $name)"
	scenario_done $name
fi

name=reboot
if [ -f "$E2E_RUN/$name.rc" ]; then # (E2E_SCENARIOS)
	boot_status $name 0
	guest_checks $name
	assert_match "$name: two boots" "INFO boot 2" "$(cat "$E2E_RUN/$name.result")"
	check "$name: no flush failure on the console" nothing_lost $name
	fsck_clean $name
	assert_eq "$name: boot 2's change on disk" "boot 2 was here" "$(image_cat "$E2E_RUN/$name.img" /etc/e2e-reboot)"
	assert_eq "$name: boot 1's log on disk" "boot 1 log" "$(image_cat "$E2E_RUN/$name.img" /var/log/e2e-reboot.log)"
	assert_eq "$name: one flush per boot" 2 "$(summaries $name)"
	assert_eq "$name: no temporaries left" "" "$(no_temporaries $name)"
	scenario_done $name
fi

name=crash
if [ -f "$E2E_RUN/$name.rc" ]; then # (E2E_SCENARIOS)
	read -r rc secs <"$E2E_RUN/$name.rc"
	assert_eq "$name: QEMU killed after the guest made its changes ($secs s)" "137" "$rc"
	check "$name: guest signalled its changes were made" grep -q '^KILLME' "$E2E_RUN/$name.result"
	guest_checks $name
	check "$name: journal replay" e2fsck -E journal_only -p "$E2E_RUN/$name.img"
	fsck_clean $name
	image_manifest "$E2E_RUN/$name.img" /etc >"$E2E_RUN/$name-disk-etc.manifest"
	image_manifest "$E2E_RUN/$name.img" /var/log >"$E2E_RUN/$name-disk-varlog.manifest"
	same_manifest "$name: disk /etc exactly as before the boot" "$E2E_RUN/base-etc.manifest" "$E2E_RUN/$name-disk-etc.manifest"
	same_manifest "$name: disk /var/log exactly as before the boot" "$E2E_RUN/base-varlog.manifest" "$E2E_RUN/$name-disk-varlog.manifest"
	scenario_done $name
fi

diag "$E2E_VARIANT: the whole test took $(($(date +%s) - t0)) s"
rm -f "$E2E_RUN"/*.img
finish
