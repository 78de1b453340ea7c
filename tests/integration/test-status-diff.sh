#!/bin/bash
# ephemeral status and diff after changes made through the merged view: exact
# diff lines (A/M/D/O, odd names quoted), dir filters, status counts, --json; after
# a flush: no changes, and a new mount empties a discarded upper.
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
need_root
in_private_mount_ns "$@"
make_scratch

R=$SCRATCH/root S=$SCRATCH/store
mkdir -p "$R/etc/ssh" "$R/etc/gone/sub" "$R/etc/replaced/old" "$R/var/log" "$R/srv"
echo host >"$R/etc/hostname"
echo cfg >"$R/etc/ssh/sshd_config"
echo x >"$R/etc/gone/sub/f"
echo x >"$R/etc/replaced/old/f"
echo 'root:x:0:0::/root:/bin/sh' >"$R/etc/passwd"
echo grp >"$R/etc/group"
echo 'ephemeral.dirs=/etc,/var/log,/srv:discard ephemeral.tmpfs=none' >"$SCRATCH/cmdline"
"$EPHEMERAL" mount --root "$R" --store "$S" --cmdline "$SCRATCH/cmdline" --config /nonexistent 2>/dev/null
assert_eq "mount exits 0" 0 "$?"

st() { "$EPHEMERAL" status --root "$R" --store "$S" "$@"; }
df() { "$EPHEMERAL" diff --root "$R" --store "$S" "$@"; }

assert_eq "diff of an untouched system is empty" "" "$(df)"
assert_match "status: nothing changed yet" '^/etc +persist +mounted +yes +[0-9.]+[BKM] +0$' "$(st)"

# Changes through the merged view.
echo new >"$R/etc/hostname"                  # M
echo more >>"$R/etc/group"                   # M (append)
rm "$R/etc/passwd"                           # D
echo n >"$R/etc/newfile"                     # A
mkdir -p "$R/etc/newdir/x"                   # A A
echo y >"$R/etc/newdir/x/f"                  # A
rm -r "$R/etc/gone"                          # D
rm -r "$R/etc/replaced" && mkdir "$R/etc/replaced" && echo z >"$R/etc/replaced/g" # O A
chmod 700 "$R/etc/ssh"                       # M (dir metadata)
printf q >"$R/etc/we\"ird
name"                                        # A, quoted
ln -s hostname "$R/etc/link"                 # A
echo log >"$R/var/log/boot.log"              # A
touch "$R/srv/tmpfile"                       # A (discard dir: still listed)

expected='D /etc/gone
M /etc/group
M /etc/hostname
A /etc/link
A /etc/newdir
A /etc/newdir/x
A /etc/newdir/x/f
A /etc/newfile
D /etc/passwd
O /etc/replaced
A /etc/replaced/g
M /etc/ssh
A "/etc/we\"ird\nname"
A /var/log/boot.log
A /srv/tmpfile'
out=$(df)
assert_eq "diff: exit 0" 0 "$?"
assert_eq "diff lists every change exactly" "$expected" "$out"
assert_eq "diff with filters" 'A /etc/newdir
A /etc/newdir/x
A /etc/newdir/x/f
A /var/log/boot.log' "$(df /etc/newdir/ /var/log)"
assert_eq "diff filter on a single file" 'M /etc/hostname' "$(df /etc/hostname)"
# A filter is a path inside an overlaid dir: any file name must do, also one with
# a space, a comma or a colon (only overlaid dirs themselves are restricted).
mkdir -p "$R/etc/NetworkManager"
echo c >"$R/etc/NetworkManager/My Wifi,5:GHz"
assert_eq "diff filter with a space, comma and colon" 'A /etc/NetworkManager/My Wifi,5:GHz' \
	"$(df "/etc/NetworkManager/My Wifi,5:GHz")"
rm -r "$R/etc/NetworkManager"
df /usr >/dev/null 2>"$SCRATCH/err"
assert_eq "diff: unknown filter exits 100" 100 "$?"
assert_match "diff: unknown filter is named" "'/usr' is not an overlaid dir" "$(cat "$SCRATCH/err")"
df relative >/dev/null 2>&1
assert_eq "diff: relative filter exits 100" 100 "$?"
assert_eq "diff leaves the overlays mounted" overlay "$(findmnt -n -o FSTYPE --mountpoint "$R/etc")"
assert_eq "merged view unchanged after diff" new "$(cat "$R/etc/hostname")"

