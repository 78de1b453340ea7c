#!/bin/bash
# End-to-end: boots a Debian bookworm system (Debian's kernel, systemd, an initramfs
# built by the real dracut with our 90ephemeral module) under QEMU and checks, one
# boot per scenario, that the overlays are mounted at boot and merged to disk by the
# shutdown initramfs. The guest (guest/e2e-guest.sh) reports over a second serial
# port; the host then inspects the disk image read-only and runs e2fsck -fn.
# Scenarios: default, reboot, discard, off, badcmdline, crash, shinit, and the power
# cuts after checkpoints ckpt, ckpt-apt, ckpt-torn (see below).
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
	"ckpt|ephemeral_test=ckpt|--crash-boot"
	"ckpt-apt|ephemeral_test=ckpt-apt|--crash-boot"
	"ckpt-torn|ephemeral_test=ckpt-torn ephemeral.size=400M|--crash-boot"
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

# 2.-6. Reboot, discard, ephemeral=off, bad command line, power cut (lib-scenarios.sh).
for name in reboot discard off badcmdline crash; do
	"assert_$name" "$name"
	scenario_done "$name"
done

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

# 8.-10. Checkpoints: a power cut after a checkpoint, after an apt transaction (its
# hook checkpoints), in the middle of a checkpoint; the next boot replays.
assert_ckpt ckpt
scenario_done ckpt
assert_ckpt_apt ckpt-apt
scenario_done ckpt-apt
assert_ckpt_torn ckpt-torn
scenario_done ckpt-torn

rm -f "$E2E_RUN"/*.img
finish
