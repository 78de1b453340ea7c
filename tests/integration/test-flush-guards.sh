#!/bin/bash
# ephemeral flush and mount when a check that guards data cannot be made (an
# xattr, statx or readdir error, injected with tests/lib/fail-call.c): the answer
# is "stop and keep the old version", never "no".
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
cc -shared -fPIC -o "$SCRATCH/fail.so" "$TOP/tests/lib/fail-call.c" -ldl ||
	{ echo "# cannot build the fault shim"; exit 1; }

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
# faulty CALL PATH CMD...: run CMD with CALL failing (EIO) on paths containing PATH.
faulty() {
	local call=$1 path=$2
	shift 2
	FAIL_CALL=$call FAIL_PATH=$path LD_PRELOAD=$SCRATCH/fail.so \
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 "$@"
}
flush() { "$EPHEMERAL" flush --root "$R" --store "$S"; }
# names DIR: the names in DIR on one line.
names() { find "$1" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort | paste -sd' '; }
# reset_lower: /etc/d with six files.
reset_lower() {
	umount_below "$E"
	rm -rf "${E:?}"/* "${E:?}"/.#ephemeral.*
	mkdir -p "$E/d"
	for f in 1 2 3 4 5 6; do printf 'old %s\n' "$f" >"$E/d/f$f"; done
}

# --- 1. the opaque xattr of a replaced dir cannot be read: not "not opaque" (that
# merges in place and brings back the files the user deleted) ---
reset_lower
fresh_upper
overlay_up "$R" /etc "$S" etc
rm -r "$E/d" && mkdir "$E/d" && printf 'new\n' >"$E/d/n"
umount "$E"
out=$(faulty fgetxattr /upper/d flush 2>&1)
assert_eq "opaque unreadable: exit 111" 111 "$?"
assert_match "opaque unreadable: says which dir" "/etc/d.*Input/output error" "$out"
assert_eq "opaque unreadable: the old dir is whole" "f1 f2 f3 f4 f5 f6" "$(names "$E/d")"
check "opaque unreadable: the upper keeps the change" test -f "$S/etc/upper/d/n"
out=$(faulty fgetxattr /upper/d "$EPHEMERAL" diff --root "$R" --store "$S" 2>&1)
assert_eq "opaque unreadable: diff exits 111" 111 "$?"
assert_match "opaque unreadable: diff says why" "/etc: cannot walk its upper dir: Input/output error" "$out"
out=$(flush 2>&1)
assert_eq "opaque readable again: exit 0" 0 "$?"
assert_eq "opaque readable again: the dir is replaced" "n" "$(names "$E/d")"

# --- 2. statx cannot tell whether a dir is a mount root: a same-filesystem bind
# mount inside a deleted dir is not entered (it would delete files outside the
# overlaid tree) ---
reset_lower
mkdir -p "$E/gone/bindmnt" "$R/home/user"
printf 'precious\n' >"$R/home/user/thesis"
fresh_upper
overlay_up "$R" /etc "$S" etc
rm -r "$E/gone"
umount "$E"
mount --bind "$R/home" "$E/gone/bindmnt"
out=$(faulty statx /bindmnt flush 2>&1)
assert_eq "statx fails: exit 111" 111 "$?"
assert_eq "statx fails: what is mounted inside is untouched" "precious" "$(cat "$R/home/user/thesis" 2>&1)"
assert_match "statx fails: says so" "/etc/gone.*Input/output error" "$out"
umount_below "$E"

# --- 9. a read error in the cleanup of an interrupted flush: the marker stays
# (it is all that finds the temporary again), the run fails ---
reset_lower
mkdir -p "$E/sub" && printf 'half\n' >"$E/sub/.#ephemeral.00000000000000aa"
: >"$E/.#ephemeral.flush-in-progress"
fresh_upper
mkdir -p "$S/etc/upper"
out=$(faulty readdir /root/etc/sub flush 2>&1)
assert_eq "cleanup cannot read a dir: exit 111" 111 "$?"
assert_match "cleanup cannot read a dir: says so" "cannot remove leftovers in 'sub'.*Input/output error" "$out"
check "cleanup cannot read a dir: the marker stays" test -e "$E/.#ephemeral.flush-in-progress"
out=$(flush 2>&1)
assert_eq "cleanup can read again: exit 0" 0 "$?"
assert_eq "cleanup can read again: temporary and marker gone" "" "$(find "$E" -name '.#ephemeral.*')"

# --- 9b. the upper cannot be read when it is emptied after the merge: said, exit
# 111 (the merge itself is done). The upper root is read twice before: the prescan
# and the walk each read ".", "..", "f" and the end. ---
reset_lower
fresh_upper
mkdir -p "$S/etc/upper" && printf 'x\n' >"$S/etc/upper/f"
out=$(FAIL_SKIP=8 faulty readdir /etc/upper flush 2>&1)
assert_eq "upper unreadable when emptied: exit 111" 111 "$?"
assert_match "upper unreadable when emptied: says so" "cannot (read|empty) the upper dir.*Input/output error" "$out"
assert_eq "upper unreadable when emptied: merged" "x" "$(cat "$E/f")"

# --- 4. the probe for user.* xattrs in the store never lands on disk, even when
# it cannot be removed again ---
reset_lower
fresh_upper
mkdir -p "$S/etc/upper" && printf 'x\n' >"$S/etc/upper/f"
out=$(faulty fremovexattr /etc/upper flush 2>&1)
assert_eq "probe not removable: exit 0" 0 "$?"
assert_eq "probe not removable: no probe xattr on the lower dir" "" \
	"$(getfattr -h --absolute-names -d -m 'user\.' "$E" 2>&1)"

# --- 5. a deleted dir that cannot be emptied (an immutable file in it) is not put
# back half emptied (neither version): it is gone from its name, and what cannot
# go stays as a named leftover that the next run removes ---
reset_lower
if chattr +i "$E/d/f3" 2>/dev/null; then
	fresh_upper
	mkdir -p "$S/etc/upper" && mknod "$S/etc/upper/d" c 0 0 # a whiteout
	out=$(flush 2>&1)
	assert_eq "undeletable file: exit 111" 111 "$?"
	check "undeletable file: not put back half emptied" test ! -e "$E/d"
	assert_match "undeletable file: says so" "cannot delete everything in '/etc/d'" "$out"
	check "undeletable file: the marker stays for the next run" test -e "$E/.#ephemeral.flush-in-progress"
	chattr -R -i "$E"
	out=$(flush 2>&1)
	assert_eq "undeletable file: the next run completes" 0 "$?"
	assert_eq "undeletable file: no leftovers" "" "$(find "$E" -name '.#ephemeral.*')"
else
	diag "chattr +i not supported here: undeletable-file case not run"
fi

# --- 3. a file name cannot forge a log line: a socket (skipped, with a notice) and
# a reserved name (refused, with an error) named with a newline ---
reset_lower
fresh_upper
mkdir -p "$S/etc/upper"
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$S/etc/upper/$(printf 's\n<0>forged')"
out=$(flush 2>&1)
check_fails "forged name: no log line of its own" grep -q '^<0>forged' <<<"$out"
assert_match "forged name: shown escaped" "skipping socket '/etc/s\\\\n<0>forged'" "$out"

# --- the second whiteout form (a zero-size file with trusted.overlay.whiteout in a
# dir with trusted.overlay.opaque=x): the kernel never makes it in an upper, and
# merging it as an empty file would be wrong: refused like redirect/metacopy ---
reset_lower
fresh_upper
mkdir -p "$S/etc/upper/d" && : >"$S/etc/upper/d/f1"
setfattr -n trusted.overlay.opaque -v x "$S/etc/upper/d"
setfattr -n trusted.overlay.whiteout -v y "$S/etc/upper/d/f1"
out=$(flush 2>&1)
assert_eq "xattr whiteout: exit 111" 111 "$?"
assert_match "xattr whiteout: says why" "refusing to merge: upper '/etc/d.*' carries trusted.overlay.(whiteout|opaque=x)" "$out"
assert_eq "xattr whiteout: the lower file is untouched" "old 1" "$(cat "$E/d/f1")"
check "xattr whiteout: the upper is kept" test -e "$S/etc/upper/d/f1"

# --- two flushes at once: the second one waits 15 s, then refuses (the store is locked) and
# changes nothing; once the first is done, a flush runs ---
reset_lower
fresh_upper
mkdir -p "$S/etc/upper" && printf 'new\n' >"$S/etc/upper/locked"
(exec 9<"$S" && flock -x 9 && exec sleep 60) &
holder=$!
for _ in $(seq 100); do flock -n -x "$S" true 2>/dev/null || break; sleep 0.05; done
out=$(flush 2>&1)
assert_eq "store locked: exit 111" 111 "$?"
assert_match "store locked: says so" "flush: the store .* is in use by another flush or checkpoint" "$out"
check "store locked: nothing merged" test ! -e "$E/locked"
kill "$holder"; wait "$holder" 2>/dev/null
out=$(flush 2>&1)
assert_eq "store free again: exit 0" 0 "$?"
assert_eq "store free again: merged" new "$(cat "$E/locked")"

# --- a state file cut at a line boundary (the record of a dir lost): refused with a
# clear message, nothing merged; the previous version's format is still read ---
reset_lower
fresh_upper
mkdir -p "$S/etc/upper" && printf 'new\n' >"$S/etc/upper/cut"
head -n 2 "$S/state" >"$S/state.cut" && mv "$S/state.cut" "$S/state"
out=$(flush 2>&1)
assert_eq "state cut short: exit 111" 111 "$?"
assert_match "state cut short: says so" "state file ends without its end record \(cut short\)" "$out"
check "state cut short: nothing merged" test ! -e "$E/cut"
printf 'ephemeral-state 1\nstore cap=1\n%s\n' "$(state_line "$R" /etc etc)" >"$S/state"
out=$(flush 2>&1)
assert_eq "previous version's state file: read, merged (exit 0)" 0 "$?"
assert_eq "previous version's state file: merged" new "$(cat "$E/cut" 2>&1)"

finish
