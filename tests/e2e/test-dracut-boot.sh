#!/bin/bash
# End-to-end: boots a Debian bookworm system (Debian's kernel, systemd, an initramfs
# built by the real dracut with our 90ephemeral module) under QEMU and checks, one
# boot per scenario, that the overlays are mounted at boot and merged to disk by the
# shutdown initramfs. The guest (guest/e2e-guest.sh) reports over a second serial
# port; the host then inspects the disk image read-only and runs e2fsck -fn.
# Scenarios: default, reboot, discard, off, badcmdline, crash, shinit (see below).
set -uo pipefail
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/lib/lib.sh
. "$TOP/tests/lib/lib.sh"
# shellcheck source=tests/e2e/lib-e2e.sh
. "$TOP/tests/e2e/lib-e2e.sh"
need_root
command -v qemu-system-x86_64 >/dev/null || { echo "# skipped: qemu-system-x86_64 missing (tests/deps.sh e2e)"; exit 77; }

# shellcheck source=tests/e2e/lib-scenarios.sh
. "$TOP/tests/e2e/lib-scenarios.sh"

# ---- build (cached) ---------------------------------------------------------------
build_test_system

# ---- boots (two at a time, each on its own copy of the image) -----------------------
scenarios=(
	"reboot|ephemeral_test=reboot|--reboot"
	"default|ephemeral_test=default|"
	"crash|ephemeral_test=crash|--crash"
	"badcmdline|ephemeral_test=badcmdline ephemeral.dirs=relative,/nonexistent,/,/etc|"
	"discard|ephemeral_test=discard ephemeral.dirs=/etc:discard|"
	"off|ephemeral_test=off ephemeral=off|"
	"shinit|ephemeral_test=shinit|--shinit"
)
run_scenarios "${scenarios[@]}"

# ---- assertions ---------------------------------------------------------------------
# shellcheck disable=SC2317 # called through check
no_systemd_initrd() { ! tr -d '\r' <"$E2E_RUN/$1.console" | grep -E 'Welcome to .*\(Initramfs\)'; }
# shellcheck disable=SC2317 # called through check
flushed_by_hook() { in_console "$1" "ephemeral: merging the RAM changes into the disk"; }

# 1. Default boot: /etc and /var/log on overlays, changes merged at poweroff.
name=default
boot_status $name 0
guest_checks $name
check "$name: shutdown initramfs ran the flush hook" flushed_by_hook $name
default_on_disk $name
scenario_done $name

# 2. Reboot: the changes of boot 1 are merged at reboot, boot 2 sees them.
name=reboot
boot_status $name 0
guest_checks $name
assert_match "$name: two boots" "INFO boot 2" "$(cat "$E2E_RUN/$name.result")"
fsck_clean $name
assert_eq "$name: boot 2's change on disk" "boot 2 was here" "$(image_cat "$E2E_RUN/$name.img" /etc/e2e-reboot)"
assert_eq "$name: boot 1's log on disk" "boot 1 log" "$(image_cat "$E2E_RUN/$name.img" /var/log/e2e-reboot.log)"
scenario_done $name

# 3. ephemeral.dirs=/etc:discard: nothing reaches the disk.
name=discard
boot_status $name 0
guest_checks $name
fsck_clean $name
image_manifest "$E2E_RUN/$name.img" /etc >"$E2E_RUN/$name-disk-etc.manifest"
same_manifest "$name: disk /etc unchanged" "$E2E_RUN/base-etc.manifest" "$E2E_RUN/$name-disk-etc.manifest"
scenario_done $name

# 4. ephemeral=off: no overlay, writes go straight to disk, boot is normal.
name=off
boot_status $name 0
guest_checks $name
fsck_clean $name
assert_eq "$name: write to /etc went straight to disk" "written with ephemeral=off" \
	"$(image_cat "$E2E_RUN/$name.img" /etc/e2e-off)"
scenario_done $name

# 5. Bad entries on the command line: each reported once, the good one mounted.
name=badcmdline
boot_status $name 0
guest_checks $name
fsck_clean $name
kmsg=$(block $name kmsg)
for entry in relative /nonexistent /; do
	n=$(printf '%s\n' "$kmsg" | grep -cE "['\"]${entry}['\"]")
	assert_eq "$name: exactly one kernel log line about '$entry'" 1 "$n"
done
[ "$_tap_failed" -gt "$failed_before" ] && printf '%s\n' "$kmsg" | sed 's/^/#   kmsg: /'
scenario_done $name

# 6. Power cut after changes: the disk is exactly as before the boot.
name=crash
read -r rc _ <"$E2E_RUN/$name.rc"
assert_eq "$name: QEMU killed after the guest made its changes" "137" "$rc"
check "$name: guest signalled its changes were made" grep -q '^KILLME' "$E2E_RUN/$name.result"
guest_checks $name
check "$name: journal replay" e2fsck -E journal_only -p "$E2E_RUN/$name.img"
fsck_clean $name
image_manifest "$E2E_RUN/$name.img" /etc >"$E2E_RUN/$name-disk-etc.manifest"
image_manifest "$E2E_RUN/$name.img" /var/log >"$E2E_RUN/$name-disk-varlog.manifest"
same_manifest "$name: disk /etc exactly as before the boot" "$E2E_RUN/base-etc.manifest" "$E2E_RUN/$name-disk-etc.manifest"
same_manifest "$name: disk /var/log exactly as before the boot" "$E2E_RUN/base-varlog.manifest" "$E2E_RUN/$name-disk-varlog.manifest"
scenario_done $name

# 7. The same module under dracut's shell init (no systemd in the initramfs): the
# overlays are mounted and the changes still reach the disk at poweroff.
name=shinit
boot_status $name 0
guest_checks $name
check "$name: booted dracut's shell init (no systemd initrd banner)" no_systemd_initrd $name
# dracut's shell init leaves /run noexec: systemd-shutdown cannot execute the shutdown
# initramfs, so the flush must come from the system-shutdown hook instead.
check "$name: the boot hook explains where the flush happens" in_console $name "ephemeral: /run is noexec"
if flushed_by_hook $name; then diag "$name: flushed by the shutdown initramfs"; else diag "$name: flushed by another path"; fi
fsck_clean $name
assert_eq "$name: change on disk" "written under the shell-init initramfs" \
	"$(image_cat "$E2E_RUN/$name.img" /etc/e2e-shinit)"
summary=$(image_cat "$E2E_RUN/$name.img" /var/log/ephemeral.log 2>/dev/null | tail -1)
assert_match "$name: flush summary appended to /var/log/ephemeral.log" 'flush: /etc: [0-9]+ written' "$summary"
scenario_done $name

rm -f "$E2E_RUN"/*.img
finish
