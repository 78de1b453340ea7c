#!/bin/bash
# shellcheck disable=SC2317  # helpers are called through check()
# initcpio/install/ephemeral, run unmodified (as `make install` substitutes it) against
# the mkinitcpio build-API stand-in: what lands in busybox images, systemd images and
# the sd-shutdown ramfs; hook order errors; help(); the tmpfiles line that adds our
# hook to mkinitcpio's shutdown ramfs config, applied by the real systemd-tmpfiles.
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
# shellcheck source=tests/lib/initcpio-test.sh
. "$TOP/tests/lib/initcpio-test.sh"
need_root
in_private_mount_ns "$@"
make_scratch_tmpfs
export TOP

standin_libdir "$SCRATCH/lib"
# A config file on the "host": /etc is writable in this namespace only.
host_overlay /etc
printf 'dirs = /etc\n' >/etc/ephemeral.conf

# build NAME HOOK...: standin_build in a fresh shell (hooks define functions and
# globals); the image is $SCRATCH/NAME, the build log $SCRATCH/NAME.log.
# shellcheck disable=SC2016
build() {
	local name=$1
	shift
	bash -c '. "$TOP/tests/lib/mkinitcpio-standin.sh"; standin_build "$@"' _ "$SCRATCH/$name" "$@" \
		>"$SCRATCH/$name.log" 2>&1
}
# in_image NAME CMD...: run CMD chrooted into image NAME (with /proc: ASan needs it).
in_image() {
	local name=$1
	shift
	mountpoint -q "$SCRATCH/$name/proc" || mount -t proc proc "$SCRATCH/$name/proc"
	chroot "$SCRATCH/$name" "$@"
}

# --- busybox image
check "busybox image builds (HOOKS=(base ephemeral))" build bb base ephemeral
bb=$SCRATCH/bb
check "the binary is in the image at BINDIR" cmp "$EPHEMERAL" "$bb$BINDIR/ephemeral"
check "libkmod is in the image" test -n "$(find "$bb/usr/lib" -name 'libkmod.so*' -print -quit)"
check "libblkid is in the image" test -n "$(find "$bb/usr/lib" -name 'libblkid.so*' -print -quit)"
# Every ELF dependency arrived: the binary runs inside the image and nothing else.
check "the binary runs inside the image (all its libraries are there)" in_image bb "$BINDIR/ephemeral" --version
assert_match "the overlay module is requested" '^overlay ' "$(cat "$bb.modules")"
check "the runtime hook is /hooks/ephemeral, executable" test -x "$bb/hooks/ephemeral"
check "the runtime hook is ours, BINDIR substituted" cmp "$SCRATCH/lib/hooks/ephemeral" "$bb/hooks/ephemeral"
check "the shutdown wrapper is in the image" cmp "$SCRATCH/lib/ephemeral-shutdown" "$bb/usr/lib/ephemeral/shutdown"
check "the shutdown wrapper is executable" test -x "$bb/usr/lib/ephemeral/shutdown"
check "/etc/ephemeral.conf is copied into the image" cmp /etc/ephemeral.conf "$bb/etc/ephemeral.conf"
config=$(cat "$bb/config")
assert_match "/config runs ephemeral as a late hook" '^LATEHOOKS=".*\bephemeral\b' "$config"
assert_match "/config runs ephemeral as a cleanup hook" '^CLEANUPHOOKS=".*\bephemeral\b' "$config"
check "no systemd unit in a busybox image" test ! -e "$bb/usr/lib/systemd/system/ephemeral-initrd-mount.service"

rm /etc/ephemeral.conf
check "an image builds without /etc/ephemeral.conf" build noconf base ephemeral
check "... and has none" test ! -e "$SCRATCH/noconf/etc/ephemeral.conf"
printf 'dirs = /etc\n' >/etc/ephemeral.conf

# --- systemd image: the unit comes from the host's /usr/lib/systemd/system
check_fails "systemd image without our unit installed: the build fails" build sdmissing base systemd ephemeral
assert_match "... naming the missing unit" 'ephemeral-initrd-mount.service' "$(cat "$SCRATCH/sdmissing.log")"
host_overlay /usr/lib/systemd/system
subst "$TOP/initcpio/ephemeral-initrd-mount.service" /usr/lib/systemd/system/ephemeral-initrd-mount.service
check "systemd image builds (HOOKS=(base systemd ephemeral))" build sd base systemd ephemeral
sd=$SCRATCH/sd
unit=$sd/usr/lib/systemd/system/ephemeral-initrd-mount.service
check "the unit is in the image" cmp /usr/lib/systemd/system/ephemeral-initrd-mount.service "$unit"
assert_match "the unit mounts on /sysroot with the installed binary" \
	"^ExecStart=$BINDIR/ephemeral mount --root /sysroot\$" "$(cat "$unit")"
check "initrd.target wants the unit" \
	test "$(readlink -f "$sd/usr/lib/systemd/system/initrd.target.wants/ephemeral-initrd-mount.service")" = "$(realpath "$unit")"
