#!/bin/bash
# shellcheck disable=SC2317  # helpers are called through check()
# The shutdown-time flush of the runtime files, each installed as `make install` does
# into a real ext4 root (loop device) that the test chroots into, after a real
# `ephemeral mount` of that root (store on /run/initramfs/ephemeral as in a boot):
#  - runtime/system-shutdown/ephemeral as systemd-shutdown runs it: overlays unmounted
#    (or still busy), / read-only; it defers to a shutdown initramfs carrying our binary;
#  - runtime/runit/shutdown.d/75-ephemeral.sh sourced the way runit's stage 3 does;
#  - runtime/openrc/ephemeral-flush with OpenRC's functions (ebegin, eend, eerror,
#    need, use, after, before, keyword) defined as stubs that print: start() in the
#    shutdown runlevel (upstream OpenRC), stop() in the shutdown (Debian, off
#    runlevel), refused or a no-op elsewhere; no hard dependency Debian lacks;
#  - runtime/sysv/ephemeral-shutdown as a K script (Debian runit-init's stage 3);
#  - fail closed: with the store unmounted under the overlays, each says loudly that
#    the changes are unreachable (the system-shutdown hook exits 111).
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
	subst "$TOP/runtime/openrc/ephemeral-sweep" "$src/etc/init.d/ephemeral-sweep" 755
	subst "$TOP/runtime/sysv/ephemeral-shutdown" "$src/etc/init.d/ephemeral-shutdown" 755
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

