#!/bin/bash
# ephemeral sweep on a real tmpfs, in a private mount namespace: what is deleted
# (stale files, symlinks, empty dirs deepest first) and what never is (open, mapped,
# cwd, flocked, protected, sockets, FIFOs, devices, sticky, other mounts, fresh).
# "Old" uses --now (a test-only option shifting the reference time), since ctime
# cannot be set back; one check runs without it to show a fresh ctime keeps a file.
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
need_root
in_private_mount_ns "$@"
make_scratch

SWEEP=$EPHEMERAL_SWEEP
T=$SCRATCH/t
OUT=$SCRATCH/outside
mkdir -p "$T" "$OUT"
mount -t tmpfs -o size=64M,mode=1777 tmpfs "$T"

NOW=$(($(date +%s) + 7200))    # the sweeper's "now": two hours ahead
OLD=@$(($(date +%s) - 86400))  # a day ago
FRESH=@$NOW                    # as new as the sweeper's now
pids=()
cleanup_children() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	pids=()
}
trap 'cleanup_children; umount -R -l "$T" "$SCRATCH/store" 2>/dev/null; rm -rf "$SCRATCH"' EXIT

sweep() { "$SWEEP" --once --now "$NOW" --age 60 --cmdline /dev/null --config /dev/null "$@"; }
old() { touch -h -d "$OLD" "$@"; }
# wait_for FILE: bounded wait (a child reports readiness by creating FILE).
wait_for() { local i; for i in $(seq 200); do [ -e "$1" ] && return 0; sleep 0.05; done; return 1; }

# --- the tree ---------------------------------------------------------------
cd "$T" || exit 111
echo data >old-file; old old-file
echo data >fresh-file; touch -d "$FRESH" fresh-file
echo data >fresh-atime; old fresh-atime; touch -a -d "$FRESH" fresh-atime
echo data >fresh-mtime; old fresh-mtime; touch -m -d "$FRESH" fresh-mtime
echo target >"$OUT/target"; old "$OUT/target"
ln -s "$OUT/target" old-link; old old-link
ln -s "$OUT/target" fresh-link; touch -h -d "$FRESH" fresh-link
mkdir -p empty/a/b/c; old empty/a/b/c empty/a/b empty/a empty
mkdir keepdir; echo x >keepdir/stale; echo y >keepdir/new; touch -d "$FRESH" keepdir/new
old keepdir/stale keepdir
keepdir_mtime=$(stat -c %Y keepdir)
echo held >open-file; old open-file
echo held >open-ns-file; old open-ns-file
echo mapped >mapped-file; old mapped-file
echo locked >locked-file; old locked-file
echo leased >leased-file; old leased-file
mkdir cwd-dir; old cwd-dir
mkdir locked-dir; echo x >locked-dir/inside; old locked-dir/inside locked-dir
mkfifo fifo; old fifo
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$T/socket"; old socket
mknod null-dev c 1 3; old null-dev
echo s >sticky; chmod +t sticky; old sticky
mkdir lost+found; echo x >lost+found/file; old lost+found/file lost+found
mkdir .X11-unix; echo x >.X11-unix/X0; old .X11-unix/X0 .X11-unix
echo x >.X0-lock; old .X0-lock
mkdir tmux-1000; echo x >tmux-1000/default; old tmux-1000/default tmux-1000
echo x >keep-custom; old keep-custom
mkdir sub-tmpfs; mount -t tmpfs tmpfs sub-tmpfs; echo x >sub-tmpfs/file; old sub-tmpfs/file
mkdir "$OUT/bound"; echo x >"$OUT/bound/file"; old "$OUT/bound/file"
mkdir bind; mount --bind "$OUT/bound" bind
mkdir selfsrc; echo x >selfsrc/file; mkdir selfbind; mount --bind "$T/selfsrc" selfbind
touch -d "$FRESH" selfsrc/file  # the bind of our own tmpfs: its view must not be swept
old selfbind
cd / || exit 111

