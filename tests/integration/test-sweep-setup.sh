#!/bin/bash
# ephemeral sweep --setup against a fake root (--root) in a private mount namespace:
# a tmpfs on each user's ~/.cache (uid >= 1000, home present; owner and mode 0700),
# userkeep names bound from <persist>/home/<user>/<name> with the old contents
# migrated (nothing lost, also after an interrupted migration), symlinks in a home
# never followed, and a second run changes nothing.
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
need_root
in_private_mount_ns "$@"
make_scratch

SWEEP=$EPHEMERAL_SWEEP
R=$SCRATCH/root
P=$R/var/lib/ephemeral/persist
# shellcheck disable=SC2317  # called from the trap
unmount_all() {
	awk '{print $5}' /proc/self/mountinfo | grep "^$R/" | sort -r | while read -r m; do umount -l "$m"; done
}
trap 'unmount_all; rm -rf "$SCRATCH"' EXIT
mkdir -p "$R/etc" "$R/home" "$R/sysdir" "$R/precious"
cat >"$R/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
daemon:x:999:999::/sysdir:/bin/sh
alice:x:1000:1000::/home/alice:/bin/sh
bob:x:1001:1001::/home/bob:/bin/sh
carol:x:1002:1002::/home/carol:/bin/sh
mallory:x:1003:1003::/home/mallory:/bin/sh
dave:x:1004:1004::/home/dave:/bin/sh
nobody:x:65534:65534::/home/nobody:/bin/sh
PW
mkhome() { mkdir -p "$R/home/$1"; chown "$2:$2" "$R/home/$1"; chmod 0750 "$R/home/$1"; }
mkhome alice 1000; mkhome bob 1001; mkhome mallory 1003; mkhome dave 1004; mkhome nobody 65534
mkdir -p "$R/home/alice/.cache/paru/clone" "$R/home/alice/.cache/other"
echo pkg >"$R/home/alice/.cache/paru/clone/PKGBUILD"
echo other >"$R/home/alice/.cache/other/file"
chown -R 1000:1000 "$R/home/alice/.cache"
echo secret >"$R/precious/file"
ln -s ../../precious "$R/home/mallory/.cache"
# dave: a migration interrupted half-way (one entry already moved to the staging dir).
mkdir -p "$R/home/dave/.cache/paru" "$P/home/dave/.paru.migrating"
echo a >"$P/home/dave/.paru.migrating/a"; echo b >"$R/home/dave/.cache/paru/b"
chown -R 1004:1004 "$R/home/dave/.cache" "$P/home/dave"
cat >"$SCRATCH/conf" <<'CONF'
usercache = 64M
userkeep = paru,nvidia
CONF
setup() { "$SWEEP" --setup --root "$R" --config "$SCRATCH/conf" --cmdline /dev/null; }

out=$("$SWEEP" --setup --dry-run --root "$R" --config "$SCRATCH/conf" --cmdline /dev/null 2>&1); rc=$?
assert_eq "--setup --dry-run exits 0" 0 "$rc"
assert_match "... says what it would mount" "alice: would mount a tmpfs" "$out"
assert_eq "... and mounts nothing" 0 "$(grep -c " $R/" /proc/self/mountinfo)"
check_fails "... nor creates anything" test -e "$R/home/bob/.cache"

out=$(setup 2>&1); rc=$?
assert_eq "--setup exits 0" 0 "$rc"
H=$R/home/alice
assert_eq "alice: ~/.cache is a tmpfs" tmpfs "$(stat -f -c %T "$H/.cache")"
assert_eq "... owned by alice, mode 0700" "1000:1000 700" "$(stat -c '%u:%g %a' "$H/.cache")"
assert_match "... with the configured size" "size=65536k" "$(grep " $H/.cache " /proc/self/mountinfo)"
check "alice: ~/.cache/paru is bound" mountpoint -q "$H/.cache/paru"
assert_eq "... its old contents are there" pkg "$(cat "$H/.cache/paru/clone/PKGBUILD" 2>&1)"
assert_eq "... migrated into the persist dir" pkg "$(cat "$P/home/alice/paru/clone/PKGBUILD" 2>&1)"
assert_eq "... owned by alice" 1000 "$(stat -c %u "$P/home/alice/paru")"
check "alice: ~/.cache/nvidia (new) is bound too" mountpoint -q "$H/.cache/nvidia"
echo new >"$H/.cache/paru/new"
assert_eq "writes in a kept dir land on disk" new "$(cat "$P/home/alice/paru/new" 2>&1)"
check_fails "the non-kept old cache is hidden by the tmpfs" test -e "$H/.cache/other/file"
assert_eq "bob: ~/.cache created and a tmpfs" tmpfs "$(stat -f -c %T "$R/home/bob/.cache")"
assert_eq "... owned by bob" 1001 "$(stat -c %u "$R/home/bob/.cache")"
check_fails "carol (no home) is skipped without creating one" test -e "$R/home/carol"
check_fails "system users (uid < 1000) are left alone" test -e "$R/sysdir/.cache"
check_fails "nobody is left alone" test -e "$R/home/nobody/.cache"
check "mallory's ~/.cache symlink is not followed" test "$(stat -f -c %T "$R/precious")" != tmpfs
check "... the symlink and its target are untouched" test -L "$R/home/mallory/.cache" -a -f "$R/precious/file"
assert_match "... and that is reported" "mallory: ~/.cache is not a plain directory" "$out"
assert_eq "dave: the interrupted migration completes: both entries" "a b" \
	"$(cat "$R/home/dave/.cache/paru/a" "$R/home/dave/.cache/paru/b" 2>&1 | tr '\n' ' ' | sed 's/ $//')"
check_fails "... the staging dir is gone" test -e "$P/home/dave/.paru.migrating"

mounts_before=$(grep -c " $R/home/" /proc/self/mountinfo)
out=$(setup 2>&1); rc=$?
assert_eq "a second --setup exits 0" 0 "$rc"
assert_eq "... and mounts nothing more (idempotent)" "$mounts_before" "$(grep -c " $R/home/" /proc/self/mountinfo)"
assert_eq "... the kept data is still there" pkg "$(cat "$H/.cache/paru/clone/PKGBUILD" 2>&1)"

umount -R "$H/.cache"
assert_eq "under the tmpfs, the non-kept old cache is still on disk" other "$(cat "$H/.cache/other/file" 2>&1)"
check "... the migrated dir is empty on disk" test -z "$(ls -A "$H/.cache/paru")"

# After a reboot (tmpfs gone), a name present in both places stays in the original.
echo theirs >"$H/.cache/paru/new"
out=$(setup 2>&1)
assert_match "a name in both places is reported" "new exists in both places" "$out"
assert_eq "... the persistent copy wins in the bind" new "$(cat "$H/.cache/paru/new")"
umount -R "$H/.cache"
assert_eq "... the original is left on disk" theirs "$(cat "$H/.cache/paru/new")"

echo 'userkeep = paru' >"$SCRATCH/conf2"
out=$("$SWEEP" --setup --root "$R" --config "$SCRATCH/conf2" --cmdline /dev/null 2>&1); rc=$?
assert_eq "without usercache, --setup does nothing (exit 0)" 0 "$rc"
check_fails "... no tmpfs" test "$(stat -f -c %T "$H/.cache")" = tmpfs

out=$("$SWEEP" --setup --root "$SCRATCH/nope" --config "$SCRATCH/conf" --cmdline /dev/null 2>&1); rc=$?
assert_eq "a missing --root fails (111)" 111 "$rc"
finish
