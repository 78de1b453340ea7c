#!/bin/bash
# shellcheck disable=SC2317  # helpers are called through check()
# Shutdown-time flush on a real ext4 root (loop image) after a real `ephemeral mount`:
#  - a busy overlay: processes still hold files in /etc through it (an fd on a file
#    the upper replaces, as a shell holds the init script it reads; a cwd in a dir the
#    upper deletes). flush must name them, merge every change, and leave nothing the
#    detached overlay still uses unlinked: the root then remounts read-only while they
#    still run, e2fsck -fn is clean, and the next mount removes the kept old versions;
#  - fail closed: the store unmounted (or its state unreadable) while the overlays
#    still use it: flush says the changes are unreachable and exits 111; with no
#    store and no overlay it says there is nothing to merge and exits 0.
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
# shellcheck source=tests/lib/initcpio-test.sh
. "$TOP/tests/lib/initcpio-test.sh"
need_root
need_binary
in_private_mount_ns "$@"
make_scratch_tmpfs
HOLDERS=()
kill_holders() {
	local p
	for p in "${HOLDERS[@]}"; do kill "$p" 2>/dev/null; done
	cleanup_scratch
}
trap kill_holders EXIT

# booted NAME: a fresh ext4 root on R (device DEV) with the overlays mounted by
# `ephemeral mount`, store on S. Runs in this shell (not through check: R, S and
# DEV must stay set), reports one TAP line.
booted() {
	if boot_root "$1" >"$SCRATCH/boot.out" 2>&1; then ok "$1: booted root"; else
		not_ok "$1: booted root"
		sed 's/^/#   /' "$SCRATCH/boot.out"
		return 1
	fi
}
boot_root() {
	local src=$SCRATCH/$1.src
	mkdir -p "$src/etc/init.d" "$src/etc/deldir" "$src/var/log"
	echo 'old script' >"$src/etc/init.d/rc"
	echo doomed >"$src/etc/gone"
	echo inside >"$src/etc/deldir/f"
	echo 'line 1' >"$src/var/log/old.log"
	echo 'ephemeral.tmpfs=none' >"$SCRATCH/cmdline"
	make_ext4 "$SCRATCH/$1.img" "$src" || return 1
	DEV=$LOOPDEV
	R=$SCRATCH/$1
	S=$SCRATCH/$1.store
	mkdir -p "$R" "$S"
	mount "$DEV" "$R" || return 1
	"$EPHEMERAL" mount --root "$R" --store "$S" --cmdline "$SCRATCH/cmdline" || return 1
	[ "$(findmnt -n -o FSTYPE --mountpoint "$R/etc")" = overlay ]
}

# --- busy overlay
if booted busy; then
	# Holders opened before the changes, as the init's shell opened its script.
	# shellcheck disable=SC2217 # the fd is the point: sleep holds the file open
	sleep 1000 <"$R/etc/init.d/rc" &
	HOLDERS+=($!) fd_pid=$!
	(cd "$R/etc/deldir" && exec sleep 1000) &
	HOLDERS+=($!) cwd_pid=$!
	sleep 0.5
	# The running system's changes: a package upgrade replaces the script (write a
	# new file, rename it over), a file and the holder's cwd are deleted.
	echo 'new script' >"$R/etc/init.d/rc.new" && mv "$R/etc/init.d/rc.new" "$R/etc/init.d/rc"
	rm "$R/etc/gone"
	rm -r "$R/etc/deldir"
	echo new >"$R/etc/newfile"
	echo 'line 2' >>"$R/var/log/old.log"

	out=$("$EPHEMERAL" flush --root "$R" --store "$S" 2>&1)
	assert_eq "busy: flush exits 0 (every change merged)" 0 "$?"
	assert_match "busy: names the process holding a file open" "held by pid $fd_pid \(sleep\): $R/etc/init.d/rc" "$out"
	assert_match "busy: names the process whose cwd is inside" "held by pid $cwd_pid \(sleep\): $R/etc/deldir" "$out"
	assert_match "busy: says the old version is kept while in use" "init.d/rc': its old version is still in use" "$out"
	assert_eq "busy: the replaced file is on the disk" "new script" "$(cat "$R/etc/init.d/rc")"
	check "busy: the deleted file is gone" test ! -e "$R/etc/gone"
	check "busy: the deleted dir is gone" test ! -e "$R/etc/deldir"
	assert_eq "busy: the new file is on the disk" new "$(cat "$R/etc/newfile")"
	assert_eq "busy: the log is on the disk" "$(printf 'line 1\nline 2')" "$(cat "$R/var/log/old.log")"
	# What the init does next: / read-only, while the holders still run.
	check "busy: the root remounts read-only while the holders run" mount -o remount,ro "$R"
	kill "$fd_pid" "$cwd_pid"
	wait "$fd_pid" "$cwd_pid" 2>/dev/null
	HOLDERS=()
	umount "$S"
	check "busy: the root unmounts" umount "$R"
	check "busy: e2fsck -fn clean" e2fsck -fn "$DEV"
	mount "$DEV" "$R"
	check "busy: the kept old versions are there until the next run" \
		test -n "$(find "$R/etc" -name '.#ephemeral.*')"
	"$EPHEMERAL" mount --root "$R" --store "$S" --cmdline "$SCRATCH/cmdline" >/dev/null 2>&1
	umount "$R/etc" "$R/var/log" "$S" 2>/dev/null
	assert_eq "busy: the next mount removes them" "" "$(find "$R/etc" -name '.#ephemeral.*')"
	umount "$R"
	check "busy: e2fsck -fn clean after the next mount" e2fsck -fn "$DEV"
fi

# --- fail closed: the store unmounted under the overlays (an init's umount script)
if booted gone; then
	echo changed >"$R/etc/newfile"
	check "store gone: the store unmounts although the overlays use it" umount "$S"
	out=$("$EPHEMERAL" flush --root "$R" --store "$S" 2>&1)
	assert_eq "store gone: flush exits 111" 111 "$?"
	assert_match "store gone: says the /etc changes are unreachable" \
		"overlay on $R/etc keeps its changes in $S/etc/upper, but the store's state cannot be read .*UNREACHABLE and will be LOST" "$out"
	assert_match "store gone: ... and the /var/log ones" "overlay on $R/var/log .*UNREACHABLE" "$out"
	# A state that cannot be parsed, with the overlays mounted: the same.
	mkdir -p "$S" && echo garbage >"$S/state"
	out=$("$EPHEMERAL" flush --root "$R" --store "$S" 2>&1)
	assert_eq "bad state: flush exits 111" 111 "$?"
	assert_match "bad state: says the changes are unreachable" "UNREACHABLE" "$out"
	umount "$R/etc" "$R/var/log"
	rm -f "$S/state"
	out=$("$EPHEMERAL" flush --root "$R" --store "$S" 2>&1)
	assert_eq "no store, no overlay: flush exits 0" 0 "$?"
	assert_match "no store, no overlay: nothing to merge" "nothing to merge" "$out"
	umount "$R"
	check "store gone: e2fsck -fn clean" e2fsck -fn "$DEV"
fi

finish
