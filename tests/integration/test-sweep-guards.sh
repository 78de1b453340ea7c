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

# --- 6. --setup on a kernel without openat2 (< 5.6; ENOSYS injected with strace):
# homes are still found through the administrator's symlinks (/home -> /var/home),
# a user's ~/.cache symlink is still refused and named as such ---
if command -v strace >/dev/null; then
	R=$SCRATCH/root
	mkdir -p "$R/etc" "$R/var/home/alice" "$R/var/home/mallory" "$R/precious"
	ln -s /var/home "$R/home"
	printf '%s\n' 'alice:x:1000:1000::/home/alice:/bin/sh' 'mallory:x:1003:1003::/home/mallory:/bin/sh' >"$R/etc/passwd"
	chown 1000:1000 "$R/var/home/alice"; chown 1003:1003 "$R/var/home/mallory"
	ln -s ../../../precious "$R/var/home/mallory/.cache"
	printf 'usercache = 64M\n' >"$SCRATCH/setup.conf"
	out=$(ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		strace -f -qq -o /dev/null -e trace=openat2 -e inject=openat2:error=ENOSYS \
		"$SWEEP" --setup --root "$R" --config "$SCRATCH/setup.conf" --cmdline /dev/null 2>&1)
	assert_eq "no openat2: --setup exits 0" 0 "$?"
	assert_eq "no openat2: alice's ~/.cache is a tmpfs" tmpfs "$(stat -f -c %T "$R/var/home/alice/.cache" 2>&1)"
	assert_match "no openat2: mallory's symlink is named as such" "mallory: ~/.cache is not a plain directory \(a symlink" "$out"
	check "no openat2: nothing mounted behind the symlink" test "$(stat -f -c %T "$R/precious")" != tmpfs
	umount_below "$R"
else
	diag "no strace: the no-openat2 case is not run"
fi

# --- 3. a file name cannot forge a log line (under systemd "<0>..." at the start
# of a line is a separate journal entry at emergency priority) ---
mkdir -p "$T/names"
forged=$(printf 'x\n<0>forged\033[2J')
echo x >"$T/names/$forged"; old "$T/names/$forged"
out=$("$SWEEP" --once -v --now "$NOW" --age 60 --cmdline /dev/null --config /dev/null "$T/names" 2>&1)
check_fails "forged name: removed, and no log line of its own" grep -q '^<0>forged' <<<"$out"
assert_match "forged name: shown escaped in the removal line" 'removed .*/names/x\\n<0>forged\\033\[2J$' "$out"
check_fails "forged name: no raw control byte in the output" grep -qP '[\x00-\x09\x0b-\x1f\x7f]' <<<"$out"
# The RAM watch names the biggest dirs of the store.
mkdir -p "$SCRATCH/store" && mount -t tmpfs -o size=1M tmpfs "$SCRATCH/store"
mkdir "$SCRATCH/store/$forged" && head -c 900K /dev/zero >"$SCRATCH/store/$forged/blob"
out=$("$SWEEP" --once --store "$SCRATCH/store" --cmdline /dev/null --config /dev/null "$T/names" 2>&1)
check_fails "forged dir name in the store: no log line of its own" grep -q '^<0>forged' <<<"$out"
assert_match "forged dir name in the store: shown escaped" 'biggest directories: x\\n<0>forged' "$out"
umount "$SCRATCH/store"

# --- a dir that cannot be read to its end (getdents64 fails, injected) is not taken
# for an empty one: said, kept ---
if cc -shared -fPIC -o "$SCRATCH/fail.so" "$TOP/tests/lib/fail-call.c" -ldl; then
	mkdir -p "$T/rd/sub" && echo x >"$T/rd/sub/f" && old "$T/rd/sub/f" "$T/rd/sub" "$T/rd"
	out=$(FAIL_CALL=getdents64 FAIL_PATH=/rd/sub LD_PRELOAD=$SCRATCH/fail.so \
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
		"$SWEEP" --once --now "$NOW" --age 60 --cmdline /dev/null --config /dev/null "$T/rd" 2>&1)
	assert_match "unreadable dir: says so" "cannot read .*/rd/sub to its end: Input/output error" "$out"
	check "unreadable dir: kept with its contents" test -e "$T/rd/sub/f"
else
	diag "no cc: the unreadable-dir case is not run"
fi

finish
