#!/bin/bash
# ephemeral mount loads the overlay module through libkmod, opened with dlopen only
# when /proc/filesystems does not list overlay. Here /proc/filesystems is replaced
# (in this mount namespace) by a copy without overlay, so mount goes through libkmod
# for real: with the library, libkmod looks the module up (and mounts, where the
# module is in /lib/modules: loaded already, the load is a no-op; on a kernel with
# overlay built in and no modules dir, the lookup fails with the image hint); with
# the library unreadable it names the library, mounts no overlay, exits 111, and the
# tmpfs dirs are still mounted (the boot goes on).
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
need_root
in_private_mount_ns "$@"
make_scratch

grep -q '	overlay$' /proc/filesystems || modprobe overlay 2>/dev/null
grep -v '	overlay$' /proc/filesystems >"$SCRATCH/filesystems"
mount --bind "$SCRATCH/filesystems" /proc/filesystems
check "this namespace's /proc/filesystems lists no overlay" \
	test -z "$(grep '	overlay$' /proc/filesystems)"

printf 'ephemeral.dirs=/etc ephemeral.tmpfs=/tmp:10M\n' >"$SCRATCH/cmdline"
run_mount() {
	mkdir -p "$1/etc" "$1/tmp"
	echo x >"$1/etc/hostname"
	"$EPHEMERAL" mount --root "$1" --store "$1.store" --cmdline "$SCRATCH/cmdline" \
		--config /dev/null >"$SCRATCH/out" 2>&1
	RC=$?
}

# kmod_looked_up: mounted, or the lookup itself said the module is not there.
# shellcheck disable=SC2317 # called through check
kmod_looked_up() {
	[ "$RC" = 0 ] && [ "$(findmnt -n -o FSTYPE --mountpoint "$R/etc")" = overlay ] && return 0
	grep -q 'overlay kernel module is not in this initramfs' "$SCRATCH/out"
}
R=$SCRATCH/with
run_mount "$R"
check "with libkmod: libkmod ran (overlay mounted, or the module lookup answered)" kmod_looked_up
check_fails "with libkmod: no library error" grep -q 'image needs libkmod' "$SCRATCH/out"

lib=$(make -s --no-print-directory -C "$TOP" print-LIBKMOD_SO)
check "the build knows where libkmod is" test -e "$lib"
# The bind mount follows the symlink: the soname fallback finds the same, empty file.
mount --bind /dev/null "$lib"
R=$SCRATCH/without
run_mount "$R"
assert_eq "without libkmod: mount exits 111" 111 "$RC"
assert_match "without libkmod: the library is named" \
	'cannot load the overlay kernel module: .*libkmod.* \(the image needs libkmod' "$(cat "$SCRATCH/out")"
check_fails "without libkmod: no overlay on /etc" mountpoint -q "$R/etc"
assert_eq "without libkmod: /tmp is still mounted" tmpfs "$(findmnt -n -o FSTYPE --mountpoint "$R/tmp")"
finish
