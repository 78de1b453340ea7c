#!/bin/bash
# shellcheck disable=SC2317 # the make_/change_/run_ functions are called by name
# Benchmark: writing one overlay upper down to the disk, the job `ephemeral flush`
# does at shutdown, against the tools that could do it instead. Everything runs on
# a journaled ext4 image on a loop device (direct I/O to a file on the same disk as
# the checkout), made once per run; the uppers live on a tmpfs like the store.
#
# Cases (BENCH_CASES, default "small large"):
#   small  a lower of 24 000 files (250 dirs); through a real overlay 10 000 of them
#          are rewritten, 10 000 files are added (half in 25 new dirs) and 4 000
#          deleted: 20 000 files / ~170 MB written, 4 000 deleted (whiteouts).
#   large  8 logs of 4 MiB that grew to 128 MiB each (1 GiB written).
# Tools, each followed by a sync of the filesystem (durability is part of the job):
#   ephemeral  `ephemeral flush` (atomic replace of each file, deletions applied)
#   rsync      `rsync -aAXH --delete` from the merged view (the overlay as the system
#              saw it) to the lower: the same result, checked below
#   cp         `cp -a` of the upper: WRONG, the cheap bound only — it applies no
#              deletion (copies whiteouts as 0:0 device nodes), replaces nothing
#              atomically (a power cut leaves torn files)
#   dd         (large only) `dd oflag=direct conv=fsync` of the same bytes to new
#              files: the physical limit of this filesystem for this much data
# Before every run the lower is a fresh copy of the pristine tree, the upper a fresh
# copy of the saved one, and the filesystem synced. Runs are interleaved (round r
# runs every tool once, the order rotating), BENCH_RUNS rounds (default 5). After
# each ephemeral and rsync run the lower must equal the merged view (manifest of
# types, modes, owners, times, contents, xattrs); a mismatch is reported and makes
# the script exit 1. Writes $BENCH_OUT/flush.dat and prints markdown tables.
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
need_root
need_pkgs rsync time e2fsprogs util-linux attr python3
need_ephemeral
in_private_mount_ns "$@"
# shellcheck source=tests/integration/flush-common.sh
. "$TOP/tests/integration/flush-common.sh"
need_manifest

runs=${BENCH_RUNS:-5}
cases=${BENCH_CASES:-small large}

