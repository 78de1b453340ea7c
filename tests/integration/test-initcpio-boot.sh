#!/bin/bash
# shellcheck disable=SC2317  # helpers are called through check()
# The real runtime hook (initcpio/hooks/ephemeral) in a real image tree built by the
# mkinitcpio stand-in, booted by the busybox /init stand-in (early → hook → mount root
# → latehook → cleanuphook in reverse → switch_root) under chroot in a private mount
# namespace, with the real binary and a real ext4 root on a loop device (mounted
# read-only, as mkinitcpio does). Then the test plays the running system (writes through
# the overlays) and systemd-shutdown's pivot (old root moved to
# /run/initramfs/oldroot, exec /shutdown VERB ... in a chroot there) and checks the
# disk. Variants: the 'shutdown' hook after and before ours in HOOKS (we wrap its
# /shutdown), no 'shutdown' hook (we provide the shutdown ramfs), the sd-shutdown ramfs
# of systemd images, a failing flush (the shutdown goes on), the store unmounted under
# the overlays (the flush fails loudly), ephemeral=off, bad
# settings and a missing binary (the boot goes on).
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
# shellcheck source=tests/lib/initcpio-test.sh
. "$TOP/tests/lib/initcpio-test.sh"
need_root
need_binary
in_private_mount_ns "$@"
make_scratch_tmpfs
export TOP
exec 3>&1 # diagnostics from inside steps

standin_libdir "$SCRATCH/lib"
host_overlay /etc
# Plain tmpfs mounts are not this test's business; the file also proves that the
# image's copy of the config is what the hook's `ephemeral mount` reads.
printf 'tmpfs = none\ndirs = /etc,/var/log\n' >/etc/ephemeral.conf

# step DESC CMD...: like check, but CMD runs in this shell (it may set variables).
step() {
	local desc=$1
	shift
	if "$@" >"$SCRATCH/step.out" 2>&1; then ok "$desc"; else
		not_ok "$desc"
		head -40 "$SCRATCH/step.out" | sed 's/^/#   /'
		return 1
	fi
}

# boot NAME CMDLINE HOOK...: a fresh root filesystem and image, then /init (after
# running $PREBOOT, if set, on the built image).
# Sets BR (image tree), DEV (root device); boot log in $SCRATCH/NAME.boot.
boot() {
	local name=$1 cmdline=$2 src=$SCRATCH/$1.rootsrc
	shift 2
	mkdir -p "$src/etc" "$src/var/log" "$src/run" "$src/sbin"
	echo old-host >"$src/etc/hostname"
	echo 'root:x:0:0:root:/root:/bin/sh' >"$src/etc/passwd"
	echo doomed >"$src/etc/todelete"
	echo 'line 1' >"$src/var/log/old.log"
	make_ext4 "$SCRATCH/$name.img" "$src" || return 1
	DEV=$LOOPDEV
	BR=$SCRATCH/$name
	bash -c '. "$TOP/tests/lib/mkinitcpio-standin.sh"; standin_build "$@"' _ "$BR" "$@" \
		>"$SCRATCH/$name.build" 2>&1 || { cat "$SCRATCH/$name.build"; return 1; }
	echo "root=$DEV ro $cmdline" >"$BR/standin.cmdline"
	[ -z "${PREBOOT:-}" ] || eval "$PREBOOT"
	chroot "$BR" /init >"$SCRATCH/$name.boot" 2>&1 || { cat "$SCRATCH/$name.boot"; return 1; }
	sed 's/^/# boot: /' "$SCRATCH/$name.boot" >&3
}

# use_system: what the running system does: change /etc and /var/log (the root is
# read-only underneath: the writes only work through the overlays).
use_system() {
	echo new-host >"$BR/new_root/etc/hostname" &&
		rm "$BR/new_root/etc/todelete" &&
		mkdir "$BR/new_root/etc/newdir" &&
		echo fresh >"$BR/new_root/etc/newdir/f" &&
		echo 'line 2' >>"$BR/new_root/var/log/old.log"
}

