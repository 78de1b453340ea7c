#!/bin/bash
# What `ephemeral mount` buys for writes, side by side in one run. The same three
# workloads on four targets:
#   disk              the machine's disk (a scratch dir under build/)
#   tmpfs             a plain tmpfs
#   overlay           overlayfs on a tmpfs upper, ephemeral's options minus volatile
#   overlay+volatile  exactly what `ephemeral mount` mounts
# Workloads: 4 KiB random writes with fsync after each (fio), 1 MiB appends with
# fsync after each, like a logger (fio), and a package manager's small-file pattern
# (write NAME.new, fsync, rename to NAME; bench/smallfiles.c). The table shows
# medians of a few rounds and ratios to the disk. A measurement, not a test:
# nothing passes or fails. Usage: bench/overlay.sh (as root).
# Knobs: BENCH_SECONDS (default 3) caps each run, BENCH_FILES (default 20000) is
# the small-file count, BENCH_ROUNDS (default 3) the runs per cell.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

SECONDS_PER_RUN=${BENCH_SECONDS:-3}
SMALL_FILES=${BENCH_FILES:-20000}
SMALL_SIZE=1024
ROUNDS=${BENCH_ROUNDS:-3}

need_root
need_pkgs fio gcc util-linux
need_ephemeral
in_private_mount_ns "$@"

mkdir -p "$TOP/build/bench"
SCRATCH=$(mktemp -d "$TOP/build/bench/overlay.XXXXXX")
cleanup() {
	local t
	findmnt -rn -o TARGET | awk -v d="$SCRATCH" 'index($0, d) == 1' | sort -r |
		while read -r t; do umount -l "$(printf '%b' "$t")"; done
	rm -rf "$SCRATCH"
}
trap cleanup EXIT

die() { echo "overlay.sh: $*" >&2; exit 111; }

SMALLFILES=$SCRATCH/smallfiles
cc -std=gnu11 -O2 -Wall -Wextra -Werror -o "$SMALLFILES" "$TOP/bench/smallfiles.c"

# --- the four targets ---------------------------------------------------------
R=$SCRATCH/root STORE=$SCRATCH/store
mkdir -p "$SCRATCH/disk" "$SCRATCH/tmpfs" "$R/etc" "$R/var/log"
mount -t tmpfs -o mode=0755 tmpfs "$SCRATCH/tmpfs"
echo "ephemeral.tmpfs=none" >"$SCRATCH/cmdline"
"$EPHEMERAL" mount --root "$R" --store "$STORE" --cmdline "$SCRATCH/cmdline" \
	--config /dev/null 2>"$SCRATCH/mount.log" ||
	{ cat "$SCRATCH/mount.log" >&2; die "ephemeral mount failed"; }
if ! mountpoint -q "$R/etc" || ! mountpoint -q "$R/var/log"; then
	cat "$SCRATCH/mount.log" >&2
	die "ephemeral mount did not mount both overlays"
fi

# /etc stays exactly as ephemeral mounted it. /var/log is remounted with the
# options ephemeral recorded in its state file minus volatile, on a fresh upper
# and workdir made like ephemeral makes them (a workdir once used with volatile
# is refused, and a fresh upper makes the kernel pick the same uuid= default).
options_of() { awk -v p="path=$1" '$1 == "dir" && $2 == p { for (i = 3; i <= NF; i++) if ($i ~ /^options=/) print substr($i, 9) }' "$STORE/state"; }
volatile_opts=$(options_of /var/log)
[ -n "$volatile_opts" ] || die "no options for /var/log in $STORE/state"
plain_opts=$(printf '%s\n' "$volatile_opts" | sed 's/,volatile\(,\|$\)/\1/')
umount "$R/var/log"
rm -rf "${STORE:?}/var-log/upper" "$STORE/var-log/work"
mkdir -m 0700 "$STORE/var-log/upper" "$STORE/var-log/work"
chown --reference="$R/var/log" "$STORE/var-log/upper"
chmod --reference="$R/var/log" "$STORE/var-log/upper"
mount -t overlay overlay -o "$plain_opts" "$R/var/log"

targets=(disk tmpfs overlay overlay+volatile)
declare -A dir_of=([disk]=$SCRATCH/disk [tmpfs]=$SCRATCH/tmpfs
	[overlay]=$R/var/log [overlay+volatile]=$R/etc)