# --- holders ------------------------------------------------------------------
sh -c 'exec 3<"$1"; touch "$2"; exec sleep 1000' sh "$T/open-file" "$SCRATCH/r1" & pids+=($!)
# Another mount and PID namespace (a container, say) holding the file open.
# shellcheck disable=SC2016  # the holder's script expands its own "$1"
unshare --kill-child -m -p -f sh -c 'exec 3<"$1"; touch "$2"; exec sleep 1000' sh "$T/open-ns-file" "$SCRATCH/r2" & pids+=($!)
python3 -c '
import mmap, sys, time
with open(sys.argv[1], "r+b") as f:
    m = mmap.mmap(f.fileno(), 0)
open(sys.argv[2], "w").close()   # mapped, and the fd is closed
time.sleep(1000)' "$T/mapped-file" "$SCRATCH/r3" & pids+=($!)
sh -c 'cd "$1" && touch "$2" && exec sleep 1000' sh "$T/cwd-dir" "$SCRATCH/r4" & pids+=($!)
# flock(1) on an fd of the process that stays (killing it releases the lock).
sh -c 'exec 8<"$1"; flock 8; touch "$2"; exec sleep 1000' sh "$T/locked-dir" "$SCRATCH/r5" & pids+=($!)
sh -c 'exec 8<"$1"; flock 8; touch "$2"; exec sleep 1000' sh "$T/locked-file" "$SCRATCH/r6" & pids+=($!)
# A write lease (what Samba's oplocks are): kept, and the lease is not broken.
python3 -c '
import fcntl, os, signal, sys, time
F_SETLEASE, F_WRLCK = 1024, 1
signal.signal(signal.SIGIO, lambda *a: open(sys.argv[3], "w").close())
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.fcntl(fd, F_SETLEASE, F_WRLCK)
open(sys.argv[2], "w").close()
while True:
    time.sleep(1000)' "$T/leased-file" "$SCRATCH/r10" "$SCRATCH/lease-broken" & pids+=($!)
for r in r1 r2 r3 r4 r5 r6 r10; do wait_for "$SCRATCH/$r" || not_ok "holder $r did not start"; done
# The holders' own opens may have touched atime: make everything old again.
old "$T/open-file" "$T/open-ns-file" "$T/mapped-file" "$T/locked-file" "$T/cwd-dir" "$T/locked-dir" \
	"$T/leased-file"

listing() { (cd "$T" && find . | sort); }

# --- refusals and bad usage ---------------------------------------------------------
out=$("$SWEEP" --once --cmdline /dev/null --config /dev/null "$SCRATCH" 2>&1); rc=$?
assert_eq "a root that is not a tmpfs is refused (exit 100)" 100 "$rc"
assert_match "... with a reason" "not a tmpfs" "$out"
for bad in "--age x" "--age -1" "--interval 0" "--interval 1x" "--bogus" "relative/dir" \
	"--max-depth 0" "--now nope"; do
	# shellcheck disable=SC2086
	out=$("$SWEEP" --once --cmdline /dev/null --config /dev/null $bad "$T" 2>&1); rc=$?
	assert_eq "bad usage '$bad' exits 100" 100 "$rc"
	[ -n "$out" ] || not_ok "bad usage '$bad' says why"
done
out=$("$SWEEP" --once --cmdline /dev/null --config "$SCRATCH/missing.conf" "$T" 2>&1); rc=$?
assert_eq "a missing --config file exits 100" 100 "$rc"

mkdir "$SCRATCH/disk"; echo x >"$SCRATCH/disk/stale"; old "$SCRATCH/disk/stale"
out=$(sweep --any-fs "$SCRATCH/disk" 2>&1); rc=$?
assert_eq "--any-fs sweeps a root that is not a tmpfs" "0 no" "$rc $([ -e "$SCRATCH/disk/stale" ] && echo yes || echo no)"

# --- dry run ------------------------------------------------------------------
before=$(listing)
out=$(sweep --dry-run "$T" 2>&1)
assert_eq "--dry-run deletes nothing" "$before" "$(listing)"
out2=$("$EPHEMERAL" sweep --once --dry-run --now "$NOW" --age 60 --cmdline /dev/null --config /dev/null "$T" 2>&1)
assert_eq "'ephemeral sweep' is the same sweeper" "$(printf '%s\n' "$out" | sed 's/^[^:]*: //')" \
	"$(printf '%s\n' "$out2" | sed 's/^[^:]*: //')"