# pivot: systemd-shutdown's switch into /run/initramfs: the old root (with what is
# still mounted on it) at /oldroot, API filesystems mounted. Sets S.
pivot() {
	S=$BR/run/initramfs
	mkdir -p "$S/oldroot" "$S/proc" "$S/sys" "$S/dev" &&
		mount --move "$BR/new_root" "$S/oldroot" &&
		mount -t proc proc "$S/proc" &&
		mount -t sysfs sys "$S/sys" &&
		mount -t devtmpfs dev "$S/dev"
}

# run_shutdown VERB ARGS...: exec /shutdown as the PID that systemd-shutdown would be.
run_shutdown() {
	# shellcheck disable=SC2016
	chroot "$S" /usr/bin/busybox sh -c 'echo $$ >/wrapper.pid; exec /shutdown "$@"' sh "$@" \
		>"$SCRATCH/shutdown.out" 2>&1
	local rc=$?
	sed 's/^/# shutdown: /' "$SCRATCH/shutdown.out" >&3
	return "$rc"
}

# check_disk NAME: unmount what is left, mount the root filesystem afresh (read-only)
# and check that the changes reached it.
check_disk() {
	local m=$SCRATCH/$1.check
	umount -R "$S/oldroot" 2>/dev/null
	mkdir -p "$m"
	mount -o ro "$DEV" "$m" || { not_ok "$1: root filesystem mounts after shutdown"; return; }
	assert_eq "$1: changed file is on the disk" new-host "$(cat "$m/etc/hostname")"
	check "$1: deleted file is gone from the disk" test ! -e "$m/etc/todelete"
	assert_eq "$1: new dir and file are on the disk" fresh "$(cat "$m/etc/newdir/f" 2>&1)"
	assert_eq "$1: appended log is on the disk" "$(printf 'line 1\nline 2')" "$(cat "$m/var/log/old.log")"
	check "$1: the flush summary is in /var/log/ephemeral.log" test -s "$m/var/log/ephemeral.log"
	umount "$m"
	check "$1: the filesystem is clean" e2fsck -fn "$DEV"
}

# check_booted: after /init: overlays with their upper in the store.
check_booted() {
	assert_match "$1: /init went all the way to switch_root" '^standin-init: switch_root' "$(cat "$SCRATCH/$1.boot")"
	assert_eq "$1: /new_root/etc is an overlay" overlay "$(findmnt -n -o FSTYPE --mountpoint "$BR/new_root/etc")"
	assert_match "$1: its upper is in the store" 'upperdir=/run/initramfs/ephemeral/' \
		"$(findmnt -n -o OPTIONS --mountpoint "$BR/new_root/etc")"
	assert_eq "$1: /new_root/var/log is an overlay" overlay "$(findmnt -n -o FSTYPE --mountpoint "$BR/new_root/var/log")"
	assert_eq "$1: the root stays read-only" ro "$(findmnt -n -o OPTIONS --mountpoint "$BR/new_root" | cut -d, -f1)"
}

# check_wrapped_shutdown NAME: the 'shutdown' hook's /shutdown was wrapped; run it.
check_wrapped_shutdown() {
	local name=$1 rec
	check "$name: /run/initramfs/shutdown is our wrapper" cmp "$SCRATCH/lib/ephemeral-shutdown" "$BR/run/initramfs/shutdown"
	check "$name: the original is kept as /run/initramfs/shutdown.orig" \
		cmp "$FIXTURES/shutdown-stub" "$BR/run/initramfs/shutdown.orig"
	check "$name: the system writes through the overlays" use_system
	step "$name: shutdown pivot" pivot
	check "$name: /shutdown poweroff runs" run_shutdown poweroff --log-level=info
	rec=$(cat "$S/shutdown.record" 2>&1)
	assert_match "$name: the original ran with the same argv" '^argv=poweroff --log-level=info$' "$rec"
	assert_eq "$name: ... as the same process (exec, PID 1 stays PID 1)" \
		"pid=$(cat "$S/wrapper.pid")" "$(echo "$rec" | grep '^pid=')"
	assert_eq "$name: ... after the flush detached the /etc overlay" "etc_fstype=" "$(echo "$rec" | grep '^etc_fstype=')"
	assert_eq "$name: ... and merged it into the lower /etc" "hostname=new-host" "$(echo "$rec" | grep '^hostname=')"
	check_disk "$name"
}