# Mount options as the kernel shows them, without the long layer paths.
shown_opts() { findmnt -n -o OPTIONS --mountpoint "$1" | tr ',' '\n' | grep -v 'dir=' | paste -sd, -; }

echo "# ephemeral mount vs disk and tmpfs: writes ($(date -u '+%F %H:%M UTC'))"
describe_host "$SCRATCH/disk"
echo "fio:     $(fio --version), ioengine psync, 1 job, queue depth 1"
echo "runs:    each capped at ${SECONDS_PER_RUN}s; small files: up to $SMALL_FILES per run"
for t in overlay overlay+volatile; do
	printf '%-17s overlay, %s\n' "$t:" "$(shown_opts "${dir_of[$t]}")"
done
[[ $volatile_opts == *volatile* ]] ||
	echo "note: ephemeral mount did not use volatile: the last column is what it mounts, without it"
echo

# --- workloads: each prints one number ----------------------------------------
# fio --output-format=terse (version 3): field 48 is write bandwidth in KiB/s,
# field 49 write IOPS.
fio_field() {
	local field=$1
	shift
	fio --output-format=terse --terse-version=3 --ioengine=psync --numjobs=1 --unlink=1 "$@" |
		awk -F';' -v f="$field" 'END { print $f }'
}
randwrite() {
	fio_field 49 --name=randwrite --directory="$1" --rw=randwrite --bs=4k --size=64M \
		--fsync=1 --time_based --runtime="$SECONDS_PER_RUN"
}
append() {
	# A fresh file, no preallocation: every write extends it, as a logger's does.
	fio_field 48 --name=append --directory="$1" --rw=write --bs=1M --size=1G \
		--fsync=1 --fallocate=none --file_append=1 --runtime="$SECONDS_PER_RUN" |
		awk '{ printf "%.0f\n", $1 / 1024 }'
}
smallfiles() {
	local out
	mkdir "$1/small"
	out=$("$SMALLFILES" "$1/small" "$SMALL_FILES" "$SMALL_SIZE" "$SECONDS_PER_RUN") || return
	rm -rf "$1/small"
	awk '{ printf "%.0f\n", $1 / $2 }' <<<"$out"
}

# median N...: the middle value (the lower middle one of an even count).
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A result
workloads=(randwrite append smallfiles)
declare -A label=([randwrite]="4 KiB random write + fsync" [append]="1 MiB append + fsync"
	[smallfiles]="1 KiB file write+fsync+rename")
declare -A unit=([randwrite]=IOPS [append]=MiB/s [smallfiles]=files/s)

# Rounds go across the targets, so a burst of load from elsewhere on the machine
# hits one round of every target rather than every round of one.
declare -A runs
for w in "${workloads[@]}"; do
	for ((round = 1; round <= ROUNDS; round++)); do
		for t in "${targets[@]}"; do
			sync # nothing of the previous run left to write back during this one
			v=$("$w" "${dir_of[$t]}") || v=
			[[ $v =~ ^[0-9]+$ ]] || die "$w on $t: no result"
			runs[$w,$t]+=" $v"
			printf '# round %d %-11s %-17s %10s %s\n' "$round" "$w" "$t" "$v" "${unit[$w]}" >&2
		done
	done
	for t in "${targets[@]}"; do
		# shellcheck disable=SC2086 # the runs are a blank-separated list of numbers
		result[$w,$t]=$(median ${runs[$w,$t]})
	done
done

# --- the table ------------------------------------------------------------------
echo "Median of $ROUNDS rounds; higher is better; (x) = ratio to the disk."
printf '%-36s %-8s' workload unit
for t in "${targets[@]}"; do printf ' %18s' "$t"; done
echo
for w in "${workloads[@]}"; do
	printf '%-36s %-8s' "${label[$w]}" "${unit[$w]}"
	base=${result[$w,disk]}
	for t in "${targets[@]}"; do
		v=${result[$w,$t]}
		if [ "$t" = disk ]; then
			printf ' %18s' "$v"
		else
			printf ' %18s' "$v ($(awk -v a="$v" -v b="$base" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }'))"
		fi
	done
	echo
done
