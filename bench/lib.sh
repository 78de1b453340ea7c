#!/bin/bash
# Shared helpers for the benchmarks in bench/ (source it from bash). Benchmarks
# install what they need themselves (need_pkgs), run standalone and print
# measurements only: no thresholds, no pass/fail.

TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
EPHEMERAL=${EPHEMERAL:-$TOP/build/ephemeral}

# need_root: skip (exit 77) unless root; the benchmarks mount filesystems.
need_root() { [ "$(id -u)" = 0 ] || { echo "# skipped: needs root" >&2; exit 77; }; }

# need_pkgs PKG...: install the Debian packages of the list that are missing.
need_pkgs() {
	local p missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "# installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null || true
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		{ echo "need_pkgs: could not install ${missing[*]}" >&2; exit 111; }
}

# need_ephemeral: build build/ephemeral unless $EPHEMERAL already exists.
need_ephemeral() {
	[ -x "$EPHEMERAL" ] && return 0
	need_pkgs gcc make pkg-config libkmod-dev libblkid-dev
	make -C "$TOP" -s >/dev/null || { echo "need_ephemeral: make failed" >&2; exit 111; }
}

# in_private_mount_ns "$@": re-exec the calling script in a private mount
# namespace, so every mount it makes disappears with it.
in_private_mount_ns() {
	if [ -z "${_EPHEMERAL_BENCH_NS:-}" ]; then
		export _EPHEMERAL_BENCH_NS=1
		exec unshare -m --propagation private "$0" "$@"
	fi
}

# describe_host DIR: kernel, CPUs, RAM, and what kind of disk holds DIR (its
# filesystem, block device, driver, and whether we run in a virtual machine), so a
# reader knows what the numbers were measured on.
describe_host() {
	local mm dev sys driver virt fs wcache
	fs=$(findmnt -n -o FSTYPE -T "$1")
	mm=$(findmnt -n -o MAJ:MIN -T "$1" | tr -d ' ')
	sys=/sys/dev/block/$mm
	# A partition's device link is on its parent disk.
	[ -e "$sys/partition" ] && sys=$(readlink -f "$sys/..")
	dev=$(basename "$(readlink -f "$sys")")
	driver=$(basename "$(readlink -f "$sys/device/driver" 2>/dev/null)" 2>/dev/null)
	wcache=$(cat "$sys/queue/write_cache" 2>/dev/null)
	virt=physical
	grep -qw hypervisor /proc/cpuinfo && virt="virtual machine (cpu flag 'hypervisor')"
	echo "kernel:  $(uname -r) ($(uname -m)), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) RAM"
	echo "machine: $virt"
	echo "disk:    $fs on /dev/${dev:-?} (driver ${driver:-unknown}, write cache: ${wcache:-unknown})"
	case "$driver" in
	virtio_blk | virtio_scsi | xen_blkfront | vmw_pvscsi | hv_storvsc)
		echo "         a VM's virtual disk: fsync cost depends on the host's storage" ;;
	esac
}

# --- measurement -------------------------------------------------------------
# Every benchmark appends one line per timed run to $BENCH_OUT/NAME.dat:
#   CASE TOOL ROUND WALL_MS USER_S SYS_S MAXRSS_KB BYTES_WRITTEN
# (BYTES_WRITTEN "-" where nothing reaches a disk) and prints its tables; bench/run
# collects them into bench/results.md and the plot.

BENCH_OUT=${BENCH_OUT:-$TOP/build/bench/out}

# bench_start NAME: the data file for NAME ($DAT, emptied) and a header line with
# the load average, which says how busy the machine was.
bench_start() {
	mkdir -p "$BENCH_OUT"
	DAT=$BENCH_OUT/$1.dat
	: >"$DAT"
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
}
bench_end() { echo "load average at end:   $(cut -d' ' -f1-3 /proc/loadavg)"; }

# sectors_written DEV: 512-byte sectors written to block device DEV (e.g. loop3)
# since it was set up, from /sys/block/DEV/stat (field 7).
sectors_written() { awk '{ print $7 }' "/sys/block/$1/stat"; }

# timed DEV SYNC CASE TOOL ROUND CMD...: run CMD under /usr/bin/time (CPU times
# and peak RSS of CMD's process tree: CMD runs directly, so no wrapper shell's RSS
# hides its own), then `sync -f SYNC` unless SYNC is "-"; the wall time covers
# both, as do the bytes written to block device DEV ("-": none measured). Appends
# the line to $DAT. Returns CMD's status (else sync's).
timed() {
	local dev=$1 sync=$2 case=$3 tool=$4 round=$5 t0 t1 s0=0 s1=0 rc bytes=-
	shift 5
	[ "$dev" = - ] || s0=$(sectors_written "$dev")
	t0=$EPOCHREALTIME
	/usr/bin/time -f '%U %S %M' -o "$BENCH_OUT/.time" "$@"
	rc=$?
	[ "$sync" = - ] || sync -f "$sync" || [ "$rc" != 0 ] || rc=$?
	t1=$EPOCHREALTIME
	[ "$dev" = - ] || { s1=$(sectors_written "$dev") && bytes=$(((s1 - s0) * 512)); }
	# The last line: /usr/bin/time puts "Command exited with non-zero status" first.
	echo "$case $tool $round $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }') $(tail -n1 "$BENCH_OUT/.time") $bytes" >>"$DAT"
	return "$rc"
}