check "the binary is in the systemd image" cmp "$EPHEMERAL" "$sd$BINDIR/ephemeral"
check "the binary runs inside the systemd image" in_image sd "$BINDIR/ephemeral" --version
assert_match "the overlay module is requested" '^overlay ' "$(cat "$sd.modules")"
check "/etc/ephemeral.conf is in the systemd image" cmp /etc/ephemeral.conf "$sd/etc/ephemeral.conf"
check "no busybox runtime hook in a systemd image (it would not run)" test ! -e "$sd/hooks/ephemeral"
for key in 'DefaultDependencies=no' 'ConditionPathExists=/etc/initrd-release' \
	'After=.*\bsysroot\.mount\b' 'After=.*\binitrd-fs\.target\b' 'Before=.*\binitrd\.target\b' \
	'Before=.*\binitrd-cleanup\.service\b' 'SuccessExitStatus=100 111'; do
	assert_match "unit: $key" "^$key" "$(cat "$unit")"
done
check_fails "'ephemeral' before 'systemd' in HOOKS: the build fails" build sdorder base ephemeral systemd
assert_match "... saying where to put it" "after 'systemd'" "$(cat "$SCRATCH/sdorder.log")"

# --- the shutdown ramfs mkinitcpio-generate-shutdown-ramfs.service builds (-k none)
export KERNELVERSION=none
check "shutdown ramfs builds (HOOKS=(sd-shutdown ephemeral), -k none)" build sdshut sd-shutdown ephemeral
sdshut=$SCRATCH/sdshut
check "/shutdown is our wrapper" cmp "$SCRATCH/lib/ephemeral-shutdown" "$sdshut/shutdown"
check "/shutdown.orig is systemd-shutdown" cmp /usr/lib/systemd/systemd-shutdown "$sdshut/shutdown.orig"
check "the wrapper's shell runs inside the ramfs" in_image sdshut /usr/bin/ash -c 'exit 0'
check "the binary runs inside the ramfs" in_image sdshut "$BINDIR/ephemeral" --version
check "no kernel modules requested with -k none" test ! -s "$sdshut.modules"
check_fails "'ephemeral' before 'sd-shutdown': the build fails" build sdshut2 ephemeral sd-shutdown
assert_match "... saying where to put it" "after 'sd-shutdown'" "$(cat "$SCRATCH/sdshut2.log")"
unset KERNELVERSION

# --- help()
helptext=$(bash -c '. "$1"; help' _ "$SCRATCH/lib/install/ephemeral")
assert_match "help names the HOOKS line for busybox images" 'HOOKS=\(base udev .*fsck ephemeral\)' "$helptext"
assert_match "help names the HOOKS line for systemd images" 'HOOKS=\(base systemd .*fsck ephemeral\)' "$helptext"
assert_match "help names the rescue switch" 'ephemeral=off' "$helptext"
assert_match "help says to rebuild" 'mkinitcpio -P' "$helptext"

# --- the tmpfiles line, applied by the real systemd-tmpfiles in a scratch root
if command -v systemd-tmpfiles >/dev/null; then
	t=$SCRATCH/tmpfiles
	mkdir -p "$t/usr/lib/tmpfiles.d" "$t/run"
	cp "$TOP/initcpio/ephemeral-mkinitcpio.tmpfiles" "$t/usr/lib/tmpfiles.d/ephemeral-mkinitcpio.conf"
	systemd-tmpfiles --root="$t" --create >/dev/null 2>&1
	check "without mkinitcpio's shutdown config, the tmpfiles line creates nothing" \
		test ! -e "$t/run/initramfs/mkinitcpio-shutdown.conf"
	# mkinitcpio's own tmpfiles.d entry, as it ships it (20-mkinitcpio.conf)
	printf '%s\n' 'd /run/initramfs 0755 root root' \
		'f+ /run/initramfs/mkinitcpio-shutdown.conf 0644 root root - HOOKS=(sd-shutdown)\n' \
		>"$t/usr/lib/tmpfiles.d/20-mkinitcpio.conf"
	systemd-tmpfiles --root="$t" --create >/dev/null 2>&1
	hooks=$(bash -c '. "$1"; echo "${HOOKS[*]}"' _ "$t/run/initramfs/mkinitcpio-shutdown.conf")
	assert_eq "the shutdown ramfs config gets ephemeral after sd-shutdown" "sd-shutdown ephemeral" "$hooks"
else
	diag "systemd-tmpfiles not installed: tmpfiles line not checked"
fi

# --- a package built where libkmod lived elsewhere (@LIBKMOD@ missing here): the hook
# takes the libkmod beside the libblkid the binary links.
LIBKMOD=/nonexistent/libkmod.so.2 standin_libdir "$SCRATCH/lib-elsewhere"
check "libkmod path of another machine: the image builds" build bbx base ephemeral
check "... and has libkmod, found beside libblkid" \
	test -n "$(find "$SCRATCH/bbx/usr/lib" -name 'libkmod.so*' -print -quit)"
assert_eq "... without a warning" "" "$(grep -i 'libkmod' "$SCRATCH/bbx.log")"

finish
