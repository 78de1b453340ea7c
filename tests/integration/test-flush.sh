#!/bin/bash
# ephemeral flush: a battery of changes made through a real overlay must land in
# the lower dir exactly (manifest of the merged view == manifest of the lower after
# flush); a second flush has nothing to do; the summary reaches ephemeral.log;
# dry-run changes nothing; an upper using redirect_dir is refused; an immutable
# dir makes flush fail for its entries only; sockets are skipped.
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

# --- the lower tree: pre-existing content of every kind ---
mkdir -p "$E" "$R/var/log"
printf 'root:x:0:0::/root:/bin/sh\n' >"$E/passwd"
printf '127.0.0.1 localhost\n' >"$E/hosts"
printf 'keep me\n' >"$E/unchanged"
printf 'to be truncated, a long line\n' >"$E/trunc"
printf 'mode\n' >"$E/mode"
printf 'owner\n' >"$E/owner"
printf 'linked\n' >"$E/h1" && ln "$E/h1" "$E/h2" && ln "$E/h1" "$E/h3"
printf 'pair\n' >"$E/p1" && ln "$E/p1" "$E/p2"
printf 'xattr\n' >"$E/xa" && setfattr -n user.old -v 1 "$E/xa"
printf 'cap\n' >"$E/capfile"
mkdir -p "$E/acldir" && setfacl -d -m u:1234:rwx "$E/acldir" && printf 'in acl dir\n' >"$E/acldir/old"
mkdir -p "$E/gone/sub" && printf 'x\n' >"$E/gone/sub/f" && printf 'y\n' >"$E/gone/f"
mkdir -p "$E/redo/sub" && printf 'old\n' >"$E/redo/sub/old" && printf 'old\n' >"$E/redo/old"
mkdir -p "$E/movedir/in" && printf 'moved\n' >"$E/movedir/in/f"
mkdir -p "$E/typechange" && printf 'file\n' >"$E/file2dir"
ln -s passwd "$E/link" && ln -s nowhere "$E/dangling"
mkfifo "$E/oldfifo"
deep=$E/deep
for i in $(seq 1 40); do deep=$deep/d$i; done
mkdir -p "$deep" && printf 'deep\n' >"$deep/bottom"
printf 'rm me\n' >"$E/rmfile"
printf 'old name\n' >"$E/oldname"
mkdir -p "$E/immut" && printf 'frozen\n' >"$E/immut/f"
touch -d '2001-02-03 04:05:06.123456789' "$E/unchanged" "$E/hosts"

STATE_ETC=$(state_line "$R" /etc etc)
make_store "$S"
write_state "$S" "$STATE_ETC"
overlay_up "$R" /etc "$S" etc || { not_ok "mount the overlay"; finish; }

