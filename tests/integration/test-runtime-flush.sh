#!/bin/bash
# shellcheck disable=SC2317  # helpers are called through check()
# The shutdown-time flush of the runtime files, each installed as `make install` does
# into a real ext4 root (loop device) that the test chroots into, after a real
# `ephemeral mount` of that root (store on /run/initramfs/ephemeral as in a boot):
#  - runtime/system-shutdown/ephemeral as systemd-shutdown runs it: overlays unmounted
#    (or still busy), / read-only; it defers to a shutdown initramfs carrying our binary;
#  - runtime/runit/shutdown.d/75-ephemeral.sh sourced the way runit's stage 3 does;
#  - runtime/openrc/ephemeral-flush with OpenRC's functions (ebegin, eend, eerror,
#    after, before, keyword) defined as stubs that print, start() in the shutdown
#    runlevel and refused outside it.
# Each must put the changes on the disk, and a second run must find nothing to do.
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
# shellcheck source=tests/lib/initcpio-test.sh
. "$TOP/tests/lib/initcpio-test.sh"
need_root
need_binary
in_private_mount_ns "$@"
make_scratch_tmpfs
export TOP EPHEMERAL
exec 3>&1 # diagnostics from inside steps

step() {
	local desc=$1
	shift
	if "$@" >"$SCRATCH/step.out" 2>&1; then ok "$desc"; else
		not_ok "$desc"
		head -40 "$SCRATCH/step.out" | sed 's/^/#   /'
		return 1
	fi
}

# booted_root NAME: a root filesystem with busybox, the binary and the runtime files,
# mounted read-write on R (device DEV) with proc, sys, dev and a tmpfs /run, and the
# overlays mounted by `ephemeral mount` inside it.
booted_root() {
	local src=$SCRATCH/$1.src
	# shellcheck disable=SC2016
	bash -c '. "$TOP/tests/lib/mkinitcpio-standin.sh"
		BUILDROOT=$1 KERNELVERSION=none
		standin_initialize_buildroot "$BUILDROOT"
		add_binary "$(type -P busybox)" /usr/bin/busybox
		for a in $(busybox --list); do add_symlink "/usr/bin/$a" busybox; done
		add_binary "$EPHEMERAL"' _ "$src" || return 1
	subst "$TOP/runtime/system-shutdown/ephemeral" "$src/usr/lib/systemd/system-shutdown/ephemeral" 755
	subst "$TOP/runtime/runit/shutdown.d/75-ephemeral.sh" "$src/etc/runit/shutdown.d/75-ephemeral.sh" 644
	subst "$TOP/runtime/openrc/ephemeral-flush" "$src/etc/init.d/ephemeral-flush" 755
	echo old-host >"$src/etc/hostname"
	echo doomed >"$src/etc/todelete"
	mkdir -p "$src/var/log"
	echo 'line 1' >"$src/var/log/old.log"
	echo 'ephemeral.tmpfs=none' >"$src/cmdline"
	make_ext4 "$SCRATCH/$1.img" "$src" || return 1
	DEV=$LOOPDEV
	R=$SCRATCH/$1
	mkdir -p "$R"
	mount "$DEV" "$R" &&
		mount -t proc proc "$R/proc" &&
		mount -t sysfs sys "$R/sys" &&
		mount -t devtmpfs dev "$R/dev" &&
		mount -t tmpfs -o mode=0755 run "$R/run" || return 1
	chroot "$R" "$BINDIR/ephemeral" mount --root / --cmdline /cmdline || return 1
	[ "$(findmnt -n -o FSTYPE --mountpoint "$R/etc")" = overlay ] || { echo "no overlay on /etc"; return 1; }
	# the running system's changes
	echo new-host >"$R/etc/hostname" &&
		rm "$R/etc/todelete" &&
		echo 'line 2' >>"$R/var/log/old.log"
}

# lower FILE: FILE as it is on the disk, under whatever overlay is mounted on its dir
# (a non-recursive bind of the root does not carry the overlays).
lower() {
	local v=$SCRATCH/lowerview
	mkdir -p "$v"
	mount --bind "$R" "$v" || return 1
	cat "$v/$1"
	umount "$v"
}

# remount_ro: what systemd-shutdown leaves: / read-only.
remount_ro() { mount -o remount,ro "$R"; }

# check_on_disk NAME: no overlay left on the dirs, and the lower dirs hold the changes.
check_on_disk() {
	check "$1: no overlay left on /etc" test "$(findmnt -n -o FSTYPE --mountpoint "$R/etc")" != overlay
	check "$1: no overlay left on /var/log" test "$(findmnt -n -o FSTYPE --mountpoint "$R/var/log")" != overlay
	assert_eq "$1: changed file is on the disk" new-host "$(cat "$R/etc/hostname")"
	check "$1: deleted file is gone from the disk" test ! -e "$R/etc/todelete"
	assert_eq "$1: appended log is on the disk" "$(printf 'line 1\nline 2')" "$(cat "$R/var/log/old.log")"
}

