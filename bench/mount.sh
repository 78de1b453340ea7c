#!/bin/bash
# Benchmark: the boot cost of `ephemeral mount` with the default configuration
# (store tmpfs, overlays on /etc and /var/log, tmpfs on /tmp, /var/tmp, /var/cache),
# on a scratch root in a private mount namespace, the overlay module already
# loaded (the module load is the kernel's, not ours). BENCH_RUNS (default 20)
# mounts, each undone before the next, interleaved with the same fork+exec of
# /bin/true (the floor). Also prints the syscall profile of one mount (strace -c).
#
# The same cost in a real boot: tests/e2e/ boots a guest whose console log
# (build/e2e/run/default.console, or BENCH_CONSOLE) carries kernel timestamps;
# the lines `ephemeral mount` writes to /dev/kmsg ("ephemeral: ...") bracket its
# work. They are printed here when such a log exists. Under QEMU TCG (no KVM)
# every instruction is emulated, so those times are an upper bound many times the
# native cost.
set -uo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
need_root
need_pkgs time strace util-linux
need_ephemeral
in_private_mount_ns "$@"

runs=${BENCH_RUNS:-20}
mkdir -p "$TOP/build/bench"
W=$(realpath "$(mktemp -d "$TOP/build/bench/mount.XXXXXX")") # real path: mounts are matched by it
trap 'cd /; unmount_below "$W"; rm -rf "$W"' EXIT
R=$W/root
mkdir -p "$R/etc" "$R/var/log" "$R/tmp" "$R/var/tmp" "$R/var/cache" "$W/store"
printf 'x\n' >"$R/etc/hostname"
: >"$W/cmdline"
cmd=("$EPHEMERAL" mount --root "$R" --store "$W/store" --cmdline "$W/cmdline" --config /dev/null)

# once CMD...: "WALL_MS CPU_MS" of one run (bash's time: wall clock, and user+sys
# from the kernel's exact runtime accounting; /usr/bin/time would round to 10 ms).
once() {
	local TIMEFORMAT='%3R %3U %3S' out
	out=$({ time "$@" >/dev/null 2>"$W/err"; } 2>&1) || { echo "# failed: $*" >&2; head -5 "$W/err" >&2; }
	awk '{ printf "%.1f %.1f\n", $1 * 1000, ($2 + $3) * 1000 }' <<<"$out"
}

bench_start mount
# Real-time priority for this script and what it starts, as in an initramfs where
# nothing else competes: on a busy machine the wall time would otherwise measure
# the run queue. Both sides of the comparison get it.
chrt -f -p 10 $$ >/dev/null 2>&1 && echo "scheduling: SCHED_FIFO 10 (chrt)" || echo "scheduling: normal (chrt failed)"
for r in $(seq 1 "$runs"); do
	# shellcheck disable=SC2046 # two words
	for t in $(rotated "$r" ephemeral true); do
		case $t in
		ephemeral)
			echo "mount ephemeral $r $(once "${cmd[@]}")" >>"$DAT"
			mountpoint -q "$R/etc" || echo "# round $r: /etc is not mounted"
			unmount_below "$R"
			umount "$W/store" 2>/dev/null
			;;
		true) echo "mount true $r $(once /bin/true)" >>"$DAT" ;;
		esac
	done
done
/usr/bin/time -f %M -o "$W/rss" "${cmd[@]}" 2>/dev/null
unmount_below "$R"
umount "$W/store" 2>/dev/null
echo
echo "Default configuration, $runs interleaved rounds (fork+exec from bash included):"
echo
echo "| | wall ms: median (min–max) | CPU ms (user+sys): median (min–max) |"
echo "|---|---|---|"
for t in ephemeral true; do
	label="ephemeral mount (peak RSS $(awk '{ printf "%.1f MiB", $1 / 1024 }' "$W/rss"))"
	[ "$t" = true ] && label="/bin/true (the fork+exec floor)"
	w=$(awk -v t="$t" '$2 == t { print $4 }' "$DAT" | sort -g | awk '{ v[NR] = $1 } END { printf "%s–%s", v[1], v[NR] }')
	c=$(awk -v t="$t" '$2 == t { print $5 }' "$DAT" | sort -g | awk '{ v[NR] = $1 } END { printf "%s–%s", v[1], v[NR] }')
	echo "| $label | $(awk -v t="$t" '$2 == t { print $4 }' "$DAT" | median) ($w) | $(awk -v t="$t" '$2 == t { print $5 }' "$DAT" | median) ($c) |"
done
e=$(awk '$2 == "ephemeral" { print $4 }' "$DAT" | median)
f=$(awk '$2 == "true" { print $4 }' "$DAT" | median)
awk -v e="$e" -v f="$f" 'BEGIN { printf "\nMedian wall time above the floor: %.1f ms.\n", e - f }'
echo
echo "Syscalls of one mount (strace -c -f; strace slows every call, so only the counts matter):"
echo
strace -c -f -o "$W/strace" "${cmd[@]}" 2>/dev/null
unmount_below "$R"
echo '```'
awk 'NR <= 2 || / total$/ || (NR > 2 && NR <= 14)' "$W/strace"
echo '```'

console=${BENCH_CONSOLE:-$TOP/build/e2e/run/default.console}
if [ -f "$console" ]; then
	echo
	echo "In a QEMU TCG boot ($(basename "$console"), kernel timestamps of ephemeral's kmsg lines before the switch to the real root):"
	echo
	echo '```'
	awk '/Switch Root/ { exit } /^\[ *[0-9.]+\] ephemeral: / { print }' "$console" | cut -c1-110
	echo '```'
	awk '/Switch Root/ { exit } /^\[ *[0-9.]+\] ephemeral: / { t = substr($0, 2, index($0, "]") - 2) + 0; if (!n++) a = t; b = t }
		END { if (n > 1) printf "\nFirst to last: %.0f ms (an emulated CPU: an upper bound, not the native cost).\n", (b - a) * 1000 }' "$console"
fi
bench_end