# --- changes through the merged view ---
M=$E
printf 'new\n' >"$M/newfile"
printf 'overwritten\n' >"$M/hosts"
printf 'user:x:1000:1000::/home/user:/bin/sh\n' >>"$M/passwd"
truncate -s 5 "$M/trunc"
chmod 0600 "$M/mode"
chown 1234:5678 "$M/owner"
setfacl -m u:4321:rw "$M/owner"
printf 'acl new\n' >"$M/acldir/new" # inherits the default ACL
setfacl -m g:99:r "$M/acldir"
setcap cap_net_raw+ep "$M/capfile"
setfattr -n user.new -v "hello world" "$M/xa"
setfattr -x user.old "$M/xa"
setfattr -n user.dir -v d "$M/acldir"
printf 'suid\n' >"$M/suid" && chown 0:5 "$M/suid" && chmod 6755 "$M/suid"
rm "$M/rmfile"
rm -r "$M/gone"
rm -r "$M/redo" && mkdir -p "$M/redo/newsub" && printf 'new\n' >"$M/redo/new"
mv "$M/oldname" "$M/newname"
mv "$M/movedir" "$M/moveddir" # EXDEV with redirect_dir=off: mv copies and deletes
printf 'new link\n' >"$M/n1" && ln "$M/n1" "$M/n2" && mkdir "$M/ndir" && ln "$M/n1" "$M/ndir/n3"
printf 'broken\n' >>"$M/h1"  # copy-up: h1 leaves the h1/h2/h3 group
ln "$M/p1" "$M/p3"           # copy-up of p1, linked to p3: p2 keeps the old inode
ln -s hosts "$M/newlink"
ln -sfn newfile "$M/link"
mkfifo "$M/fifo"
mknod "$M/chardev" c 1 3
mknod "$M/blockdev" b 7 99
rm "$M/oldfifo" && printf 'was a fifo\n' >"$M/oldfifo"
rm -r "$M/typechange" && printf 'was a dir\n' >"$M/typechange"
rm "$M/file2dir" && mkdir "$M/file2dir" && printf 'inside\n' >"$M/file2dir/f"
truncate -s 64M "$M/sparse" && printf 'middle' | dd of="$M/sparse" bs=1 seek=$((32 << 20)) conv=notrunc status=none
head -c $((8 << 20)) /dev/urandom >"$M/dense"
printf 'space\n' >"$M/with space"
printf 'newline\n' >"$M/new
line"
printf 'utf8\n' >"$M/ünïcødé ✓"
printf 'dash\n' >"$M/-leading-dash"
ndeep=$M/ndeep
for i in $(seq 1 60); do ndeep=$ndeep/n$i; done
mkdir -p "$ndeep" && printf 'new deep\n' >"$ndeep/bottom"
printf 'changed deep\n' >"$deep/bottom"
setfattr -n user.root -v r "$M"
chmod 0751 "$M"
touch -d '2010-01-01 00:00:00.5' "$M/newfile"

"$MANIFEST" --links-via "$S/etc/upper" "$M" >"$SCRATCH/merged" || { not_ok "manifest of the merged view"; finish; }
umount "$M" || { not_ok "unmount the overlay"; finish; }

out=$("$EPHEMERAL" flush --root "$R" --store "$S" 2>&1)
rc=$?
assert_eq "flush exits 0" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | head -20 | sed 's/^/#   /'
assert_match "flush prints a summary" '^flush: /etc: [0-9]+ written, [0-9]+ deleted, [0-9]+ bytes; [0-9.]+ s$' "$out"
"$MANIFEST" "$E" >"$SCRATCH/lower"
same_manifest "lower after flush == merged view before" "$SCRATCH/merged" "$SCRATCH/lower"
blocks=$(stat -c %b "$E/sparse")
check "the 64 MiB sparse file stays sparse ($blocks blocks)" test "$blocks" -lt 1024
assert_eq "no marker or temporary left" "" "$(find "$E" -name '.#ephemeral.*')"
assert_match "state says flushed" 'path=/etc .*status=flushed' "$(cat "$S/state")"
assert_eq "upper emptied" "" "$(ls -A "$S/etc/upper")"
assert_match "ephemeral.log has the summary line" \
	'^[0-9-]+T[0-9:]+Z flush: /etc: [0-9]+ written' "$(cat "$R/var/log/ephemeral.log")"

out=$("$EPHEMERAL" flush --root "$R" --store "$S" 2>&1)
assert_eq "second flush exits 0" 0 "$?"
assert_match "second flush has nothing to do" '^/etc: nothing to do \(flushed\)' "$out"
"$MANIFEST" "$E" >"$SCRATCH/lower2"
same_manifest "second flush changes nothing" "$SCRATCH/lower" "$SCRATCH/lower2"

