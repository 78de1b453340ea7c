#!/bin/bash
# ephemeral flush against real filesystems on loop devices: a read-only lower is
# remounted read-write and back; an unreachable lower is mounted by UUID
# (libblkid); a full filesystem (ENOSPC mid-way) leaves every file old or new,
# no temporaries, and a non-zero exit.
set -uo pipefail
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
# shellcheck source=tests/integration/flush-common.sh
. "$(dirname "$0")/flush-common.sh"
need_root
in_private_mount_ns "$@"
need_manifest
if ! command -v mkfs.ext4 >/dev/null || ! losetup -f >/dev/null 2>&1; then
	echo "# skipped: no mkfs.ext4 or loop devices"
	exit 77
fi
flush_scratch
cd "$SCRATCH" || exit 1

UUID=5e1f7a11-0000-4000-8000-00000000f1a5
R=$SCRATCH/root
S=$SCRATCH/store
loop_fs "$SCRATCH/root.img" 128M "$UUID" "$R" || { not_ok "loop-mounted ext4"; finish; }
mkdir -p "$R/etc/sub" "$R/var/log"
printf 'old\n' >"$R/etc/a"
printf 'old\n' >"$R/etc/sub/b"
printf 'gone\n' >"$R/etc/gone"

# --- read-only lower: remounted rw for the flush, ro again afterwards ---
make_store "$S"
write_state "$S" "$(state_line "$R" /etc etc)"
overlay_up "$R" /etc "$S" etc
printf 'new\n' >"$R/etc/a"
printf 'added\n' >"$R/etc/sub/c"
rm "$R/etc/gone"
"$MANIFEST" --links-via "$S/etc/upper" "$R/etc" >"$SCRATCH/merged"
umount "$R/etc"
mount -o remount,ro "$R"
out=$("$EPHEMERAL" flush --root "$R" --store "$S" 2>&1)
assert_eq "ro lower: flush exits 0" 0 "$?"
assert_match "ro lower: says it remounted" "remounted $R read-write" "$out"
assert_match "ro lower: read-only again" '^ro(,|$)' "$(findmnt -no OPTIONS "$R")"
"$MANIFEST" "$R/etc" >"$SCRATCH/lower"
same_manifest "ro lower: lower == merged view" "$SCRATCH/merged" "$SCRATCH/lower"
assert_match "ro lower: ephemeral.log written" 'flush: /etc: 2 written, 1 deleted' "$(cat "$R/var/log/ephemeral.log")"
mount -o remount,rw "$R"

# --- the same without /proc (an initramfs may lack it): the mount point is found
# by walking up. The plain build: ASan itself needs /proc. ---
if [ -x "$TOP/build/ephemeral" ]; then
	umount "$S" && rm -rf "$S" && make_store "$S"
	write_state "$S" "$(state_line "$R" /etc etc)"
	overlay_up "$R" /etc "$S" etc
	printf 'no proc\n' >"$R/etc/a"
	"$MANIFEST" --links-via "$S/etc/upper" "$R/etc" >"$SCRATCH/merged"
	umount "$R/etc"
	mount -o remount,ro "$R"
	out=$(unshare -m --propagation private sh -c 'umount -l /proc && exec "$@"' sh \
		"$TOP/build/ephemeral" flush --root "$R" --store "$S" 2>&1)
	assert_eq "ro lower, no /proc: flush exits 0" 0 "$?"
	assert_match "ro lower, no /proc: found the mount point by walking up" "mount point of $R/etc by walking up" "$out"
	assert_match "ro lower, no /proc: remounted it" "remounted $R read-write" "$out"
	assert_match "ro lower, no /proc: read-only again" '^ro(,|$)' "$(findmnt -no OPTIONS "$R")"
	touch "$R/etc/x" 2>/dev/null
	assert_eq "ro lower, no /proc: the filesystem is read-only again" 1 "$?"
	"$MANIFEST" "$R/etc" >"$SCRATCH/lower"
	same_manifest "ro lower, no /proc: lower == merged view" "$SCRATCH/merged" "$SCRATCH/lower"
	mount -o remount,rw "$R"
fi

