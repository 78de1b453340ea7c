#!/bin/bash
# ephemeral mount's tmpfs dirs and keep bind mounts (issue 4): modes, sizes,
# owners, fstab-managed dirs left alone, bad entries, the first-time migration of
# a kept cache (idempotent, resumed after an interruption, name clashes kept),
# and a read-only root (nothing written, the original stays in use).
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
need_root
in_private_mount_ns "$@"
make_scratch

mkroot() {
	mkdir -p "$1/etc" "$1/tmp" "$1/var/tmp" "$1/var/cache/apt/archives" "$1/var/cache/pacman/pkg" "$1/var/cache/other"
	chmod 1777 "$1/tmp" "$1/var/tmp"
	chmod 0755 "$1/var/cache"
	chown 0:12 "$1/var/cache"
	echo deb >"$1/var/cache/apt/archives/pkg.deb"
	echo bin >"$1/var/cache/apt/pkgcache.bin"
	echo zst >"$1/var/cache/pacman/pkg/x.pkg.tar.zst"
	echo junk >"$1/var/cache/other/file"
}
run_mount() {
	printf '%s\n' "$3" >"$SCRATCH/cmdline"
	OUT=$("$EPHEMERAL" mount --root "$1" --store "$2" --cmdline "$SCRATCH/cmdline" --config /nonexistent 2>&1)
	RC=$?
}
mounts_at() { awk -v p="$1" '$5 == p' /proc/self/mountinfo | wc -l; }
CMD='ephemeral.dirs=/etc ephemeral.tmpfs=/tmp:64M,/var/tmp:32M,/var/cache:16M ephemeral.keep=/var/cache/apt,/var/cache/pacman'