assert_match "--dry-run says what it would remove" "would remove $T/old-file" "$out"
assert_eq "--dry-run leaves the times alone" "$keepdir_mtime" "$(stat -c %Y "$T/keepdir")"

# --- the real pass --------------------------------------------------------------
out=$(sweep -v "$T" 2>&1); rc=$?
assert_eq "sweep --once exits 0" 0 "$rc"
gone() { if [ -e "$T/$1" ] || [ -L "$T/$1" ]; then not_ok "$2 (still there: $1)"; else ok "$2"; fi; }
kept() { if [ -e "$T/$1" ] || [ -L "$T/$1" ]; then ok "$2"; else not_ok "$2 (deleted: $1)"; fi; }
gone old-file "stale file removed"
kept fresh-file "fresh file kept"
kept fresh-atime "file with a fresh atime kept"
kept fresh-mtime "file with a fresh mtime kept"
gone old-link "stale symlink removed"
check "... its target outside is intact" test "$(cat "$OUT/target")" = target
kept fresh-link "fresh symlink kept (its own times count, not its target's)"
gone empty "empty stale directories removed"
order=$(printf '%s\n' "$out" | grep -oE "removed $T/empty[^ ]*" | sed "s|removed $T/||" | tr '\n' ' ')
assert_eq "... deepest first" "empty/a/b/c empty/a/b empty/a empty " "$order"
gone keepdir/stale "stale file in a kept dir removed"
kept keepdir/new "fresh file in that dir kept"
assert_eq "... and the dir's mtime is restored after the removal" "$keepdir_mtime" "$(stat -c %Y "$T/keepdir")"
kept open-file "file open in another process kept"
kept open-ns-file "file open in another mount+PID namespace kept"
kept mapped-file "mmapped-then-closed file kept"
kept locked-file "flock'ed file kept"
kept leased-file "file with someone's write lease kept"
check_fails "... without breaking that lease (not even opened)" test -e "$SCRATCH/lease-broken"
kept cwd-dir "a process's cwd kept"
kept locked-dir/inside "flock'ed directory's contents kept"
kept fifo "FIFO kept"
kept socket "socket kept"
kept null-dev "device node kept"
kept sticky "sticky-bit file kept"
kept lost+found/file "lost+found kept"
kept .X11-unix/X0 "protected .X11-unix kept"
kept .X0-lock "protected .X0-lock kept"
kept tmux-1000/default "protected tmux-* kept"
kept sub-tmpfs/file "another tmpfs mounted inside is not crossed"
check "a bind mount inside is not crossed" test -e "$OUT/bound/file"
check "a bind mount of the swept tmpfs itself is not crossed" test -e "$T/selfsrc/file"
gone keep-custom "unprotected by default: keep-custom removed"

# --- configured protection ------------------------------------------------------
echo x >"$T/keep-custom"; old "$T/keep-custom"
echo x >"$T/other"; old "$T/other"
printf 'sweep.protect = keep-*\n' >"$SCRATCH/sweep.conf"
"$SWEEP" --once --now "$NOW" --age 60 --cmdline /dev/null --config "$SCRATCH/sweep.conf" "$T" 2>/dev/null
kept keep-custom "sweep.protect= glob from the config file protects"
gone other "... and the rest is still swept"
echo x >"$T/keep-custom2"; old "$T/keep-custom2"
echo 'ephemeral.sweep.protect=keep-custom2' >"$SCRATCH/cmdline"
"$SWEEP" --once --now "$NOW" --age 60 --cmdline "$SCRATCH/cmdline" --config /dev/null "$T" 2>/dev/null
kept keep-custom2 "ephemeral.sweep.protect= on the kernel command line protects"

# --- released holders: now they go ------------------------------------------------
cleanup_children
old "$T/open-file" "$T/mapped-file" "$T/cwd-dir" "$T/locked-dir/inside" "$T/locked-dir"
sweep "$T" 2>/dev/null
gone open-file "closed file removed once nobody holds it"
gone mapped-file "unmapped file removed"
gone cwd-dir "former cwd removed"
gone locked-dir "unlocked dir removed"