# --- Void/Artix runit: a stand-in of void-runit's stage 3 (/etc/runit/3 sources
# /etc/runit/shutdown.d/*.sh in order), its 80-filesystems.sh verbatim (umount -r -a
# -t nosysfs,noproc,nodevtmpfs,notmpfs; remount / read-only) with util-linux's mount,
# the steps before 75 as stubs (70-pkill would kill this machine's processes). The
# stage-3 shell reads its scripts from /etc through the overlay: flush must name it,
# merge, and leave / able to go read-only.
void_stage3_root() {
	local d=$R/etc/runit
	# shellcheck disable=SC2016
	bash -c '. "$TOP/tests/lib/mkinitcpio-standin.sh"; BUILDROOT=$1
		add_binary "$(type -P mount)" /usr/bin/mount.util-linux
		add_binary "$(type -P umount)" /usr/bin/umount.util-linux' _ "$R" || return 1
	ln -sf umount.util-linux "$R/usr/bin/umount" && ln -sf mount.util-linux "$R/usr/bin/mount" || return 1
	cat >"$d/3" <<'SH' || return 1
#!/bin/sh
PATH=/usr/bin:/usr/sbin
. /etc/runit/functions
detect_container
[ -r /etc/rc.conf ] && . /etc/rc.conf
echo
for f in /etc/runit/shutdown.d/*.sh; do
	[ -r $f ] && . $f
done
SH
	printf '%s\n' 'msg() { echo "=> $*"; }' 'detect_container() { :; }' \
		'deactivate_vgs() { :; }' 'deactivate_crypt() { :; }' >"$d/functions"
	for step in 10-sv-stop 30-seedrng 60-udev 70-pkill; do
		echo "msg \"$step (stand-in)\"" >"$d/shutdown.d/$step.sh"
	done
	cat >"$d/shutdown.d/80-filesystems.sh" <<'SH'
if [ -z "$IS_CONTAINER" ]; then
    msg "Unmounting filesystems, disabling swap..."
    swapoff -a
    umount -r -a -t nosysfs,noproc,nodevtmpfs,notmpfs
    msg "Remounting rootfs read-only..."
    LIBMOUNT_FORCE_MOUNT2=always mount -o remount,ro /
fi

sync

if [ -z "$IS_CONTAINER" ]; then
    deactivate_vgs
    deactivate_crypt
fi
SH
}
if step "void-runit: booted root" booted_root void && step "void-runit: stage 3 stand-in" void_stage3_root; then
	out=$(chroot "$R" /usr/bin/sh /etc/runit/3 2>&1)
	assert_match "void-runit: stage 3 ran our step between 70 and 80" \
		"70-pkill \(stand-in\).*Merging the ephemeral RAM overlays.*Unmounting filesystems" "$(tr '\n' ' ' <<<"$out")"
	assert_match "void-runit: flush named the stage-3 shell holding /etc" 'held by pid [0-9]+ \(sh\): /etc/runit/' "$out"
	check_fails "void-runit: no failure" grep -E 'UNREACHABLE|merging failed' <<<"$out"
	assert_match "void-runit: 80-filesystems made / read-only" '^ro(,|$)' "$(findmnt -n -o OPTIONS --mountpoint "$R")"
	check "void-runit: the store (tmpfs) is still mounted" findmnt -n --mountpoint "$R/run/initramfs/ephemeral"
	check_on_disk void-runit
	finish_root void-runit
fi

# --- OpenRC. Upstream (Artix): the shutdown runlevel starts it after killprocs,
# before mount-ro. Debian (sysvinit-core + openrc): `openrc off` starts it (nothing
# happens), `openrc shutdown` stops it after sendsigs, before umountnfs.sh/umountfs.
# shellcheck disable=SC2016
openrc() {
	chroot "$R" /usr/bin/sh -c '
		ebegin() { echo "* $*"; }
		eend() { [ "$1" = 0 ] || echo "* ERROR: $2"; return "$1"; }
		eerror() { echo "* ERROR: $*" >&2; }
		ewarn() { echo "* WARNING: $*" >&2; }
		for dep in need use after before; do eval "$dep() { echo $dep \"\$*\"; }"; done
		keyword() { :; }
		. "/etc/init.d/$1"
		case "$2" in
		depend) depend ;;
		start) RC_RUNLEVEL=$3 start ;;
		stop) RC_RUNLEVEL=$3 stop ;;
		esac' sh "$@"
}
if step "openrc: booted root" booted_root openrc; then
	deps=$(openrc ephemeral-flush depend)
	assert_match "openrc: after killprocs (upstream)" '^after killprocs( |$)' "$deps"
	assert_match "openrc: before mount-ro (upstream)" '^before mount-ro( |$)' "$deps"
	assert_match "openrc: started after umountfs, so stopped before it (Debian)" '^after .*umountfs( |$)' "$deps"
	assert_match "openrc: started before sendsigs, so stopped after it (Debian)" '^before .*sendsigs( |$)' "$deps"
	check_fails "openrc: no hard dependency at all (Debian lacks localmount)" grep -q '^need' <<<"$deps"
	sweep_deps=$(openrc ephemeral-sweep depend)
	check_fails "openrc: the sweeper does not need localmount (Debian lacks it)" grep -q '^need' <<<"$sweep_deps"
	assert_match "openrc: the sweeper uses localmount where it exists" '^use localmount' "$sweep_deps"
	check_fails "openrc: start() in the default runlevel is refused" openrc ephemeral-flush start default
	check "openrc: start() in Debian's off runlevel succeeds" openrc ephemeral-flush start off
	check "openrc: stop() outside a shutdown succeeds" openrc ephemeral-flush stop default
	assert_eq "openrc: ... and none of them merges anything" old-host "$(lower etc/hostname)"
	check "openrc: ... the overlay is untouched" test "$(findmnt -n -o FSTYPE --mountpoint "$R/etc")" = overlay
	check "openrc: stop() in the shutdown (Debian)" openrc ephemeral-flush stop shutdown
	check_on_disk openrc
	check_second_run_noop openrc openrc ephemeral-flush start shutdown
	finish_root openrc
fi
if step "openrc-upstream: booted root" booted_root openrc-up; then
	check "openrc-upstream: start() in the shutdown runlevel" openrc ephemeral-flush start shutdown
	check_on_disk openrc-upstream
	finish_root openrc-upstream
fi

# --- Debian runit-init (and sysv-rc): the K script stage 3 runs from /etc/rc0.d
sysv_k() { chroot "$R" /etc/init.d/ephemeral-shutdown "$@"; }
if step "sysv: booted root" booted_root sysv; then
	header=$(sed -n '/^### BEGIN INIT INFO/,/^### END INIT INFO/p' "$R/etc/init.d/ephemeral-shutdown")
	assert_match "sysv: stops after sendsigs" '^# X-Stop-After: +sendsigs$' "$header"
	assert_match "sysv: stops before umountnfs (so before umountfs)" '^# Required-Stop: +umountnfs$' "$header"
	assert_match "sysv: K links in runlevels 0 and 6 only" '^# Default-Stop: +0 6$' "$header"
	check "sysv: start is a no-op" sysv_k start
	assert_eq "sysv: ... that merges nothing" old-host "$(lower etc/hostname)"
	check "sysv: stop merges" sysv_k stop
	check_on_disk sysv
	check_second_run_noop sysv sysv_k stop
	finish_root sysv
fi

# --- fail closed: an init's unmount script took the store away under the overlays
if step "store-gone: booted root" booted_root gone; then
	check "store-gone: the store unmounts while the overlays use it" umount "$R/run/initramfs/ephemeral"
	out=$(shutdown_hook 2>&1)
	assert_eq "store-gone: the system-shutdown hook fails" 111 "$?"
	assert_match "store-gone: ... saying the changes are unreachable" 'overlay on /etc .*UNREACHABLE' "$out"
	out=$(runit_stage3 2>&1 | tr '\n' ' ')
	assert_match "store-gone: runit's stage 3 says so and goes on" 'UNREACHABLE.*merging failed.*stage 3 goes on' "$out"
	out=$(openrc ephemeral-flush stop shutdown 2>&1 | tr '\n' ' ')
	assert_match "store-gone: OpenRC says so" 'UNREACHABLE.*ERROR: Merging failed' "$out"
	out=$(sysv_k stop 2>&1 | tr '\n' ' ')
	assert_match "store-gone: the K script says so" 'UNREACHABLE.*merging failed' "$out"
	finish_root store-gone
fi

finish