R=$SCRATCH/root S=$SCRATCH/store P=$SCRATCH/root/var/lib/ephemeral/persist
mkroot "$R"
run_mount "$R" "$S" "$CMD"
assert_eq "exit 0" 0 "$RC"
[ "$RC" = 0 ] || diag "$OUT"
for t in tmp:1777:65536k var/tmp:1777:32768k var/cache:755:16384k; do
	d=${t%%:*} rest=${t#*:}
	mode=${rest%%:*} size=${rest#*:}
	assert_eq "/$d is a tmpfs" tmpfs "$(findmnt -n -o FSTYPE --mountpoint "$R/$d")"
	opts=$(findmnt -n -o OPTIONS --mountpoint "$R/$d")
	assert_match "/$d: nosuid,nodev,size=$size" "nosuid,nodev.*size=$size" "$opts"
	assert_eq "/$d: mode $mode" "$mode" "$(stat -c %a "$R/$d")"
done
assert_eq "/var/cache tmpfs has the lower's owner" 0:12 "$(stat -c %u:%g "$R/var/cache")"
check_fails "other cache contents are hidden by the tmpfs" test -e "$R/var/cache/other/file"
assert_eq "kept cache visible in place" deb "$(cat "$R/var/cache/apt/archives/pkg.deb" 2>&1)"
assert_eq "second kept cache visible in place" zst "$(cat "$R/var/cache/pacman/pkg/x.pkg.tar.zst" 2>&1)"
assert_eq "migrated to the persist dir" deb "$(cat "$P/var-cache-apt/archives/pkg.deb" 2>&1)"
check_fails "no staging dir left" test -e "$P/.var-cache-apt.migrating"
echo new >"$R/var/cache/apt/new"
assert_eq "writes to a kept cache go to disk" new "$(cat "$P/var-cache-apt/new" 2>&1)"
run_mount "$R" "$S" "$CMD"
assert_eq "second run: exit 0" 0 "$RC"
for d in tmp var/tmp var/cache var/cache/apt var/cache/pacman etc; do
	assert_eq "second run: one mount on /$d" 1 "$(mounts_at "$R/$d")"
done
assert_eq "second run: contents unchanged" "deb new" "$(cat "$R/var/cache/apt/archives/pkg.deb" "$R/var/cache/apt/new" | tr '\n' ' ' | sed 's/ $//')"

# Next boot: the original dir is empty now, the persist dir is used as it is.
umount_below "$R"
umount_below "$S"
assert_eq "the original dir on disk is empty after the migration" "" "$(ls -A "$R/var/cache/apt")"
run_mount "$R" "$S" "$CMD"
assert_eq "next boot: exit 0" 0 "$RC"
assert_eq "next boot: cache still there" "deb new" "$(cat "$R/var/cache/apt/archives/pkg.deb" "$R/var/cache/apt/new" | tr '\n' ' ' | sed 's/ $//')"
umount_below "$R"
umount_below "$S"

# An interrupted migration: a mount point inside the cache makes one rename fail
# (EBUSY) halfway; the boot goes on with the original dir, nothing is lost, and
# the next boot finishes the job.
R2=$SCRATCH/root2 S2=$SCRATCH/store2 P2=$SCRATCH/root2/var/lib/ephemeral/persist
mkroot "$R2"
for i in $(seq 1 20); do echo "$i" >"$R2/var/cache/apt/f$i"; done
mkdir "$R2/var/cache/apt/busy" "$SCRATCH/blocker"
mount --bind "$SCRATCH/blocker" "$R2/var/cache/apt/busy"
run_mount "$R2" "$S2" "$CMD"
assert_eq "interrupted migration: exit 111" 111 "$RC"
assert_match "interrupted migration: reported" "ephemeral.keep /var/cache/apt: cannot move 'busy'" "$OUT"
assert_match "interrupted migration: falls back to the original" 'binding the original dir instead' "$OUT"
check "interrupted migration: staging dir holds what was moved" test -d "$P2/.var-cache-apt.migrating"
umount_below "$R2"
umount_below "$S2"
n=$(($(find "$R2/var/cache/apt" "$P2/.var-cache-apt.migrating" -mindepth 1 -maxdepth 1 | wc -l)))
assert_eq "interrupted migration: every entry is in one of the two places" 23 "$n"
run_mount "$R2" "$S2" "$CMD"
assert_eq "resumed migration: exit 0" 0 "$RC"
[ "$RC" = 0 ] || diag "$OUT"
check_fails "resumed migration: staging dir gone" test -e "$P2/.var-cache-apt.migrating"
got=$(for i in $(seq 1 20); do cat "$R2/var/cache/apt/f$i"; done | tr '\n' ' ')
assert_eq "resumed migration: all files there" "$(seq 1 20 | tr '\n' ' ')" "$got"
assert_eq "resumed migration: the rest too" "deb bin" "$(cat "$R2/var/cache/apt/archives/pkg.deb" "$R2/var/cache/apt/pkgcache.bin" | tr '\n' ' ' | sed 's/ $//')"
umount_below "$R2"
umount_below "$S2"

# A name in both places (the original got new files while ephemeral was off):
# the persistent copy wins, the original is left where it is, nothing is lost.
echo old-x >"$R2/var/cache/apt/f1"
echo extra >"$R2/var/cache/apt/extra"
run_mount "$R2" "$S2" "$CMD"
assert_eq "name clash: exit 0" 0 "$RC"
assert_match "name clash: reported" "'f1' exists in both places" "$OUT"
assert_eq "name clash: persistent copy kept" 1 "$(cat "$R2/var/cache/apt/f1")"
assert_eq "name clash: new entry moved" extra "$(cat "$R2/var/cache/apt/extra")"
umount_below "$R2"
umount_below "$S2"
assert_eq "name clash: original left on disk" old-x "$(cat "$R2/var/cache/apt/f1")"

# fstab mounts /tmp itself: left to fstab, said once, not an error.
R3=$SCRATCH/root3 S3=$SCRATCH/store3
mkroot "$R3"
printf 'tmpfs /tmp tmpfs defaults,size=1G 0 0\n' >"$R3/etc/fstab"
run_mount "$R3" "$S3" "$CMD"
assert_eq "fstab /tmp: exit 0" 0 "$RC"
assert_eq "fstab /tmp: said once" 1 "$(printf '%s\n' "$OUT" | grep -c 'tmpfs /tmp: the root.s /etc/fstab mounts it; left to fstab')"
assert_eq "fstab /tmp: not mounted by us" 0 "$(mounts_at "$R3/tmp")"
assert_eq "fstab /tmp: the others still mounted" tmpfs "$(findmnt -n -o FSTYPE --mountpoint "$R3/var/tmp")"

# Bad entries.
R4=$SCRATCH/root4 S4=$SCRATCH/store4
mkroot "$R4"
run_mount "$R4" "$S4" 'ephemeral.dirs=/etc ephemeral.tmpfs=/tmp:1G,/missing:1G,/etc:1G,/var/tmp:lots,/var/cache:0 ephemeral.keep=/etc/x,/tmp,/var/cache/apt'
assert_eq "bad tmpfs/keep entries: exit 100" 100 "$RC"
for bad in "ephemeral.tmpfs: '/missing' skipped: does not exist" "ephemeral.tmpfs: '/etc' skipped: it would hide the overlay on /etc" \
	"ephemeral.tmpfs: '/var/tmp:lots' skipped: bad size" "ephemeral.tmpfs: '/var/cache:0' skipped: bad size" \
	"ephemeral.keep: '/etc/x' skipped: overlaps an overlaid dir" "ephemeral.keep: '/tmp' skipped: is or contains a tmpfs dir"; do
	assert_match "reported: $bad" "$bad" "$OUT"
done
assert_eq "bad entries: /tmp still mounted" tmpfs "$(findmnt -n -o FSTYPE --mountpoint "$R4/tmp")"
assert_eq "bad entries: /etc overlay still mounted" overlay "$(findmnt -n -o FSTYPE --mountpoint "$R4/etc")"
assert_eq "keep outside any tmpfs still bound" deb "$(cat "$R4/var/cache/apt/archives/pkg.deb" 2>&1)"

# A kept dir that is a symlink on disk is skipped with a plain reason.
R6=$SCRATCH/root6 S6=$SCRATCH/store6
mkroot "$R6"
mkdir -p "$R6/srv/apt"
rm -r "$R6/var/cache/apt"
ln -s /srv/apt "$R6/var/cache/apt"
run_mount "$R6" "$S6" "$CMD"
assert_eq "symlinked keep dir: exit 100" 100 "$RC"
assert_match "symlinked keep dir: says it is a symlink" \
	"ephemeral.keep: '/var/cache/apt' skipped: is a symlink or has a symlink component" "$OUT"
assert_eq "symlinked keep dir: the other one still bound" zst "$(cat "$R6/var/cache/pacman/pkg/x.pkg.tar.zst" 2>&1)"
umount_below "$R6"
umount_below "$S6"

# A read-only root: nothing is written; the original cache dir stays in use.
R5=$SCRATCH/root5 S5=$SCRATCH/store5
mkroot "$SCRATCH/img-src"
mkdir -p "$R5"
truncate -s 16M "$SCRATCH/root.img"
if mkfs.ext4 -q -d "$SCRATCH/img-src" "$SCRATCH/root.img" && mount -o loop,ro "$SCRATCH/root.img" "$R5"; then
	sum_before=$(md5sum <"$SCRATCH/root.img")
	run_mount "$R5" "$S5" "$CMD"
	assert_eq "read-only root: exit 0" 0 "$RC"
	assert_match "read-only root: says the migration waits" 'the root is read-only here and /var/lib/ephemeral/persist does not exist yet' "$OUT"
	assert_eq "read-only root: tmpfs mounted" tmpfs "$(findmnt -n -o FSTYPE --mountpoint "$R5/var/cache")"
	assert_eq "read-only root: original cache bound in place" deb "$(cat "$R5/var/cache/apt/archives/pkg.deb" 2>&1)"
	check_fails "read-only root: no persist dir created" test -e "$R5/var/lib/ephemeral"
	umount_below "$R5"
	assert_eq "read-only root: image unchanged" "$sum_before" "$(md5sum <"$SCRATCH/root.img")"

	# Already migrated on an earlier boot: the persistent copy is bound, and the
	# bind becomes writable when the system later remounts the root read-write.
	mkdir -p "$SCRATCH/img-src/var/lib/ephemeral/persist/var-cache-apt"
	echo kept >"$SCRATCH/img-src/var/lib/ephemeral/persist/var-cache-apt/kept"
	rm -f "$SCRATCH/root.img"
	truncate -s 16M "$SCRATCH/root.img"
	mkfs.ext4 -q -d "$SCRATCH/img-src" "$SCRATCH/root.img"
	# a writable loop device with the filesystem mounted read-only, as an
	# initramfs leaves it before the system remounts it rw
	mount -o loop "$SCRATCH/root.img" "$R5" && mount -o remount,ro "$R5"
	run_mount "$R5" "$S5" "$CMD"
	assert_eq "read-only root, migrated before: exit 0" 0 "$RC"
	assert_eq "read-only root, migrated before: persistent copy bound" kept "$(cat "$R5/var/cache/apt/kept" 2>&1)"
	mount -o remount,rw "$R5"
	check "read-only root, migrated before: writable once the root is rw" sh -c "echo w >'$R5/var/cache/apt/w'"
	assert_eq "read-only root, migrated before: write reached the disk" w "$(cat "$R5/var/lib/ephemeral/persist/var-cache-apt/w" 2>&1)"
	umount_below "$R5"
else
	not_ok "cannot build or loop-mount an ext4 image"
fi
finish