# --- nodev tmpfs (as ephemeral mounts them): files are opened by name there ----------
mkdir "$SCRATCH/nd"; mount -t tmpfs -o nodev,nosuid tmpfs "$SCRATCH/nd"
echo x >"$SCRATCH/nd/held"; echo x >"$SCRATCH/nd/stale"; mkfifo "$SCRATCH/nd/fifo"
sh -c 'exec 3<"$1"; touch "$2"; exec sleep 1000' sh "$SCRATCH/nd/held" "$SCRATCH/r7" & pids+=($!)
wait_for "$SCRATCH/r7" || not_ok "holder r7 did not start"
touch -h -d "$OLD" "$SCRATCH/nd/held" "$SCRATCH/nd/stale" "$SCRATCH/nd/fifo"
sweep "$SCRATCH/nd" 2>/dev/null
check "nodev: a held file is kept" test -e "$SCRATCH/nd/held"
check_fails "nodev: a stale file is removed" test -e "$SCRATCH/nd/stale"
check "nodev: a FIFO is kept" test -p "$SCRATCH/nd/fifo"
cleanup_children
umount "$SCRATCH/nd"

# --- without CAP_LEASE, on files of another user: the /proc fallback decides -------
mkdir "$T/nolease"
for f in held mapped stale; do echo x >"$T/nolease/$f"; done
chown 4321:4321 "$T/nolease"/*
sh -c 'exec 3<"$1"; touch "$2"; exec sleep 1000' sh "$T/nolease/held" "$SCRATCH/r8" & pids+=($!)
python3 -c '
import mmap, sys, time
with open(sys.argv[1], "rb") as f:
    m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
open(sys.argv[2], "w").close()
time.sleep(1000)' "$T/nolease/mapped" "$SCRATCH/r9" & pids+=($!)
for r in r8 r9; do wait_for "$SCRATCH/$r" || not_ok "holder $r did not start"; done
old "$T/nolease"/* "$T/nolease"
out=$(setpriv --bounding-set=-lease "$SWEEP" --once -v --now "$NOW" --age 60 --cmdline /dev/null \
	--config /dev/null "$T" 2>&1)
kept nolease/held "no lease possible: a file open elsewhere is kept (found in /proc/*/fd)"
kept nolease/mapped "no lease possible: a mapped file is kept (found in /proc/*/maps)"
gone nolease/stale "no lease possible: an unused stale file is removed"
cleanup_children
rm -rf "$T/nolease"

# --- a fresh ctime keeps a file (real clock, no --now) ----------------------------
echo x >"$T/from-tarball"; old "$T/from-tarball"   # old atime/mtime, ctime now
"$SWEEP" --once --age 1 --cmdline /dev/null --config /dev/null "$T" 2>/dev/null
kept from-tarball "old mtime+atime but fresh ctime (just extracted): kept"

# --- limits ----------------------------------------------------------------------
mkdir "$T/many"; for i in $(seq 20); do echo x >"$T/many/f$i"; done; old "$T"/many/f* "$T/many"
out=$(sweep --max-deletions 5 "$T" 2>&1)
assert_eq "--max-deletions bounds one pass" 15 "$(find "$T/many" -type f | wc -l)"
assert_match "... and says so" "deletions in this pass" "$out"
mkdir -p "$T/deep/1/2/3/4/5"; echo x >"$T/deep/1/2/3/4/5/f"; old "$T/deep/1/2/3/4/5/f"
sweep --max-depth 3 "$T" 2>/dev/null
kept deep/1/2/3/4/5/f "--max-depth: nothing below the limit is touched"

# --- the daemon: passes, SIGTERM ------------------------------------------------
echo x >"$T/daemon-file"; old "$T/daemon-file"
"$SWEEP" --interval 3600 --now "$NOW" --age 60 --cmdline /dev/null --config /dev/null "$T" \
	2>"$SCRATCH/daemon.log" &
