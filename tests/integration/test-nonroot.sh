#!/bin/bash
# A user without privileges reads the merged /etc as before (the upper root got
# the lower's mode), but can neither list nor read the store.
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
need_root
in_private_mount_ns "$@"
make_scratch
# nobody must be able to walk to the fake root, but the checkout may lie below a
# 0700 directory (CI clones into a mktemp dir): work on a tmpfs under /tmp.
W=$(mktemp -d /tmp/ephemeral-nonroot.XXXXXX)
chmod 755 "$W"
mount -t tmpfs -o mode=755 ephemeral-test "$W"
trap 'umount_below "$W"; umount -l "$W" 2>/dev/null; rmdir "$W"; umount_below "$SCRATCH"; rm -rf "$SCRATCH"' EXIT

R=$W/root S=$W/store
mkdir -p "$R/etc" "$R/var/log"
chmod 755 "$R" "$R/etc"
echo 'root:x:0:0::/root:/bin/sh' >"$R/etc/passwd"
chmod 644 "$R/etc/passwd"
echo 'ephemeral.dirs=/etc,/var/log ephemeral.tmpfs=none' >"$SCRATCH/cmdline"
"$EPHEMERAL" mount --root "$R" --store "$S" --cmdline "$SCRATCH/cmdline" --config /nonexistent 2>/dev/null
assert_eq "mount exits 0" 0 "$?"
echo 'user:x:1000:1000::/home/user:/bin/sh' >>"$R/etc/passwd" # copied up into the store

nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
check "nobody can read the merged /etc/passwd" nobody cat "$R/etc/passwd"
assert_match "nobody sees the changed content" '^user:x:1000' "$(nobody cat "$R/etc/passwd" 2>&1)"
check "nobody can list the merged /etc" nobody ls "$R/etc"
check_fails "nobody cannot list the store" nobody ls "$S"
check_fails "nobody cannot read the state" nobody cat "$S/state"
check_fails "nobody cannot read the upper copy" nobody cat "$S/etc/upper/passwd"
check_fails "nobody cannot write the merged /etc" nobody touch "$R/etc/evil"
check_fails "nobody cannot run status (store unreadable)" nobody "$EPHEMERAL" status --store "$S"
finish