# --- the 'shutdown' hook after ours in HOOKS: its cleanup copies the image first
if step "after: boot (HOOKS=(base ephemeral shutdown))" boot after quiet base ephemeral shutdown; then
	check_booted after
	check_wrapped_shutdown after
fi

# --- the 'shutdown' hook before ours: we wrap /shutdown in the image, its copy carries it
if step "before: boot (HOOKS=(base shutdown ephemeral))" boot before quiet base shutdown ephemeral; then
	check_booted before
	check_wrapped_shutdown before
fi

# --- no 'shutdown' hook: we provide the shutdown ramfs ourselves
if step "own: boot (HOOKS=(base ephemeral))" boot own quiet base ephemeral; then
	check_booted own
	check "own: /run/initramfs/shutdown is our wrapper" cmp "$SCRATCH/lib/ephemeral-shutdown" "$BR/run/initramfs/shutdown"
	check "own: no next stage" test ! -e "$BR/run/initramfs/shutdown.orig"
	check "own: the ramfs has the binary" cmp "$EPHEMERAL" "$BR/run/initramfs$BINDIR/ephemeral"
	check "own: the ramfs has busybox" test -x "$BR/run/initramfs/usr/bin/busybox"
	check "own: the ramfs has no kernel modules" test ! -e "$BR/run/initramfs/usr/lib/modules"
	check "own: the system writes through the overlays" use_system
	step "own: shutdown pivot" pivot
	# The last step, poweroff -f, is the system's: record it instead.
	rm -f "$S/usr/bin/poweroff"
	cat >"$S/usr/bin/poweroff" <<'EOF'
#!/usr/bin/ash
{ echo "argv=$*"; echo "oldroot=$(awk '$2 == "/oldroot" { print $3 }' /proc/mounts)"; } >/poweroff.record
EOF
	chmod 755 "$S/usr/bin/poweroff"
	check "own: /shutdown poweroff runs" run_shutdown poweroff
	rec=$(cat "$S/poweroff.record" 2>&1)
	assert_match "own: it powers off with -f" '^argv=-f$' "$rec"
	assert_match "own: ... after unmounting /oldroot" '^oldroot=$' "$rec"
	check_disk own
fi

# --- ephemeral=off: nothing mounted, shutdown not wrapped
if step "off: boot (ephemeral=off)" boot off 'quiet ephemeral=off' base ephemeral shutdown; then
	assert_match "off: /init went all the way to switch_root" '^standin-init: switch_root' "$(cat "$SCRATCH/off.boot")"
	assert_eq "off: /new_root/etc is not an overlay" ext4 "$(findmnt -n -o FSTYPE --target "$BR/new_root/etc")"
	check "off: no store state" test ! -e "$BR/run/initramfs/ephemeral/state"
	check "off: /run/initramfs/shutdown is the 'shutdown' hook's own" cmp "$FIXTURES/shutdown-stub" "$BR/run/initramfs/shutdown"
	check "off: not wrapped" test ! -e "$BR/run/initramfs/shutdown.orig"
fi

# --- systemd image: the sd-shutdown ramfs that mkinitcpio-generate-shutdown-ramfs.service
# builds with our hook appended (its /shutdown.orig, systemd-shutdown, is replaced by
# the stub). Booted through the busybox hook (systemd cannot run here); systemd-shutdown
# moves /run into the ramfs, so the store is at /run/initramfs/ephemeral there.
if step "sd: boot" boot sd quiet base ephemeral; then
	T=$SCRATCH/sd.shutdown-ramfs
	# shellcheck disable=SC2016
	step "sd: the shutdown ramfs builds (HOOKS=(sd-shutdown ephemeral), -k none)" \
		env KERNELVERSION=none bash -c '. "$TOP/tests/lib/mkinitcpio-standin.sh"; standin_build "$@"' _ "$T" sd-shutdown ephemeral
	cp "$FIXTURES/shutdown-stub" "$T/shutdown.orig"
	# the stub's tools (the wrapper itself needs nothing but the shell)
	for a in awk cat; do ln -s busybox "$T/usr/bin/$a"; done
	check "sd: the system writes through the overlays" use_system
	S=$T
	# shellcheck disable=SC2016
	step "sd: shutdown pivot" eval 'mkdir -p "$T/oldroot" && mount --move "$BR/new_root" "$T/oldroot" &&
		mount -t proc proc "$T/proc" && mount -t devtmpfs dev "$T/dev" && mount -t sysfs sys "$T/sys" &&
		mount --rbind "$BR/run" "$T/run"'
	# shellcheck disable=SC2016
	check "sd: /shutdown poweroff runs" chroot "$T" /usr/bin/sh -c 'echo $$ >/wrapper.pid; exec /shutdown poweroff'
	rec=$(cat "$T/shutdown.record" 2>&1)
	assert_match "sd: the next stage ran with the same argv" '^argv=poweroff$' "$rec"
	assert_eq "sd: ... as the same process" "pid=$(cat "$T/wrapper.pid")" "$(echo "$rec" | grep '^pid=')"
	assert_eq "sd: ... after the flush merged /etc" "hostname=new-host" "$(echo "$rec" | grep '^hostname=')"
	umount -R "$T/run"
	check_disk sd
