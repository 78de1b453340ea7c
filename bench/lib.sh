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