mkdir -p "$TOP/build/bench"
W=$(realpath "$(mktemp -d "$TOP/build/bench/flush.XXXXXX")") # real path: mounts are matched by it
trap 'cd /; unmount_below "$W"; rm -rf "$W"' EXIT
F=$W/fs
ext4_loop "$W/disk.img" 8G "$F" || { echo "flush.sh: cannot make the ext4 image"; exit 111; }
DEV=${LOOPDEV#/dev/}

bench_start flush
echo "filesystem: ext4 (journal, $(dumpe2fs -h "$LOOPDEV" 2>/dev/null | awk -F': *' '/^Total journal size/ { print $2 }')) on $LOOPDEV, direct I/O=$(cat "/sys/block/$DEV/loop/dio" 2>/dev/null || echo ?), image on: $(findmnt -n -o SOURCE,FSTYPE -T "$W" | tr -s ' ')"

# Per case: C (case dir on the image) holds pristine/ (the lower as it was) and
# root/ (the lower each run writes to); S the store tmpfs; V the merged view
# (overlay of pristine + the saved upper), which rsync reads.
declare -A dir_of=([small]=/etc [large]=/srv)

make_small() { # LOWER: 24 000 files of 1-8 KiB in 250 dirs
	python3 - "$1" <<'PY'
import os, sys
root = sys.argv[1]
for d in range(250):
    dd = os.path.join(root, "d%03d" % d)
    os.mkdir(dd)
    for f in range(96):
        k = d * 96 + f
        with open(os.path.join(dd, "f%03d.conf" % f), "wb") as fh:
            fh.write(b"%d\n" % k * (((k * 37) % 8 + 1) * 1024 // 7))
PY
}
change_small() { # MERGED: rewrite 10 000, add 10 000, delete 4 000
	python3 - "$1" <<'PY'
import os, sys
root = sys.argv[1]
def body(k):
    n = 1024 + (k * 7919) % 15360  # 1-16 KiB, ~8.7 KB on average
    return (b"changed %d\n" % k * (n // 10 + 1))[:n]
for d in range(250):
    dd = os.path.join(root, "d%03d" % d)
    for f in range(96):
        k = d * 96 + f
        p = os.path.join(dd, "f%03d.conf" % f)
        if k % 12 < 5:
            with open(p, "wb") as fh:
                fh.write(body(k))
        elif k % 12 in (5, 6):
            os.unlink(p)
    for f in range(20):
        with open(os.path.join(dd, "new%02d.conf" % f), "wb") as fh:
            fh.write(body(100000 + d * 20 + f))
for d in range(25):
    dd = os.path.join(root, "new%02d" % d)
    os.mkdir(dd)
    for f in range(200):
        with open(os.path.join(dd, "n%03d.conf" % f), "wb") as fh:
            fh.write(body(200000 + d * 200 + f))
PY
}
make_large() { # LOWER: 8 logs of 4 MiB and 100 small files
	local i
	for i in 1 2 3 4 5 6 7 8; do head -c $((4 << 20)) /dev/urandom >"$1/big$i.log"; done
	for i in $(seq 1 100); do printf 'small %s\n' "$i" >"$1/s$i.log"; done
}
change_large() { # MERGED: each log grows to 128 MiB
	local i
	for i in 1 2 3 4 5 6 7 8; do head -c $((124 << 20)) /dev/urandom >>"$1/big$i.log"; done
}

setup_case() {
	local c=$1 d=${dir_of[$1]} name
	name=${d#/}
	C=$F/$c S=$W/store-$c V=$W/view-$c
	mkdir -p "$C/pristine$d" "$C/pristine/var/log" "$V"
	"make_$c" "$C/pristine$d"
	cp -a "$C/pristine" "$C/root"
	mkdir -p "$S" && mount -t tmpfs -o mode=0700,size=4G ephemeral-store "$S"
	overlay_up "$C/root" "$d" "$S" "$name" || return 1
	"change_$c" "$C/root$d"
	umount "$C/root$d" || return 1
	mv "$S/$name" "$S/$name.orig"
	# The merged view rsync reads: the saved upper over the pristine lower.
	mkdir -p "$S/view-work"
	mount -t overlay -o "lowerdir=$C/pristine$d,upperdir=$S/$name.orig/upper,workdir=$S/view-work,redirect_dir=off,index=off,metacopy=off" \
		ephemeral-view "$V" || return 1
	# (a fresh overlay once failed a listxattr here with ENOENT: one retry)
	"$MANIFEST" --links-via "$S/$name.orig/upper" "$V" >"$W/expected-$c" ||
		{ sleep 1 && "$MANIFEST" --links-via "$S/$name.orig/upper" "$V" >"$W/expected-$c"; } || return 1
	rm -rf "$C/root$d"
	echo "case $c: $d, upper $(find "$S/$name.orig/upper" -mindepth 1 -type f | wc -l) files, $(find "$S/$name.orig/upper" -mindepth 1 -type c | wc -l) whiteouts, $(du -sm "$S/$name.orig/upper" | cut -f1) MiB; lower $(find "$C/pristine$d" -type f | wc -l) files, $(du -sm "$C/pristine$d" | cut -f1) MiB"
}

# fresh CASE: the lower back to pristine, the upper back to the saved one, the
# state file written, the filesystem synced.
fresh() {
	local c=$1 d=${dir_of[$1]} name
	name=${d#/}
	rm -rf "${C:?}/root$d" "${S:?}/$name"
	cp -a "$C/pristine$d" "$C/root$d"
	cp -a "$S/$name.orig" "$S/$name"
	write_state "$S" "$(state_line "$C/root" "$d" "$name")"
	sync -f "$F"
}

# dd: the same bytes to new files with O_DIRECT, each file fsynced.
run_dd() {
	local f
	for f in "$1"/*; do
		[ -f "$f" ] || continue
		dd if="$f" of="$2/.dd.${f##*/}" bs=4M oflag=direct conv=fsync status=none || return 1
	done
}
export -f run_dd

bad=0
for c in $cases; do
	setup_case "$c" || { echo "flush.sh: setting up case $c failed"; exit 111; }
	d=${dir_of[$c]} name=${d#/}
	tools="ephemeral rsync cp"
	[ "$c" = large ] && tools="$tools dd"
	# shellcheck disable=SC2086 # a blank-separated list of tool names
	for r in $(seq 1 "$runs"); do
		for t in $(rotated "$r" $tools); do
			fresh "$c"
			case $t in
			ephemeral)
				timed "$DEV" "$F" "$c" "$t" "$r" "$EPHEMERAL" flush --root "$C/root" --store "$S" \
					>/dev/null 2>"$W/flush.err" || { echo "flush failed:"; head -5 "$W/flush.err"; } ;;
			rsync) timed "$DEV" "$F" "$c" "$t" "$r" rsync -aAXH --delete "$V/" "$C/root$d/" ;;
			cp) timed "$DEV" "$F" "$c" "$t" "$r" cp -a "$S/$name/upper/." "$C/root$d/" ;;
			dd) timed "$DEV" "$F" "$c" "$t" "$r" bash -c 'run_dd "$@"' _ "$S/$name/upper" "$C/root$d" ;;
			esac || echo "# $c round $r: $t failed"
			case $t in
			ephemeral | rsync)
				if ! "$MANIFEST" "$C/root$d" | cmp -s - "$W/expected-$c"; then
					echo "# $c round $r: after $t the lower differs from the merged view:"
					"$MANIFEST" "$C/root$d" | diff "$W/expected-$c" - | head -6 | sed 's/^/#   /'
					bad=1
				fi
				;;
			esac
			tail -n1 "$DAT" | sed 's/^/# /' >&2
		done
	done
	umount "$V" "$S"
done

echo
echo "Interleaved rounds: $runs; 'time / ephemeral' is the ratio within each round (> 1: ephemeral faster);"
echo "CPU = user + sys of the whole process tree; written = bytes written to the loop device during the run (sync included)."
echo "rsync runs as three processes (a pipeline), the others as one: on a machine short of CPU rsync gets up to three"
echo "shares of it, which shortens its wall time; CPU time does not depend on that. dd writes 4 MiB at a time with one"
echo "request in flight: the limit of the disk for this data when nothing else queues on it."
for c in $cases; do
	echo
	case $c in
	small) echo "**small files** (20 000 written, 4 000 deleted):" ;;
	large) echo "**large files** (8 × 128 MiB):" ;;
	esac
	echo
	specs=("ephemeral=ephemeral flush" "rsync=rsync -aAXH --delete (merged view)"
		"cp=cp -a of the upper (WRONG: no deletions, not atomic)")
	[ "$c" = large ] && specs+=("dd=dd oflag=direct (physical limit)")
	summarize "$DAT" "$c" ephemeral "${specs[@]}"
	if [ "$c" = large ]; then
		me=$(awk '$1 == "large" && $2 == "ephemeral" { print $4 }' "$DAT" | median)
		md=$(awk '$1 == "large" && $2 == "dd" { print $4 }' "$DAT" | median)
		awk -v me="$me" -v md="$md" 'BEGIN { if (me > 0 && md > 0)
			printf "\nThroughput (medians, 1 GiB): ephemeral flush %.0f MiB/s, dd %.0f MiB/s: flush reaches %.0f %% of dd.\n", 1024000 / me, 1024000 / md, 100 * md / me }'
	fi
done
echo
[ "$bad" = 0 ] && echo "Result check: after every ephemeral and rsync run the lower equalled the merged view." ||
	echo "Result check: FAILED (see the notes above)."
bench_end
exit "$bad"
