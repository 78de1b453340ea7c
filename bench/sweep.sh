#!/bin/bash
# Benchmark: one sweeping pass over a generated tmpfs tree of BENCH_FILES (default
# 100000) files in dirs of 100, 90 % stale and 10 % fresh, by `ephemeral-sweep --once`,
# by `systemd-tmpfiles --clean` with the equivalent config (an `e` line with an age)
# and by `find -mmin +0 -delete`. The stale part is "everything already in the past":
# fresh files get an mtime 10 minutes in the future, so all three tools make the same
# selection (ephemeral via --now two minutes ahead with --age 1; tmpfiles with age 1s
# after a 2 s pause; find with -mmin +0). They do not do the same work: ephemeral
# also proves each file unused (a lease per file, one /proc scan per pass), re-checks
# it on the open fd and restores directory times; tmpfiles checks flock and times;
# find checks mtime only. Prints the median of BENCH_RUNS (default 3) runs and ratios.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 111
TOP=$PWD
SWEEP=${EPHEMERAL_SWEEP:-$TOP/build/ephemeral-sweep}
[ "$(id -u)" = 0 ] || { echo "sweep.sh: needs root"; exit 77; }
[ -x "$SWEEP" ] || { echo "sweep.sh: build first (make)"; exit 111; }
if ! command -v systemd-tmpfiles >/dev/null; then
	echo "sweep.sh: installing systemd (for systemd-tmpfiles)" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null ||
		{ echo "sweep.sh: systemd-tmpfiles is needed"; exit 111; }
fi
if [ -z "${_BENCH_IN_NS:-}" ]; then
	export _BENCH_IN_NS=1
	exec unshare -m --propagation private "$0" "$@"
fi
files=${BENCH_FILES:-100000}
runs=${BENCH_RUNS:-3}
mkdir -p "$TOP/build/bench"
W=$(mktemp -d "$TOP/build/bench/sweep.XXXXXX")
trap 'umount -l "$W/t" 2>/dev/null; rm -rf "$W"' EXIT
mkdir "$W/t"
mount -t tmpfs -o size=2G,mode=1777,nodev,nosuid tmpfs "$W/t" # as ephemeral mounts them
T=$W/t/tree

generate() {
	rm -rf "$T"
	python3 - "$T" "$files" <<'PY'
import os, sys, time
root, n = sys.argv[1], int(sys.argv[2])
fresh = time.time() + 600
os.mkdir(root)
for i in range(n):
    d = os.path.join(root, "d%04d" % (i // 100))
    if i % 100 == 0:
        os.mkdir(d)
    p = os.path.join(d, "f%d" % i)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, b"x" * 64)
    os.close(fd)
    if i % 10 == 0:
        os.utime(p, (fresh, fresh))
PY
	sleep 2 # tmpfiles' and find's ages are real time: let the stale part age
}

now() { date +%s.%N; }
printf 'e %s - - - 1s\n' "$T" >"$W/tmpfiles.conf"
run_tool() {
	case $1 in
	ephemeral) "$SWEEP" --once --now $(($(date +%s) + 120)) --age 1 --config /dev/null \
		--cmdline /dev/null "$T" 2>/dev/null ;;
	tmpfiles) systemd-tmpfiles --clean "$W/tmpfiles.conf" 2>/dev/null ;;
	find) find "$T" -mindepth 1 -mmin +0 -delete 2>/dev/null ;;
	esac
}

declare -A times
for tool in ephemeral tmpfiles find; do
	samples=()
	for _ in $(seq "$runs"); do
		generate
		t0=$(now)
		run_tool "$tool"
		t1=$(now)
		samples+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')")
		left=$(find "$T" -type f | wc -l)
		[ "$left" = $((files / 10)) ] || echo "# note: $tool left $left files (expected $((files / 10)))"
	done
	times[$tool]=$(printf '%s\n' "${samples[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p")
done

printf '%-34s %10s %8s\n' "one pass, $files files (90 % stale)" "seconds" "ratio"
for tool in ephemeral tmpfiles find; do
	printf '%-34s %10.3f %8.2f\n' "$tool" "${times[$tool]}" \
		"$(awk -v a="${times[$tool]}" -v b="${times[ephemeral]}" 'BEGIN { print a / b }')"
done
echo "(ratio = tool time / ephemeral-sweep time; > 1 means ephemeral-sweep is faster)"
