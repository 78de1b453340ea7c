#!/bin/bash
# Benchmark: writing one overlay upper down to disk. A realistic upper is built
# through a real overlay (a copy of this host's /etc with ~10 % of the files
# changed, some added and deleted, plus a /var/log-like tree whose large logs got
# appended to), then the same changed set is written to a fresh copy of the lower
# by `ephemeral flush`, by `rsync -aHAX` and by `cp -a` (each followed by a sync of
# the filesystem, since flush's durability is part of its job). rsync and cp only
# copy; they do not apply whiteouts or opaque dirs, so they do less than flush.
# Prints the median of BENCH_RUNS (default 5) runs and the ratios. BENCH_WRAP
# (e.g. "strace -c -o FILE") is put in front of the ephemeral command.
# BENCH_LOG_MB=N adds N MB of new logs in /var/log (e.g. 200: how long a big upper
# takes, against systemd's 90 s limit for system-shutdown hooks; see README).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 111
TOP=$PWD
EPHEMERAL=${EPHEMERAL:-$TOP/build/ephemeral}
[ "$(id -u)" = 0 ] || { echo "flush.sh: needs root"; exit 77; }
[ -x "$EPHEMERAL" ] || { echo "flush.sh: build first (make)"; exit 111; }
if [ -z "${_BENCH_IN_NS:-}" ]; then
	export _BENCH_IN_NS=1
	exec unshare -m --propagation private "$0" "$@"
fi
# shellcheck source=tests/lib/lib.sh
. "$TOP/tests/lib/lib.sh"
# shellcheck source=tests/integration/flush-common.sh
. "$TOP/tests/integration/flush-common.sh"
runs=${BENCH_RUNS:-5}

mkdir -p "$TOP/build/bench"
W=$(mktemp -d "$TOP/build/bench/flush.XXXXXX")
SCRATCH=$W
trap 'flush_cleanup' EXIT
P=$W/pristine # the lower as it was
S=$W/store
mkdir -p "$P/var"
cp -a /etc "$P/etc"
mkdir -p "$P/var/log/journal" "$P/var/log/apt"
for i in 1 2 3 4; do head -c $((16 << 20)) /dev/urandom | base64 >"$P/var/log/big$i.log"; done
for i in $(seq 1 200); do printf 'small log %s\n' "$i" >"$P/var/log/journal/s$i.log"; done

# Make the changes through real overlays (the uppers are what flush gets).
make_store "$S"
cp -a "$P" "$W/root"
for d in etc var/log; do
	name=${d//\//-}
	overlay_up "$W/root" "/$d" "$S" "$name"
done
n=0
while IFS= read -r -d '' f; do
	n=$((n + 1))
	case $((n % 10)) in
	0) printf '# changed by the benchmark\n' >>"$f" ;;
	5) [ $((n % 50)) = 5 ] && rm -f "$f" ;;
	esac
done < <(find "$W/root/etc" -type f -print0)
mkdir -p "$W/root/etc/bench.d"
for i in $(seq 1 100); do printf 'new file %s\n' "$i" >"$W/root/etc/bench.d/n$i.conf"; done
for i in 1 2 3; do head -c $((4 << 20)) /dev/urandom | base64 >>"$W/root/var/log/big$i.log"; done
for i in $(seq 1 50); do printf 'appended\n' >>"$W/root/var/log/journal/s$i.log"; done
if [ "${BENCH_LOG_MB:-0}" -gt 0 ]; then
	mkdir -p "$W/root/var/log/bulk"
	for i in $(seq 1 $((BENCH_LOG_MB / 4))); do head -c $((4 << 20)) /dev/urandom >"$W/root/var/log/bulk/l$i.log"; done
fi
umount "$W/root/etc" "$W/root/var/log"
for d in etc var-log; do cp -a "$S/$d" "$S/$d.orig"; done
files=$(find "$S/etc.orig/upper" "$S/var-log.orig/upper" | wc -l)
bytes=$(du -sb "$S/etc.orig/upper" "$S/var-log.orig/upper" | awk '{ s += $1 } END { print s }')

# fresh_lower: the lower back to its pristine state, uppers restored, state written.
fresh_lower() {
	rm -rf "$W/root" && cp -a "$P" "$W/root"
	for d in etc var-log; do rm -rf "${S:?}/$d" && cp -a "$S/$d.orig" "$S/$d"; done
	write_state "$S" "$(state_line "$W/root" /etc etc)" "$(state_line "$W/root" /var/log var-log)"
	sync -f "$W"
}
ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A t
for tool in ephemeral rsync cp; do
	for _ in $(seq 1 "$runs"); do
		fresh_lower
		t0=$(ms)
		case $tool in
		ephemeral) ${BENCH_WRAP:-} "$EPHEMERAL" flush --root "$W/root" --store "$S" >/dev/null 2>&1 || { echo "flush failed"; exit 1; } ;;
		rsync)
			rsync -aHAX "$S/etc.orig/upper/" "$W/root/etc/"
			rsync -aHAX "$S/var-log.orig/upper/" "$W/root/var/log/"
			sync -f "$W/root"
			;;
		cp)
			cp -a "$S/etc.orig/upper/." "$W/root/etc/"
			cp -a "$S/var-log.orig/upper/." "$W/root/var/log/"
			sync -f "$W/root"
			;;
		esac
		echo $(($(ms) - t0))
	done >"$W/times.$tool"
	t[$tool]=$(median <"$W/times.$tool")
done

printf 'upper: %s entries, %s bytes (copy of /etc with changes + /var/log with appended logs)\n' "$files" "$bytes"
printf 'median of %s runs, each including a sync of the filesystem\n' "$runs"
printf '%-22s %8s %8s\n' tool ms ratio
for tool in ephemeral rsync cp; do
	label=$tool
	case $tool in ephemeral) label="ephemeral flush" ;; rsync) label="rsync -aHAX" ;; cp) label="cp -a" ;; esac
	printf '%-22s %8s %8s\n' "$label" "${t[$tool]}" "$(awk -v a="${t[$tool]}" -v b="${t[ephemeral]}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
done
echo "(ratio = time / ephemeral flush time; > 1 means ephemeral is faster)"