# check_second_run_noop NAME CMD...: a change slipped into the store's upper after the
# flush must not be merged by a second trigger (the state says: flushed).
check_second_run_noop() {
	local name=$1 upper
	shift
	upper=$R/run/initramfs/ephemeral/etc/upper
	mkdir -p "$upper" && echo late >"$upper/late"
	check "$name: a second run succeeds" "$@"
	check "$name: ... and merges nothing" test ! -e "$R/etc/late"
}

# finish_root NAME: unmount and check the filesystem.
finish_root() {
	umount -R "$R" || umount -R -l "$R"
	check "$1: the filesystem is clean" e2fsck -fn "$DEV"
}

shutdown_hook() { chroot "$R" /usr/lib/systemd/system-shutdown/ephemeral poweroff; }

# --- systemd-shutdown hook, overlays already unmounted, / read-only
if step "system-shutdown: booted root" booted_root sd; then
	umount "$R/etc" "$R/var/log"
	step "system-shutdown: / read-only" remount_ro
	check "system-shutdown: the hook runs" shutdown_hook
	assert_match "system-shutdown: / is read-only again" '^ro(,|$)' "$(findmnt -n -o OPTIONS --mountpoint "$R")"
	check_on_disk system-shutdown
	check_second_run_noop system-shutdown shutdown_hook
	finish_root system-shutdown
fi

# --- systemd-shutdown hook with a shutdown initramfs that carries our binary: it waits
if step "system-shutdown-defer: booted root" booted_root sddefer; then
	mkdir -p "$R/run/initramfs$BINDIR"
	cp "$EPHEMERAL" "$R/run/initramfs$BINDIR/ephemeral"
	printf '#!/bin/sh\n' >"$R/run/initramfs/shutdown"
	chmod 755 "$R/run/initramfs/shutdown"
	step "system-shutdown-defer: / read-only" remount_ro
	out=$(shutdown_hook 2>&1)
	assert_match "system-shutdown-defer: it says the shutdown initramfs will do it" 'shutdown initramfs' "$out"
	assert_eq "system-shutdown-defer: the disk is untouched" old-host "$(lower etc/hostname)"
	check "system-shutdown-defer: the overlay is untouched" test "$(findmnt -n -o FSTYPE --mountpoint "$R/etc")" = overlay
	# without the initramfs's copy of the binary, it flushes itself, busy overlays too
	rm "$R/run/initramfs$BINDIR/ephemeral"
	check "system-shutdown-busy: the hook runs with the overlays still mounted" shutdown_hook
	check_on_disk system-shutdown-busy
	finish_root system-shutdown-busy
fi

# --- runit: sourced by stage 3 after 70-pkill.sh; overlays mounted, / read-write
# shellcheck disable=SC2016
runit_stage3() { chroot "$R" /usr/bin/sh -c '. /etc/runit/shutdown.d/75-ephemeral.sh; echo "stage 3 goes on"'; }
if step "runit: booted root" booted_root runit; then
	out=$(runit_stage3 2>&1)
	assert_match "runit: stage 3 goes on after sourcing it" '^stage 3 goes on$' "$out"
	check_on_disk runit
	check_second_run_noop runit runit_stage3
	finish_root runit
fi

# --- OpenRC: the shutdown runlevel starts it after killprocs, before mount-ro
# shellcheck disable=SC2016
openrc() {
	chroot "$R" /usr/bin/sh -c '
		ebegin() { echo "* $*"; }
		eend() { [ "$1" = 0 ] || echo "* ERROR: $2"; return "$1"; }
		eerror() { echo "* ERROR: $*" >&2; }
		after() { echo "after $*"; }
		before() { echo "before $*"; }
		keyword() { :; }
		. /etc/init.d/ephemeral-flush
		case "$1" in
		depend) depend ;;
		start) RC_RUNLEVEL=$2 start ;;
		esac' sh "$@"
}
if step "openrc: booted root" booted_root openrc; then
	deps=$(openrc depend)
	assert_match "openrc: after killprocs" '^after killprocs$' "$deps"
	assert_match "openrc: before mount-ro" '^before mount-ro$' "$deps"
	check_fails "openrc: start() outside the shutdown runlevel is refused" openrc start default
	assert_eq "openrc: ... and merges nothing" old-host "$(lower etc/hostname)"
	check "openrc: ... the overlay is untouched" test "$(findmnt -n -o FSTYPE --mountpoint "$R/etc")" = overlay
	check "openrc: start() in the shutdown runlevel" openrc start shutdown
	check_on_disk openrc
	check_second_run_noop openrc openrc start shutdown
	finish_root openrc
fi

finish
