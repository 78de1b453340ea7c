#!/bin/bash
# The race: while the sweeper runs pass after pass, another process keeps swapping a
# subdirectory of the swept tree with a symlink to a directory outside it, full of
# stale files (atomically, with renameat2 RENAME_EXCHANGE). The outside directory is
# on the same tmpfs, so no device check can help: only the fd-pinned walk does.
# After a bounded number of passes, nothing outside was ever deleted.
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
need_root
in_private_mount_ns "$@"
make_scratch

SWEEP=$EPHEMERAL_SWEEP
T=$SCRATCH/t
PASSES=${SWEEP_RACE_PASSES:-300}
mkdir -p "$T"
mount -t tmpfs -o size=64M tmpfs "$T"
trap 'touch "$T/stop" 2>/dev/null; wait; umount -l "$T"; rm -rf "$SCRATCH"' EXIT
mkdir -p "$T/root" "$T/outside/deep/er"
for i in $(seq 40); do echo "keep $i" >"$T/outside/f$i"; echo "deep $i" >"$T/outside/deep/er/f$i"; done
mkdir -p "$T/outside/empty/a/b"
OLD=@$(($(date +%s) - 86400))
NOW=$(($(date +%s) + 7200))
find "$T/outside" -exec touch -h -d "$OLD" {} +
expected=$(cd "$T/outside" && find . | sort)

python3 - "$T/root" "$T/stop" "$T/ready" <<'PY' &
import ctypes, errno, os, sys, time
root, stop, ready = sys.argv[1:4]
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
old = time.time() - 86400
sub, alt = os.path.join(root, "sub"), os.path.join(root, "alt")
targets = ["../outside", "../outside/deep", "../outside/deep/er", "../outside/empty"]

def fill(d):
    # The sweeper may remove anything here at any moment: retry what vanished.
    try:
        os.makedirs(os.path.join(d, "x/y"), exist_ok=True)
        for n in ("f1", "f2", "x/f3", "x/y/f4"):
            p = os.path.join(d, n)
            with open(p, "w") as f:
                f.write("stale")
            os.utime(p, (old, old))
        for n in ("x/y", "x", ""):
            os.utime(os.path.join(d, n), (old, old))
    except FileNotFoundError:
        pass

def is_real_dir(p):
    return os.path.isdir(p) and not os.path.islink(p)

i = 0
while not os.path.exists(stop) and i < 10**7:
    # The sweeper removes stale entries (the symlink too) at any moment: whatever
    # vanished or changed under us, start the round again.
    try:
        if is_real_dir(sub):
            real, link = sub, alt
        elif is_real_dir(alt):
            real, link = alt, sub
        else:
            real, link = (alt, sub) if os.path.islink(sub) else (sub, alt)
            os.mkdir(real)
        fill(real)
        if os.path.lexists(link + ".new"):
            os.unlink(link + ".new")
        os.symlink(targets[i % len(targets)], link + ".new")
        os.rename(link + ".new", link)
        # One atomic step: the real dir and the symlink trade places.
        if libc.renameat2(AT_FDCWD, sub.encode(), AT_FDCWD, alt.encode(), RENAME_EXCHANGE) != 0:
            raise OSError(ctypes.get_errno(), "renameat2")
    except OSError as e:
        if e.errno not in (errno.ENOENT, errno.EEXIST, errno.EISDIR, errno.ENOTDIR, errno.ENOTEMPTY):
            raise
    if i == 0:
        open(ready, "w").close()
    i += 1
print("swaps:", i)
PY
swapper=$!
for _ in $(seq 400); do [ -e "$T/ready" ] && break; sleep 0.05; done
check "the swapper runs" test -e "$T/ready"

removed=0 failed=0
for _ in $(seq "$PASSES"); do
	out=$("$SWEEP" --once -v --now "$NOW" --age 60 --cmdline /dev/null --config /dev/null "$T/root" 2>&1) || { rc=$?; failed=$((failed + 1)); diag "pass exit $rc"; printf "%s\n" "$out" | grep -v ": removed /" | sed "s/^/#   /" | head -5; }
	removed=$((removed + $(printf '%s\n' "$out" | grep -c '^.*: removed /')))
	kill -0 "$swapper" 2>/dev/null || break
done
touch "$T/stop"
wait "$swapper"; rc=$?
assert_eq "the swapper never failed" 0 "$rc"
assert_eq "every pass exited 0" 0 "$failed"
diag "$PASSES passes removed $removed entries inside the swept tree during the race"
assert_eq "nothing outside the swept tree was deleted" "$expected" "$(cd "$T/outside" && find . | sort)"
check "... and the outside files are intact" grep -q "keep 40" "$T/outside/f40"

# Quiet now: the tree inside is swept as usual (the test can tell a sweeper that
# does nothing from one that is safe).
real=$T/root/sub; [ -L "$real" ] && real=$T/root/alt
out=$("$SWEEP" --once -v --now "$NOW" --age 60 --cmdline /dev/null --config /dev/null "$T/root" 2>&1)
check_fails "after the race, the stale files inside are removed" test -e "$real/f1"
assert_eq "... and still nothing outside" "$expected" "$(cd "$T/outside" && find . | sort)"
finish
