#!/bin/bash
# Benchmark: what a checkpoint costs the disk. Bytes written per checkpoint (the
# checkpoint process's write_bytes in /proc/PID/io, read by the shell that waited
# for it) for: nothing changed; 1 MiB appended to a 100 MiB log; 1 000 small /etc
# files changed; and the time of a checkpoint of the default dirs (a copy of this
# host's /etc with ~10 % changed and a /var/log with appended logs). For the
# appended log, `rsync -a` of the same upper to a copy (what a naive periodic sync
# does) is measured alongside. Prints medians of BENCH_RUNS (default 3).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 111
TOP=$PWD
EPHEMERAL=${EPHEMERAL:-$TOP/build/ephemeral}
[ "$(id -u)" = 0 ] || { echo "checkpoint.sh: needs root"; exit 77; }
[ -x "$EPHEMERAL" ] || { echo "checkpoint.sh: build first (make)"; exit 111; }
if [ -z "${_BENCH_IN_NS:-}" ]; then
	export _BENCH_IN_NS=1
	exec unshare -m --propagation private "$0" "$@"
fi
# shellcheck source=tests/lib/lib.sh
. "$TOP/tests/lib/lib.sh"
# shellcheck source=tests/integration/flush-common.sh
. "$TOP/tests/integration/flush-common.sh"
# shellcheck source=bench/lib.sh
. "$TOP/bench/lib.sh"
runs=${BENCH_RUNS:-3}
mkdir -p "$TOP/build/bench"
W=$(mktemp -d "$TOP/build/bench/checkpoint.XXXXXX")
SCRATCH=$W
trap 'flush_cleanup' EXIT
J=/var/lib/ephemeral/journal
printf 'ephemeral.dirs=/etc,/var/log ephemeral.tmpfs=none ephemeral.size=2G\n' >"$W/cmdline"

boot() {
	"$EPHEMERAL" mount --root "$1" --store "$2" --cmdline "$W/cmdline" --config /dev/null >/dev/null 2>&1
}
crash() { umount -l "$1/etc" "$1/var/log" "$2" 2>/dev/null; }
# written CMD...: runs CMD, prints "BYTES SECONDS": the bytes it wrote (write_bytes of
# the shell that reaped it, minus what the shell had before) and its time.
written() {
	local t0 b
	t0=$(date +%s%N)
	# shellcheck disable=SC2016
	b=$(bash -c 'read -r _ b < <(grep ^write_bytes /proc/$$/io); "$@" >/dev/null 2>&1;
		read -r _ a < <(grep ^write_bytes /proc/$$/io); echo $((a - b))' _ "$@")
	echo "$b $(awk -v n=$(($(date +%s%N) - t0)) 'BEGIN { printf "%.3f", n / 1e9 }')"
}
bytes_of() { echo "${1% *}"; }
secs_of() { echo "${1#* }"; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
human() { awk -v b="$1" 'BEGIN { split("B KiB MiB GiB", u); i = 1; while (b >= 1024 && i < 4) { b /= 1024; i++ } printf (i == 1 ? "%d %s" : "%.1f %s"), b, u[i] }'; }

declare -A res
for run in $(seq 1 "$runs"); do
	R=$W/r$run S=$W/s$run
	mkdir -p "$R/etc" "$R/var/log"
	for i in $(seq 1 1000); do printf 'setting%s = %s\n' "$i" "$RANDOM" >"$R/etc/conf$i"; done
	boot "$R" "$S" || { echo "mount failed"; exit 111; }
	head -c $((100 << 20)) /dev/urandom >"$R/var/log/big.log"
	"$EPHEMERAL" checkpoint --root "$R" --store "$S" >/dev/null 2>&1
	x=$(written "$EPHEMERAL" checkpoint --root "$R" --store "$S")
	res[nothing]+="$(bytes_of "$x") "
	head -c $((1 << 20)) /dev/urandom >>"$R/var/log/big.log"
	x=$(written "$EPHEMERAL" checkpoint --root "$R" --store "$S")
	res[append]+="$(bytes_of "$x") "
	# the same with rsync: a copy of the upper as it was, then the appended one
	mkdir -p "$W/rs$run"
	head -c $((100 << 20)) "$R/var/log/big.log" >"$W/rs$run/big.log"
	x=$(written rsync -a "$S/var-log/upper/big.log" "$W/rs$run/big.log")
	res[rsync]+="$(bytes_of "$x") "
	for i in $(seq 1 1000); do printf 'changed%s = %s\n' "$i" "$RANDOM" >"$R/etc/conf$i"; done
	x=$(written "$EPHEMERAL" checkpoint --root "$R" --store "$S")
	res[etc]+="$(bytes_of "$x") "
	crash "$R" "$S"
	rm -rf "$R" "$W/rs$run"
done

# The default dirs: this host's /etc and a /var/log with large logs.
for run in $(seq 1 "$runs"); do
	R=$W/d$run S=$W/ds$run
	mkdir -p "$R/var/log"
	cp -a /etc "$R/etc"
	for i in 1 2 3 4; do head -c $((16 << 20)) /dev/urandom | base64 >"$R/var/log/big$i.log"; done
	boot "$R" "$S"
	find "$R/etc" -xdev -type f -size -64k 2>/dev/null | awk 'NR % 10 == 0' | while read -r f; do echo "# changed" >>"$f"; done
	for i in 1 2 3 4; do head -c $((1 << 20)) /dev/urandom | base64 >>"$R/var/log/big$i.log"; done
	x=$(written "$EPHEMERAL" checkpoint --root "$R" --store "$S")
	res[dflt_first_s]+="$(secs_of "$x") " res[dflt_first_b]+="$(bytes_of "$x") "
	for i in 1 2 3 4; do head -c $((256 << 10)) /dev/urandom | base64 >>"$R/var/log/big$i.log"; done
	x=$(written "$EPHEMERAL" checkpoint --root "$R" --store "$S")
	res[dflt_next_s]+="$(secs_of "$x") " res[dflt_next_b]+="$(bytes_of "$x") "
	entries=$(grep -c '^f ' "$R$J/current/RECORD")
	crash "$R" "$S"
	rm -rf "$R"
done

m() { tr ' ' '\n' <<<"${res[$1]}" | grep . | median; }
describe_host "$TOP/build"
echo "bytes written per checkpoint (median of $runs; write_bytes of the checkpoint process):"
printf '  %-44s %s\n' "nothing changed" "$(human "$(m nothing)")"
printf '  %-44s %s   (rsync -a of the same file: %s)\n' "1 MiB appended to a 100 MiB log" \
	"$(human "$(m append)")" "$(human "$(m rsync)")"
printf '  %-44s %s\n' "1 000 small /etc files changed" "$(human "$(m etc)")"
echo "checkpoint of the default dirs (host /etc, ~10 % of its files changed, 4 x 21 MiB logs appended; $entries files recorded):"
printf '  %-44s %s s, %s written\n' "first checkpoint" "$(m dflt_first_s)" "$(human "$(m dflt_first_b)")"
printf '  %-44s %s s, %s written\n' "next one (1 MiB appended to the logs)" "$(m dflt_next_s)" "$(human "$(m dflt_next_b)")"