fi

# --- the flush fails (unreadable state): said clearly, and the shutdown goes on
if step "flushfail: boot" boot flushfail quiet base ephemeral shutdown; then
	check "flushfail: the system writes through the overlays" use_system
	echo garbage >"$BR/run/initramfs/ephemeral/state"
	step "flushfail: shutdown pivot" pivot
	run_shutdown reboot
	assert_match "flushfail: the failure is reported" 'merging the RAM overlays down to the disk failed' \
		"$(cat "$SCRATCH/shutdown.out")"
	assert_match "flushfail: the original /shutdown still runs, same argv" '^argv=reboot$' "$(cat "$S/shutdown.record" 2>&1)"
fi

# --- the store was unmounted under the overlays (its changes are unreachable): the
# flush says so loudly and fails, never "nothing to merge"; the shutdown goes on
if step "storegone: boot" boot storegone quiet base ephemeral shutdown; then
	check "storegone: the system writes through the overlays" use_system
	check "storegone: the store unmounts while the overlays use it" umount "$BR/run/initramfs/ephemeral"
	step "storegone: shutdown pivot" pivot
	run_shutdown poweroff
	out=$(cat "$SCRATCH/shutdown.out")
	assert_match "storegone: the unreachable changes are named" 'overlay on /oldroot/etc .*UNREACHABLE' "$out"
	assert_match "storegone: the failure is reported" 'merging the RAM overlays down to the disk failed' "$out"
	check_fails "storegone: never 'nothing to merge'" grep -q 'nothing to merge' <<<"$out"
	assert_match "storegone: the original /shutdown still runs" '^argv=poweroff$' "$(cat "$S/shutdown.record" 2>&1)"
fi

# --- bad settings: reported, skipped, the boot goes on with the rest
if step "bad: boot (ephemeral.dirs=relative,/etc)" boot bad 'ephemeral.dirs=relative,/etc' base ephemeral; then
	log=$(cat "$SCRATCH/bad.boot")
	assert_match "bad: the bad entry is named" 'relative' "$log"
	assert_match "bad: the hook says settings were skipped" 'ERROR: ephemeral: bad settings were skipped' "$log"
	assert_match "bad: /init went all the way to switch_root" '^standin-init: switch_root' "$log"
	assert_eq "bad: /etc is still an overlay" overlay "$(findmnt -n -o FSTYPE --mountpoint "$BR/new_root/etc")"
	check "bad: shutdown is still set up" cmp "$SCRATCH/lib/ephemeral-shutdown" "$BR/run/initramfs/shutdown"
fi

# --- the binary cannot run at all: a clear message, and the boot goes on
# shellcheck disable=SC2016 # expanded by boot()
PREBOOT='rm "$BR$BINDIR/ephemeral"'
if step "broken: boot without the binary in the image" boot broken quiet base ephemeral; then
	log=$(cat "$SCRATCH/broken.boot")
	assert_match "broken: the hook says mounting failed" 'ERROR: ephemeral: mounting the RAM overlays failed' "$log"
	assert_match "broken: /init went all the way to switch_root" '^standin-init: switch_root' "$log"
	assert_eq "broken: /etc is the plain root" ext4 "$(findmnt -n -o FSTYPE --target "$BR/new_root/etc")"
	check "broken: shutdown is not wrapped" test ! -e "$BR/run/initramfs/shutdown"
fi
unset PREBOOT

finish