# --- the filesystem is not reachable under --root: flush mounts it by UUID ---
if [ "$(blkid -U "$UUID" 2>/dev/null)" = "$LOOPDEV" ]; then
	umount "$S" && rm -rf "$S" && make_store "$S"
	write_state "$S" "$(state_line "$R" /etc etc)"
	overlay_up "$R" /etc "$S" etc
	printf 'by uuid\n' >"$R/etc/a"
	mkdir "$R/etc/newdir" && printf 'x\n' >"$R/etc/newdir/x"
	"$MANIFEST" --links-via "$S/etc/upper" "$R/etc" >"$SCRATCH/merged"
	umount "$R/etc"
	umount "$R"
	out=$("$EPHEMERAL" flush --root "$R" --store "$S" 2>&1)
	assert_eq "by UUID: flush exits 0" 0 "$?"
	assert_match "by UUID: mounted the device itself" "mounted $LOOPDEV \(ext4\)" "$out"
	assert_match "by UUID: says the log could not be written" 'summary not written to /var/log/ephemeral.log' "$out"
	assert_eq "by UUID: its private mount is gone" "" "$(grep -c "$LOOPDEV" /proc/self/mounts | grep -v '^0$')"
	assert_eq "by UUID: its mount point is gone" "" "$(find "$S" -maxdepth 1 -name '.lower-*')"
	mount "$LOOPDEV" "$R"
	"$MANIFEST" "$R/etc" >"$SCRATCH/lower"
	same_manifest "by UUID: lower == merged view" "$SCRATCH/merged" "$SCRATCH/lower"

	# the UUID now names another device than the one the boot recorded (a clone of
	# the disk with the same UUID, plugged in): never merge into it
	umount "$R"
	umount "$S" && rm -rf "$S" && make_store "$S"
	mount "$LOOPDEV" "$R"
	write_state "$S" "$(state_line "$R" /etc etc | sed 's/ dev=[^ ]*/ dev=7:250/')"
	overlay_up "$R" /etc "$S" etc
	printf 'not for the clone\n' >"$R/etc/a"
	umount "$R/etc"
	"$MANIFEST" "$R/etc" >"$SCRATCH/before-clone"
	umount "$R"
	out=$("$EPHEMERAL" flush --root "$R" --store "$S" 2>&1)
	assert_eq "UUID on another device: exit 111" 111 "$?"
	assert_match "UUID on another device: says so" 'not the device the boot recorded \(7:250\)' "$out"
	mount "$LOOPDEV" "$R"
	"$MANIFEST" "$R/etc" >"$SCRATCH/after-clone"
	same_manifest "UUID on another device: nothing merged into it" "$SCRATCH/before-clone" "$SCRATCH/after-clone"
	check_fails "UUID on another device: no private mount left" grep -q "$S/.lower-" /proc/self/mounts

	# unreachable and no such filesystem: a clear error
	umount "$S" && rm -rf "$S" && make_store "$S"
	mkdir -p "$S/etc/upper"
	write_state "$S" "$(state_line "$R" /etc etc | sed 's/uuid=[^ ]*/uuid=00000000-dead-beef-0000-000000000000/; s/dev=[^ ]*/dev=0:0/')"
	out=$("$EPHEMERAL" flush --root "$R" --store "$S" 2>&1)
	assert_eq "unknown UUID: exit 111" 111 "$?"
	assert_match "unknown UUID: says so" 'cannot find the filesystem with UUID 00000000-dead-beef' "$out"
	write_state "$S" "$(state_line "$R" /etc etc | sed 's/fsroot=[^ ]*/fsroot=-/; s/dev=[^ ]*/dev=0:0/')"
	out=$("$EPHEMERAL" flush --root "$R" --store "$S" 2>&1)
	assert_eq "no fsroot recorded: exit 111" 111 "$?"
	assert_match "no fsroot recorded: says so" 'inside it was not recorded' "$out"
else
	diag "blkid does not resolve loop device UUIDs here: mount-by-UUID case not run"
fi

# --- ENOSPC mid-way: each file old or new, nothing torn, no temporaries ---
F=$SCRATCH/small
loop_fs "$SCRATCH/small.img" 16M 5e1f7a11-0000-4000-8000-00000000f1a6 "$F" || { not_ok "small ext4"; finish; }
mkdir -p "$F/etc"
for i in $(seq 1 12); do printf 'old %s\n' "$i" >"$F/etc/f$i"; done
umount "$S" && rm -rf "$S" && make_store "$S"
write_state "$S" "$(state_line "$F" /etc etc)"
overlay_up "$F" /etc "$S" etc
for i in $(seq 1 12); do head -c $((2 << 20)) /dev/urandom >"$F/etc/f$i"; done
for i in $(seq 1 12); do sha256sum <"$F/etc/f$i"; done >"$SCRATCH/new.sums"
umount "$F/etc"
out=$("$EPHEMERAL" flush --root "$F" --store "$S" 2>&1)
assert_eq "ENOSPC: exit 111" 111 "$?"
assert_match "ENOSPC: reported" 'No space left on device' "$out"
torn=0 old=0 new=0
for i in $(seq 1 12); do
	sum=$(sha256sum <"$F/etc/f$i")
	if printf 'old %s\n' "$i" | cmp -s - "$F/etc/f$i"; then old=$((old + 1))
	elif [ "$sum" = "$(sed -n "${i}p" "$SCRATCH/new.sums")" ]; then new=$((new + 1))
	else torn=$((torn + 1)); fi
done
diag "ENOSPC: $old old, $new new"
assert_eq "ENOSPC: no torn file" 0 "$torn"
check "ENOSPC: some files merged, some kept old" test "$old" -gt 0 -a "$new" -gt 0
assert_eq "ENOSPC: no temporaries left" "" "$(find "$F/etc" -name '.#ephemeral.*[0-9a-f]')"
assert_match "ENOSPC: state stays mounted" 'status=mounted' "$(cat "$S/state")"

finish
