#!/bin/bash
# Benchmark: what one `ephemeral flush` costs in system calls. A small /etc-like
# tree (FILES files of 1-16 KiB in dirs of 100; default 2 400) on a journaled ext4
# image is changed through a real overlay with its upper on a tmpfs store: 5/12 of
# the files rewritten, 2/12 deleted, as many new files added (a quarter of them in
# new dirs), and BIG_FILES (default 0) new files of BIG_MIB MiB (default 128). Then, RUNS times (default 3): the lower and the upper are restored, the
# filesystem synced, and the flush runs under `strace -f -c`, then again without
# strace for its CPU time (user + sys, from bash's `times`). Prints the syscall
# table of the last traced run, the calls per written file and the CPU times;
# the lower must equal the merged view after every run (exit 1 if not).
# Counts, not wall times, are the point: they do not depend on the machine's load.
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
need_root
need_pkgs strace e2fsprogs util-linux attr python3
need_ephemeral
in_private_mount_ns "$@"
# shellcheck source=tests/integration/flush-common.sh
. "$TOP/tests/integration/flush-common.sh"
need_manifest

files=${FILES:-2400}
runs=${RUNS:-3}
big_files=${BIG_FILES:-0} big_mib=${BIG_MIB:-128}
mkdir -p "$TOP/build/bench"
W=$(realpath "$(mktemp -d "$TOP/build/bench/flush-sc.XXXXXX")")
trap 'cd /; unmount_below "$W"; rm -rf "$W"' EXIT
F=$W/fs S=$W/store V=$W/view
ext4_loop "$W/disk.img" $((2 + 2 * big_files * big_mib / 1024))G "$F" || { echo "cannot make the ext4 image"; exit 111; }
mkdir -p "$F/pristine/etc" "$F/pristine/var/log" "$V"
python3 - "$F/pristine/etc" "$files" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for k in range(n):
    d = os.path.join(root, "d%03d" % (k // 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%03d.conf" % (k % 100)), "wb") as fh:
        fh.write(b"%d\n" % k * (((k * 37) % 8 + 1) * 1024 // 7))
PY
cp -a "$F/pristine" "$F/root"
mkdir -p "$S" && mount -t tmpfs -o mode=0700,size=$((1 + 3 * big_files * big_mib / 1024))G ephemeral-store "$S"
overlay_up "$F/root" /etc "$S" etc || exit 111
python3 - "$F/root/etc" "$files" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
def body(k):
    m = 1024 + (k * 7919) % 15360
    return (b"changed %d\n" % k * (m // 10 + 1))[:m]
for k in range(n):
    p = os.path.join(root, "d%03d" % (k // 100), "f%03d.conf" % (k % 100))
    if k % 12 < 5:
        with open(p, "wb") as fh:
            fh.write(body(k))
    elif k % 12 in (5, 6):
        os.unlink(p)
for k in range(n * 3 // 4):
    with open(os.path.join(root, "d%03d" % (k % (n // 100)), "new%04d.conf" % k), "wb") as fh:
        fh.write(body(n + k))
for k in range(n // 4):
    d = os.path.join(root, "new%02d" % (k // 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "n%03d.conf" % (k % 100)), "wb") as fh:
        fh.write(body(2 * n + k))
PY
for i in $(seq 1 "$big_files"); do # BIG_FILES logs of BIG_MIB MiB each
	head -c $((big_mib << 20)) /dev/urandom >"$F/root/etc/big$i.log" || exit 111
done
umount "$F/root/etc" || exit 111
mv "$S/etc" "$S/etc.orig"
mkdir -p "$S/view-work"
mount -t overlay -o "lowerdir=$F/pristine/etc,upperdir=$S/etc.orig/upper,workdir=$S/view-work,redirect_dir=off,index=off,metacopy=off" \
	ephemeral-view "$V" || exit 111
"$MANIFEST" --links-via "$S/etc.orig/upper" "$V" >"$W/expected" || exit 111
echo "upper: $(find "$S/etc.orig/upper" -type f | wc -l) files, $(find "$S/etc.orig/upper" -type c | wc -l) whiteouts, $(find "$S/etc.orig/upper" -mindepth 1 -type d | wc -l) dirs"

fresh() {
	rm -rf "${F:?}/root/etc" "${S:?}/etc"
	cp -a "$F/pristine/etc" "$F/root/etc"
	cp -a "$S/etc.orig" "$S/etc"
	write_state "$S" "$(state_line "$F/root" /etc etc)"
	sync -f "$F"
}
check() {
	"$MANIFEST" "$F/root/etc" | cmp -s - "$W/expected" && return 0
	echo "run $1: the lower differs from the merged view:"
	"$MANIFEST" "$F/root/etc" | diff "$W/expected" - | head -6
	bad=1
}

bad=0
for r in $(seq 1 "$runs"); do
	fresh
	strace -f -c -o "$W/strace.txt" "$EPHEMERAL" flush --root "$F/root" --store "$S" >"$W/out.txt" 2>&1 ||
		{ echo "flush failed:"; head -5 "$W/out.txt"; bad=1; }
	check "$r"
	fresh
	t0=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat)
	( "$EPHEMERAL" flush --root "$F/root" --store "$S" >"$W/out.txt" 2>&1 ) || bad=1
	t1=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat)
	check "$r"
	echo "run $r: CPU $(((t1 - t0) * 1000 / $(getconf CLK_TCK))) ms; $(grep -o '[0-9]* written, [0-9]* deleted' "$W/out.txt")"
done
written=$(grep -o '[0-9]* written' "$W/out.txt" | cut -d' ' -f1)
cat "$W/strace.txt"
awk -v w="$written" '$NF == "total" { printf "total %d syscalls, %.1f per written entry (%d written)\n", $(NF-2), $(NF-2) / w, w }' "$W/strace.txt"
exit "$bad"