dpid=$!
for _ in $(seq 200); do [ -e "$T/daemon-file" ] || break; sleep 0.05; done
gone daemon-file "the daemon's first pass ran"
kill -TERM "$dpid"
for _ in $(seq 200); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$dpid" 2>/dev/null; then not_ok "SIGTERM stops the sleeping daemon"; kill -9 "$dpid"; else ok "SIGTERM stops the sleeping daemon"; fi
wait "$dpid"; rc=$?
assert_eq "... with exit status 0" 0 "$rc"
echo x >"$T/daemon-file"; old "$T/daemon-file"
"$SWEEP" --interval 3600 --now "$NOW" --age 60 --cmdline /dev/null --config /dev/null "$T" 2>/dev/null &
dpid=$!
for _ in $(seq 200); do [ -e "$T/daemon-file" ] || break; sleep 0.05; done
kill -INT "$dpid"
wait "$dpid"; rc=$?
assert_eq "SIGINT exits 0" 0 "$rc"

# --- roots from the configuration ----------------------------------------------------
# Roots from the configuration (no DIR arguments): a configured dir that is not a
# tmpfs is skipped with a warning and the others are still swept.
echo x >"$T/from-config"; old "$T/from-config"; echo x >"$SCRATCH/disk/stale"; old "$SCRATCH/disk/stale"
printf 'tmpfs = %s:64M,%s:1M\n' "$T" "$SCRATCH/disk" >"$SCRATCH/roots.conf"
out=$("$SWEEP" --once --now "$NOW" --age 60 --cmdline /dev/null --config "$SCRATCH/roots.conf" 2>&1)
assert_match "a configured dir that is not a tmpfs is skipped with a warning" \
	"disk \(configured\) is not a tmpfs" "$out"
check "... and left alone" test -e "$SCRATCH/disk/stale"
check_fails "... while the configured tmpfs is swept" test -e "$T/from-config"
# With sweep.dirs set, a tmpfs dir not in it (e.g. /var/cache) is not swept.
mkdir -p "$T/cache" "$T/tmp2"
echo x >"$T/cache/stale"; old "$T/cache/stale"; echo x >"$T/tmp2/stale"; old "$T/tmp2/stale"
printf 'tmpfs = %s:64M,%s:64M\nsweep.dirs = %s\n' "$T/cache" "$T/tmp2" "$T/tmp2" >"$SCRATCH/cache.conf"
"$SWEEP" --once --now "$NOW" --age 60 --cmdline /dev/null --config "$SCRATCH/cache.conf" >/dev/null 2>&1
check "a tmpfs dir outside sweep.dirs is not swept" test -e "$T/cache/stale"
check_fails "... while the one in sweep.dirs is" test -e "$T/tmp2/stale"
rm -rf "$T/cache" "$T/tmp2"
echo x >"$T/from-config"; old "$T/from-config"
echo "ephemeral=off" >"$SCRATCH/off"
out=$("$SWEEP" --once --now "$NOW" --age 60 --cmdline "$SCRATCH/off" --config "$SCRATCH/roots.conf" 2>&1); rc=$?
assert_eq "ephemeral=off: nothing to sweep, exit 0" 0 "$rc"
check "... nothing swept" test -e "$T/from-config"
rm -f "$T/from-config"

# --- RAM watch ------------------------------------------------------------------
mkdir "$SCRATCH/store"; mount -t tmpfs -o size=1M tmpfs "$SCRATCH/store"
mkdir "$SCRATCH/store/big" "$SCRATCH/store/small"
head -c 900K /dev/zero >"$SCRATCH/store/big/blob"; echo x >"$SCRATCH/store/small/f"
out=$("$SWEEP" --interval 1 --passes 3 --store "$SCRATCH/store" --cmdline /dev/null --config /dev/null "$T" 2>&1)
assert_match "a store over 80 % is reported, naming the biggest directory" \
	"store is [0-9]+% full.*over 80%.*big \(" "$out"
assert_eq "... once per crossing, not every pass" 1 "$(printf '%s\n' "$out" | grep -c 'full')"
head -c 100K /dev/zero >"$SCRATCH/store/big/blob2" 2>/dev/null
out=$("$SWEEP" --once --store "$SCRATCH/store" --cmdline /dev/null --config /dev/null "$T" 2>&1)
assert_match "over 95 % is its own warning" "over 95%" "$out"

finish