out=$(st)
assert_eq "status: exit 0" 0 "$?"
# etc: group hostname passwd(D) newfile f gone(D) replaced(O) g weird link = 10
assert_match "status: /etc line" '^/etc +persist +mounted +yes +[0-9.]+[BKM] +10$' "$out"
assert_match "status: /var/log line" '^/var/log +persist +mounted +yes +[0-9.]+[BKM] +1$' "$out"
assert_match "status: /srv line" '^/srv +discard +mounted +yes +[0-9.]+[BKM] +1$' "$out"
assert_match "status: store line" "^store $S: [0-9.]+[BKMG] used of [0-9.]+[KMG] \([0-9]+%\)$" "$out"

json=$(st --json)
check "status --json is valid JSON" python3 -m json.tool <<<"$json"
check "status --json has the right values" python3 -c '
import json, sys
d = json.loads(sys.argv[1])
o = {x["dir"]: x for x in d["overlays"]}
assert o["/etc"]["changes"] == 10 and o["/etc"]["mounted"] is True, o
assert o["/etc"]["mode"] == "persist" and o["/srv"]["mode"] == "discard", o
assert o["/etc"]["upper_bytes"] > 0, o
assert d["store"]["path"] == sys.argv[2], d
assert 0 < d["store"]["used_bytes"] <= d["store"]["size_bytes"], d
assert d["store"]["cap_bytes"] > 0, d
' "$json" "$S"

umount "$R/var/log"
assert_match "status: an unmounted overlay says no" '^/var/log +persist +mounted +no ' "$(st)"
assert_eq "diff still works on an unmounted overlay" 'A /var/log/boot.log' "$(df /var/log)"

# --- after a flush the uppers are emptied and marked flushed: status counts no
# change, diff lists none, a second flush has nothing to do, and a mount that finds
# the store again empties a flushed or discarded upper before it mounts on it (else
# old versions would come back over newer ones) ---
out=$("$EPHEMERAL" flush --root "$R" --store "$S" 2>&1)
assert_eq "flush: exit 0" 0 "$?"
assert_eq "flush: the upper is emptied" "" "$(ls -A "$S/etc/upper")"
assert_eq "flush: the changes are on disk" new "$(cat "$R/etc/hostname")"
assert_eq "flush: the discarded file is not" "" "$(ls -A "$R/srv")"
assert_eq "diff after a flush lists nothing of the flushed dirs" "" "$(df /etc /var/log)"
out=$(st)
assert_match "status after a flush: /etc flushed, no change" '^/etc +persist +flushed +no +[0-9.]+[BKM] +0$' "$out"
assert_match "status after a flush: /var/log flushed, no change" '^/var/log +persist +flushed +no +[0-9.]+[BKM] +0$' "$out"
out=$("$EPHEMERAL" flush --root "$R" --store "$S" 2>&1)
assert_eq "second flush: exit 0" 0 "$?"
assert_match "second flush: nothing to do" '/etc: nothing to do \(flushed\)' "$out"
echo newer >"$R/etc/hostname" # written to disk after the flush, without an overlay
"$EPHEMERAL" mount --root "$R" --store "$S" --cmdline "$SCRATCH/cmdline" --config /nonexistent 2>/dev/null
assert_eq "mount on the flushed store: exit 0" 0 "$?"
assert_eq "mount on the flushed store: the flushed upper was emptied" "" "$(ls -A "$S/etc/upper")"
assert_eq "mount on the flushed store: the newer disk version shows" newer "$(cat "$R/etc/hostname")"
check_fails "mount on the flushed store: the discarded file stays gone" test -e "$R/srv/tmpfile"
assert_eq "mount on the flushed store: diff is empty" "" "$(df)"

"$EPHEMERAL" status --store "$SCRATCH/nostore" >/dev/null 2>"$SCRATCH/err"
assert_eq "status without a store: exit 111" 111 "$?"
printf 'ephemeral-state 1\ndir path=/etc name=../x mode=persist status=mounted\n' >"$S/state"
"$EPHEMERAL" status --store "$S" >/dev/null 2>"$SCRATCH/err"
assert_eq "status with a malformed state: exit 111" 111 "$?"
assert_match "status with a malformed state: says so" 'malformed' "$(cat "$SCRATCH/err")"
finish