# --- dry run: lines like diff, nothing touched ---
umount "$S"
rm -rf "$S"
make_store "$S"
write_state "$S" "$(state_line "$R" /etc etc)"
mkdir -p "$SCRATCH/lowerview" && mount --bind "$E" "$SCRATCH/lowerview"
"$MANIFEST" "$SCRATCH/lowerview" >"$SCRATCH/before"
overlay_up "$R" /etc "$S" etc
printf 'dry\n' >"$E/dryfile"
printf 'changed\n' >"$E/passwd"
rm "$E/unchanged"
rm -r "$E/redo" && mkdir "$E/redo"
mkdir -p "$E/drydir/sub"
printf 'odd\n' >"$E/dry
name"
out=$("$EPHEMERAL" flush --root "$R" --store "$S" --dry-run 2>&1)
assert_eq "dry-run exits 0" 0 "$?"
assert_eq "dry-run prints A/M/D/O lines" 'A "/etc/dry\nname"
A /etc/drydir
A /etc/drydir/sub
A /etc/dryfile
D /etc/unchanged
M /etc/passwd
O /etc/redo' "$(printf '%s\n' "$out" | grep -E '^[AMDO] ' | sort)"
assert_eq "dry-run lines are those of ephemeral diff" \
	"$("$EPHEMERAL" diff --root "$R" --store "$S" 2>&1 | sort)" "$(printf '%s\n' "$out" | grep -E '^[AMDO] ' | sort)"
"$MANIFEST" "$SCRATCH/lowerview" >"$SCRATCH/after"
same_manifest "dry-run leaves the lower untouched" "$SCRATCH/before" "$SCRATCH/after"
check "dry-run leaves the overlay mounted" test -e "$E/dryfile"
assert_match "dry-run leaves the state alone" 'status=mounted' "$(cat "$S/state")"
umount "$E"

# --- an upper that needs redirect_dir is refused, nothing touched ---
"$MANIFEST" "$E" >"$SCRATCH/before"
mkdir -p "$S/etc/upper/renamed"
setfattr -n trusted.overlay.redirect -v /passwd "$S/etc/upper/renamed"
out=$("$EPHEMERAL" flush --root "$R" --store "$S" 2>&1)
rc=$?
assert_eq "redirect upper: exit 111" 111 "$rc"
assert_match "redirect upper: clear message" 'refusing to merge.*trusted.overlay.redirect' "$out"
"$MANIFEST" "$E" >"$SCRATCH/after"
same_manifest "redirect upper: lower untouched" "$SCRATCH/before" "$SCRATCH/after"
check "redirect upper: upper kept" test -d "$S/etc/upper/renamed"

# --- an immutable dir: its entries fail, the rest merges, exit 111 ---
rm -rf "$S/etc/upper" "$S/etc/work"
write_state "$S" "$(state_line "$R" /etc etc)"
if chattr +i "$E/immut" 2>/dev/null; then
	overlay_up "$R" /etc "$S" etc
	printf 'thawed\n' >"$E/immut/f"
	printf 'elsewhere\n' >"$E/elsewhere"
	umount "$E"
	out=$("$EPHEMERAL" flush --root "$R" --store "$S" 2>&1)
	rc=$?
	chattr -i "$E/immut"
	assert_eq "immutable dir: exit 111" 111 "$rc"
	assert_match "immutable dir: the failing path is named" "/etc/immut/f.*(Operation not permitted|Permission denied)" "$out"
	assert_eq "immutable dir: old version kept" "frozen" "$(cat "$E/immut/f")"
	assert_eq "immutable dir: other entries merged" "elsewhere" "$(cat "$E/elsewhere")"
	assert_match "immutable dir: state stays mounted" 'status=mounted' "$(cat "$S/state")"
	check "immutable dir: upper kept for another try" test -f "$S/etc/upper/immut/f"
	assert_eq "immutable dir: no temporaries left" "" "$(find "$E" -name '.#ephemeral.*[0-9a-f]')"
	out=$("$EPHEMERAL" flush --root "$R" --store "$S" 2>&1)
	assert_eq "immutable dir: flush succeeds once it is writable" 0 "$?"
	assert_eq "immutable dir: new version now" "thawed" "$(cat "$E/immut/f")"
else
	diag "chattr +i not supported here: immutable-dir case not run"
fi

