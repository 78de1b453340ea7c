#!/bin/bash
# A flush interrupted by a power cut leaves its marker and temporaries in the lower
# dir. ephemeral mount removes them before mounting the overlay when the root is
# writable (so they never show in the merged view), and leaves them for the next
# flush when the root is read-only.
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
need_root
in_private_mount_ns "$@"
make_scratch

marker=.#ephemeral.flush-in-progress
tmp=.#ephemeral.0123456789abcdef
mkroot() {
	mkdir -p "$1/etc/sub" "$1/var/log"
	echo keep >"$1/etc/hostname"
	: >"$1/etc/$marker"
	echo half >"$1/etc/$tmp"
	echo half >"$1/etc/sub/$tmp"
	echo mine >"$1/etc/.#ephemeral.not-a-temporary"
}
run_mount() {
	printf 'ephemeral.dirs=/etc ephemeral.tmpfs=none\n' >"$SCRATCH/cmdline"
	"$EPHEMERAL" mount --root "$1" --store "$2" --cmdline "$SCRATCH/cmdline" \
		--config /dev/null >"$SCRATCH/out" 2>&1
	RC=$?
}

R=$SCRATCH/rw
mkroot "$R"
run_mount "$R" "$SCRATCH/store-rw"
assert_eq "mount exits 0 on a root with leftovers" 0 "$RC"
assert_match "the cleanup is reported" "interrupted" "$(cat "$SCRATCH/out")"
check_fails "temporary gone from the merged view" test -e "$R/etc/$tmp"
check_fails "temporary in a subdir gone" test -e "$R/etc/sub/$tmp"
check_fails "marker gone" test -e "$R/etc/$marker"
check "a name that only looks alike is kept" test -e "$R/etc/.#ephemeral.not-a-temporary"
assert_eq "other files untouched" keep "$(cat "$R/etc/hostname")"
umount "$R/etc"
check_fails "temporary gone from the lower too" test -e "$R/etc/$tmp"

# Read-only root: nothing can be removed now; the mount still happens and says so.
R=$SCRATCH/ro
mkroot "$R"
mount --bind "$R" "$R"
mount -o remount,bind,ro "$R"
run_mount "$R" "$SCRATCH/store-ro"
assert_eq "mount exits 0 on a read-only root with leftovers" 0 "$RC"
assert_match "the deferral is reported" "next flush" "$(cat "$SCRATCH/out")"
assert_eq "overlay mounted anyway" overlay "$(findmnt -n -o FSTYPE --mountpoint "$R/etc")"
check "marker still on the lower for the next flush" test -e "$R/etc/$marker"
finish
