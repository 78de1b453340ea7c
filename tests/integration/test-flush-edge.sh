#!/bin/bash
# ephemeral flush, edge cases found in review: a same-filesystem bind mount inside
# a lower dir the upper deletes or replaces is never crossed.
set -uo pipefail
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
# shellcheck source=tests/integration/flush-common.sh
. "$(dirname "$0")/flush-common.sh"
need_root
in_private_mount_ns "$@"
need_manifest
flush_scratch
cd "$SCRATCH" || exit 1

R=$SCRATCH/root
E=$R/etc
S=$SCRATCH/store
mkdir -p "$E" "$R/var/log"
make_store "$S"

# fresh_upper: an empty upper and a state file for /etc.
fresh_upper() {
	rm -rf "${S:?}/etc"
	write_state "$S" "$(state_line "$R" /etc etc)"
}

# --- a bind mount of the same filesystem inside a deleted or replaced dir: the
# merged view showed the dir below it; what is mounted there is another place
# and must not be emptied ---
mkdir -p "$E/gone/mnt" "$E/opaq/mnt" "$R/home/user"
printf 'precious\n' >"$R/home/user/thesis"
fresh_upper
overlay_up "$R" /etc "$S" etc
rm -r "$E/gone" "$E/opaq" && mkdir "$E/opaq" && printf 'new\n' >"$E/opaq/f"
umount "$E"
mount --bind "$R/home" "$E/gone/mnt"
mount --bind "$R/home" "$E/opaq/mnt"
out=$("$EPHEMERAL" flush --root "$R" --store "$S" 2>&1)
assert_eq "bind mount inside: exit 111" 111 "$?"
assert_eq "bind mount inside: what is mounted there is untouched" "precious" "$(cat "$R/home/user/thesis" 2>&1)"
assert_match "bind mount inside: says so" "/etc/gone.*(mount point|busy|cross-device)" "$out"
check "bind mount inside: the deleted dir is back where it was, mount and all" mountpoint -q "$E/gone/mnt"
umount_below "$E"

finish