# --- sockets are skipped with a note ---
rm -rf "$S/etc/upper" "$S/etc/work"
write_state "$S" "$(state_line "$R" /etc etc)"
overlay_up "$R" /etc "$S" etc
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$E/sock"
printf 'beside a socket\n' >"$E/besidesock"
umount "$E"
out=$("$EPHEMERAL" flush --root "$R" --store "$S" 2>&1)
assert_eq "socket: exit 0" 0 "$?"
assert_match "socket: skipped with a note" "skipping socket '/etc/sock'" "$out"
check "socket: not created in the lower" test ! -e "$E/sock"
check "socket: the rest merged" test -f "$E/besidesock"

# --- discard mode: dropped, not merged; failed dirs: nothing to do ---
rm -rf "$S/etc/upper" "$S/etc/work"
mkdir -p "$R/srv" "$R/opt"
mount -t tmpfs not-an-overlay "$R/opt"
write_state "$S" "$(state_line "$R" /etc etc discard)" "$(state_line "$R" /srv srv persist failed)" \
	"$(state_line "$R" /opt opt discard)"
"$MANIFEST" "$E" >"$SCRATCH/before"
overlay_up "$R" /etc "$S" etc
printf 'throw away\n' >"$E/discarded"
out=$("$EPHEMERAL" flush --root "$R" --store "$S" 2>&1)
assert_eq "discard: exit 0" 0 "$?"
check "discard: overlay detached" test ! -e "$E/discarded"
"$MANIFEST" "$E" >"$SCRATCH/after"
same_manifest "discard: lower untouched" "$SCRATCH/before" "$SCRATCH/after"
assert_match "discard: state says discarded" 'path=/etc .*status=discarded' "$(cat "$S/state")"
assert_match "failed dir: nothing to do" '^/srv: nothing to do \(failed\)' "$out"
check "discard: a mount that is not an overlay is left alone" mountpoint -q "$R/opt"

# --- a tree deeper than PATH_MAX (4096 bytes of path) ---
rm -rf "$S/etc/upper" "$S/etc/work"
write_state "$S" "$(state_line "$R" /etc etc)"
long=$(printf 'x%.0s' $(seq 1 100))
(cd "$E" && for _ in $(seq 1 60); do mkdir "$long" && cd "$long" || exit 1; done && printf 'old\n' >bottom) ||
	not_ok "build a deep lower tree"
overlay_up "$R" /etc "$S" etc
(cd "$E" && for _ in $(seq 1 60); do cd "$long" || exit 1; done && printf 'new\n' >bottom && mkdir newdir &&
	printf 'new too\n' >newdir/f)
umount "$E"
out=$("$EPHEMERAL" flush --root "$R" --store "$S" 2>&1)
assert_eq "deep tree: exit 0" 0 "$?"
deep_out=$(cd "$E" && for _ in $(seq 1 60); do cd "$long" || exit 1; done && cat bottom newdir/f)
assert_eq "deep tree: merged at depth 60 (6000+ byte paths)" "new
new too" "$deep_out"
rm -rf "${E:?}/$long" 2>/dev/null || (cd "$E" && for _ in $(seq 1 30); do cd "$long" || exit 1; done && rm -rf "$long")
rm -rf "${E:?}/$long"

# --- usage errors ---
"$EPHEMERAL" flush --bogus >/dev/null 2>&1
assert_eq "unknown option: exit 100" 100 "$?"
# No store and no overlay using it (an ephemeral=off boot): nothing to merge, exit 0
# (with an overlay still using it: test-shutdown-busy.sh, exit 111).
out=$("$EPHEMERAL" flush --store "$SCRATCH/nostore" 2>&1)
assert_eq "missing store, no overlay: exit 0" 0 "$?"
assert_match "missing store, no overlay: says there is nothing to merge" "nothing to merge" "$out"
mkdir -p "$SCRATCH/badstore" && echo garbage >"$SCRATCH/badstore/state"
"$EPHEMERAL" flush --store "$SCRATCH/badstore" >/dev/null 2>&1
assert_eq "malformed state: exit 111" 111 "$?"

finish