# rotated ROUND WORD...: the words rotated left by ROUND-1, so that over the rounds
# each tool runs first, second, ... equally often (interleaved A/B/... runs: a burst
# of load from elsewhere hits one run of every tool, not every run of one tool).
rotated() {
	local r=$1
	shift
	local n=$# i
	local a=("$@")
	for ((i = 0; i < n; i++)); do printf '%s ' "${a[$(((i + r - 1) % n))]}"; done
	echo
}

# summarize DAT CASE REF [TOOL=LABEL...]: a markdown table for CASE: per tool the
# median and min-max wall time over the rounds, the ratio tool/REF of each round
# (median and min-max: > 1 means REF is faster), CPU (user+sys) median and the
# median of its per-round ratio to REF's, peak RSS median and bytes written
# median. Tools appear in the order given. (On a machine short of CPU, CPU time is
# the steadier measure, and a tool that runs as several processes, like rsync's
# three, gets several shares of the CPU: its wall time gains from the load.)
summarize() {
	local dat=$1 case=$2 ref=$3
	shift 3
	echo "| tool | wall ms: median (min–max) | time / $ref: median (min–max) | CPU s | CPU / $ref | peak RSS | written |"
	echo "|---|---|---|---|---|---|---|"
	local spec tool label
	for spec in "$@"; do
		tool=${spec%%=*} label=${spec#*=}
		awk -v c="$case" -v t="$tool" -v ref="$ref" -v label="$label" '
		function median(a, n,   i, j, x) {
			for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
			return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		function minof(a, n,   i, m) { m = a[1]; for (i = 2; i <= n; i++) if (a[i] < m) m = a[i]; return m }
		function maxof(a, n,   i, m) { m = a[1]; for (i = 2; i <= n; i++) if (a[i] > m) m = a[i]; return m }
		function human(b) {
			if (b == "-") return "–"
			if (b >= 1048576) return sprintf("%.1f MiB", b / 1048576)
			return sprintf("%.0f KiB", b / 1024)
		}
		$1 == c && $2 == ref { r[$3] = $4; rc[$3] = $5 + $6 }
		$1 == c && $2 == t { n++; w[n] = $4; cpu[n] = $5 + $6; rss[n] = $7; rd[n] = $3; by[n] = $8 }
		END {
			if (!n) exit
			m = 0
			for (i = 1; i <= n; i++) if (rd[i] in r && r[rd[i]] > 0) { m++; q[m] = w[i] / r[rd[i]] }
			ratio = (t == ref || !m) ? "1" : sprintf("%.2f (%.2f–%.2f)", median(q, m), minof(q, m), maxof(q, m))
			m = 0
			for (i = 1; i <= n; i++) if (rd[i] in rc && rc[rd[i]] > 0) { m++; qc[m] = cpu[i] / rc[rd[i]] }
			cratio = (t == ref || !m) ? "1" : sprintf("%.2f", median(qc, m))
			b = "-"; k = 0
			for (i = 1; i <= n; i++) if (by[i] != "-") { k++; bb[k] = by[i] }
			if (k) b = median(bb, k)
			printf "| %s | %.0f (%.0f–%.0f) | %s | %.2f | %s | %.1f MiB | %s |\n", label,
				median(w, n), minof(w, n), maxof(w, n), ratio, median(cpu, n), cratio,
				median(rss, n) / 1024, human(b)
		}' "$dat"
	done
}

# ratio_line DAT CASE TOOL REF: "CASE TOOL median min max" of the per-round ratios
# REF/TOOL... for the plot: time of TOOL relative to REF (1 = same, > 1 slower).
ratio_line() {
	awk -v c="$2" -v t="$3" -v ref="$4" '
	$1 == c && $2 == ref { r[$3] = $4 }
	$1 == c && $2 == t { n++; w[n] = $4; rd[n] = $3 }
	END {
		m = 0
		for (i = 1; i <= n; i++) if (rd[i] in r && r[rd[i]] > 0) { m++; q[m] = w[i] / r[rd[i]] }
		if (!m) exit
		for (i = 2; i <= m; i++) { x = q[i]; for (j = i - 1; j >= 1 && q[j] > x; j--) q[j + 1] = q[j]; q[j + 1] = x }
		printf "%.3f %.3f %.3f\n", (m % 2 ? q[(m + 1) / 2] : (q[m / 2] + q[m / 2 + 1]) / 2), q[1], q[m]
	}' "$1"
}

# ext4_loop IMAGE SIZE MOUNTPOINT: a fresh ext4 image (with its default journal,
# as an installed system has) on a loop device with direct I/O to the backing file
# (so the host's page cache does not absorb the writes twice), mounted; sets
# LOOPDEV (e.g. /dev/loop3).
ext4_loop() {
	rm -f "$1"
	# Inode tables and journal zeroed now, not by a background thread during the runs.
	truncate -s "$2" "$1" && mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$1" || return 1
	mkdir -p "$3"
	LOOPDEV=$(losetup -f --show --direct-io=on "$1" 2>/dev/null) ||
		LOOPDEV=$(losetup -f --show "$1") || return 1
	mount "$LOOPDEV" "$3"
}

# unmount_below DIR: unmount everything mounted under DIR, deepest first, and
# detach loop devices backed by DIR/*.img.
unmount_below() {
	local m i
	for i in 1 2 3; do
		while read -r m; do umount -l "$m" 2>/dev/null; done < <(awk -v s="$1" 'index($2, s) == 1 { print $2 }' /proc/self/mounts | sort -r)
	done
	for m in "$1"/*.img; do
		[ -e "$m" ] || continue
		losetup -j "$m" | cut -d: -f1 | while read -r i; do losetup -d "$i"; done
	done
}

# median: the median of the numbers on stdin (mean of the two middle ones for an
# even count).
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
