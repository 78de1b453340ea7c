#!/bin/bash
# Benchmark: one sweeping pass over a tmpfs tree of 1 000 dirs × 100 files, 10 %
# stale, by `ephemeral-sweep --once`, `systemd-tmpfiles --clean` (an `e` line for
# the tree with the same age) and `find -mmin +1 -delete`.
#
# The stale part is aged FOR REAL: `touch -d` cannot set ctime or btime back, and
# both the sweeper and tmpfiles look at those, so a touched file is not stale for
# either. So the stale files (10 per dir) of every tree of the run are created
# first, then the script waits until they are more than a minute old, and each
# tree gets its 90 fresh files per dir right before its tool runs (age 1 minute
# for all three tools; every run must finish within the minute, which the check
# below would catch). After each run the tree must hold exactly the fresh files
# and the dirs: every tool must remove the same set (checked, exit 1 if not).
#
# They do not do the same work: ephemeral-sweep also proves each file unused
# (a lease per file, one /proc scan per pass), re-checks it on the open fd and
# keeps the protected patterns; tmpfiles takes a flock on each dir and checks
# times; find checks mtime only. Interleaved rounds (each round runs every tool
# once, the order rotating): BENCH_RUNS (default 5). BENCH_DIRS (default 1000)
# dirs of 100 files. Writes $BENCH_OUT/sweep.dat and prints a markdown table.
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
SWEEP=${EPHEMERAL_SWEEP:-$TOP/build/ephemeral-sweep}
need_root
need_pkgs systemd time python3 findutils
[ -x "$SWEEP" ] || need_ephemeral
in_private_mount_ns "$@"

runs=${BENCH_RUNS:-5}
dirs=${BENCH_DIRS:-1000}
tools="ephemeral tmpfiles find"
mkdir -p "$TOP/build/bench"
W=$(realpath "$(mktemp -d "$TOP/build/bench/sweep.XXXXXX")") # real path: mounts are matched by it
trap 'cd /; unmount_below "$W"; rm -rf "$W"' EXIT
mkdir "$W/t"
mount -t tmpfs -o size=4G,mode=1777,nodev,nosuid tmpfs "$W/t" # as ephemeral mounts /tmp

# gen stale|fresh ROOT: the stale (s0..s9) or fresh (f00..f89) files of each dir.
gen() {
	python3 - "$1" "$2" "$dirs" <<'PY'
import os, sys
part, root, ndirs = sys.argv[1], sys.argv[2], int(sys.argv[3])
names = ["s%d" % i for i in range(10)] if part == "stale" else ["f%02d" % i for i in range(90)]
data = b"x" * 64
for d in range(ndirs):
    dd = os.path.join(root, "d%04d" % d)
    if part == "stale":
        os.makedirs(dd)
    for n in names:
        fd = os.open(os.path.join(dd, n), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, data)
        os.close(fd)
PY
}
listing() { find "$1" -mindepth 1 -printf '%y %P\n' | LC_ALL=C sort; }

bench_start sweep
echo "sweeper: $SWEEP; $(systemd-tmpfiles --version | head -1); $(find . -maxdepth 0 --version | head -1)"
echo "tree: $dirs dirs × (10 stale + 90 fresh) files of 64 bytes on a tmpfs; age 1 minute"
for r in $(seq 1 "$runs"); do
	for t in $tools; do gen stale "$W/t/r$r-$t" || exit 111; done
done
aged=$(($(date +%s) + 65))
echo "stale part created at $(date -u +%T); aging it for real until $(date -u -d "@$aged" +%T)"
while [ "$(date +%s)" -lt "$aged" ]; do sleep 1; done

bad=0
for r in $(seq 1 "$runs"); do
	# shellcheck disable=SC2086 # a blank-separated list of tool names
	for t in $(rotated "$r" $tools); do
		T=$W/t/r$r-$t
		gen fresh "$T" || exit 111
		listing "$T" | grep -v '/s[0-9]$' >"$W/expected"
		case $t in
		ephemeral) cmd=("$SWEEP" --once --age 1 --config /dev/null --cmdline /dev/null "$T") ;;
		tmpfiles)
			printf 'e %s - - - 1m\n' "$T" >"$T.conf"
			cmd=(systemd-tmpfiles --clean "$T.conf")
			;;
		find) cmd=(find "$T" -mindepth 1 -mmin +1 -delete) ;;
		esac
		timed - - sweep "$t" "$r" "${cmd[@]}" 2>/dev/null || echo "# round $r: $t exited $?"
		tail -n1 "$DAT" | sed 's/^/# /' >&2
		if ! listing "$T" | cmp -s - "$W/expected"; then
			echo "# round $r: $t left $(listing "$T" | grep -c '/s[0-9]$') of $((dirs * 10)) stale files and $(listing "$T" | grep -c '/f[0-9]*$') of $((dirs * 90)) fresh ones (expected: none, all)"
			bad=1
		fi
		rm -rf "$T" "$T.conf"
	done
done

echo
echo "Interleaved rounds: $runs; 'time / ephemeral' is the ratio within each round (> 1: ephemeral-sweep faster); CPU = user + sys; nothing is written to a disk (tmpfs)."
echo
summarize "$DAT" sweep ephemeral "ephemeral=ephemeral-sweep --once" \
	"tmpfiles=systemd-tmpfiles --clean" "find=find -mmin +1 -delete"
echo
[ "$bad" = 0 ] && echo "Same set: after every run of every tool exactly the $((dirs * 10)) stale files were gone and all fresh files and dirs left." ||
	echo "Same set: FAILED (see the notes above)."
bench_end
exit "$bad"
