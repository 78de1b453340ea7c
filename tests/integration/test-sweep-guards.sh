#!/bin/bash
# ephemeral-sweep where a user controls names and paths: the root is opened with
# the no-symlink rules of everything below it, file names never forge log lines,
# and --setup works on kernels without openat2 (simulated with strace).
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
need_root
in_private_mount_ns "$@"
make_scratch

SWEEP=$EPHEMERAL_SWEEP
T=$SCRATCH/t
mkdir -p "$T"
mount -t tmpfs -o size=64M,mode=1777 tmpfs "$T"
trap 'umount -R -l "$T" 2>/dev/null; umount_below "$SCRATCH"; rm -rf "$SCRATCH"' EXIT
NOW=$(($(date +%s) + 7200))
OLD=@$(($(date +%s) - 86400))
old() { touch -h -d "$OLD" "$@"; }

# --- 8. a configured dir that does not exist yet, in a world-writable parent: a
# user's symlink there is not followed to another tmpfs ---
mkdir -p "$T/ww" "$T/victim" && chmod 1777 "$T/ww"
echo mine >"$T/victim/stale"; old "$T/victim/stale"
ln -s ../victim "$T/ww/cfg"
printf 'tmpfs = %s:64M\n' "$T/ww/cfg" >"$SCRATCH/ww.conf"
out=$("$SWEEP" --once --now "$NOW" --age 60 --cmdline /dev/null --config "$SCRATCH/ww.conf" 2>&1)
check "symlinked root: the files behind it are kept" test -e "$T/victim/stale"
assert_match "symlinked root: says so" "ww/cfg: .*a symlink" "$out"
rm -f "$T/ww/cfg"

finish
