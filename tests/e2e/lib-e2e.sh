#!/bin/bash
# Shared pieces of the end-to-end machinery: where the cached artifacts live, how to
# find the Debian mirror, how to boot the test system and how to look into its disk
# image from the host. Source it (after tests/lib/lib.sh when TAP helpers are needed).

TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# shellcheck disable=SC2034 # used by the scripts that source this file
E2E_SRC=$TOP/tests/e2e
# E2E_VARIANT selects the guest: "systemd" (the default; artifacts in build/e2e) or a
# tests/e2e/variant-NAME.sh that sets what differs (packages, init, initramfs
# modules; artifacts in build/e2e/NAME). Downloaded packages are shared.
E2E_VARIANT=${E2E_VARIANT:-systemd}
E2E_CACHE=${E2E_CACHE:-$TOP/build/e2e}
if [ "$E2E_VARIANT" = systemd ]; then
	E2E_DIR=${E2E_DIR:-$E2E_CACHE}
else
	E2E_DIR=${E2E_DIR:-$E2E_CACHE/$E2E_VARIANT}
	E2E_VARIANT_FILE=$E2E_SRC/variant-$E2E_VARIANT.sh
	[ -f "$E2E_VARIANT_FILE" ] || { echo "e2e: error: no $E2E_VARIANT_FILE" >&2; exit 1; }
	# shellcheck source=/dev/null
	. "$E2E_VARIANT_FILE"
fi
E2E_SUITE=bookworm
# QEMU's TCG is slow: a boot takes ~40 s, a boot plus flush and poweroff ~60 s on an idle
# host; a loaded one needed over 300 s for the two boots of the reboot scenario.
E2E_BOOT_TIMEOUT=${E2E_BOOT_TIMEOUT:-600}

e2e_log() { echo "e2e: $*" >&2; }
e2e_die() { echo "e2e: error: $*" >&2; exit 1; }

# e2e_mirror: prints the URI of the Debian archive the host's apt uses for
# $E2E_SUITE (deb822 .sources files first, then one-line sources.list entries), so
# that no host name is ever written into the repository.
e2e_mirror() {
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		uri=$(awk -v suite="$E2E_SUITE" '
			BEGIN { RS = ""; FS = "\n" }
			{
				types = ""; uris = ""; suites = ""; comps = ""
				for (i = 1; i <= NF; i++) {
					if ($i ~ /^Types:/) types = $i
					else if ($i ~ /^URIs:/) uris = $i
					else if ($i ~ /^Suites:/) suites = $i
					else if ($i ~ /^Components:/) comps = $i
				}
				if (types ~ /[ \t]deb([ \t]|$)/ && comps ~ /[ \t]main([ \t]|$)/ &&
				    (" " suites " ") ~ ("[ \t]" suite "[ \t]")) {
					sub(/^URIs:[ \t]*/, "", uris); split(uris, u, /[ \t]+/)
					print u[1]; exit
				}
			}' "$f")
		[ -n "$uri" ] && { echo "$uri"; return 0; }
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		uri=$(awk -v suite="$E2E_SUITE" '
			$1 == "deb" {
				i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
				if ($(i + 1) == suite) { for (j = i + 2; j <= NF; j++) if ($j == "main") { print $i; exit } }
			}' "$f")
		[ -n "$uri" ] && { echo "$uri"; return 0; }
	done
	return 1
}

# e2e_no_hwclock_at_shutdown INST: initscripts' hwclock.sh writes /etc/adjtime when it
# stops, i.e. at shutdown, after the guest took its manifest of /etc: the guest's RTC
# is QEMU's, leave it alone (hwclock.sh sources this file inside its function).
e2e_no_hwclock_at_shutdown() {
	install -Dm644 /dev/stdin "$1/etc/default/hwclock" <<'CONF'
# ephemeral e2e guest: no RTC writes (they change /etc/adjtime at shutdown)
exit 0
CONF
}

# e2e_hash FILE...: one hash over the contents of the given files (in order).
e2e_hash() { cat "$@" | sha256sum | cut -c1-16; }

# e2e_boot NAME IMAGE CMDLINE [--shell|--visible|--reboot]: boots the test system
# on IMAGE (raw, writable) with the given extra kernel command line. The console
# (ttyS0) goes to $E2E_RUN/NAME.console (or the terminal with --visible/--shell),
# whatever the guest writes to ttyS1 to $E2E_RUN/NAME.result. Without --reboot a
# guest reboot ends QEMU. Returns QEMU's exit status (124 on timeout).
e2e_boot() {
	local name=$1 img=$2 cmdline=$3 mode=${4:-} console result
	local -a args
	console=$E2E_RUN/$name.console
	result=$E2E_RUN/$name.result
	: >"$result"
	args=(-accel tcg -m 1G -smp 1 -nodefaults -no-user-config -display none
		-kernel "$E2E_DIR/vmlinuz" -initrd "${E2E_INITRD:-$E2E_DIR/initrd.img}"
		-append "root=/dev/vda rw console=ttyS0 panic=-1 $cmdline"
		-drive "file=$img,format=raw,if=virtio,cache=unsafe"
		-device virtio-rng-pci -pidfile "$E2E_RUN/$name.pid")
	[ "$mode" = --reboot ] || args+=(-no-reboot)
	case "$mode" in
	--visible | --shell)
		args+=(-serial mon:stdio -serial "file:$result")
		qemu-system-x86_64 "${args[@]}"
		;;
	*)
		args+=(-serial "file:$console" -serial "file:$result")
		timeout -k 10 "$E2E_BOOT_TIMEOUT" qemu-system-x86_64 "${args[@]}" </dev/null
		;;
	esac
}

# in_image IMAGE CMD...: runs CMD with the ext4 IMAGE mounted read-only (noload: the
# journal is not replayed, nothing is written) at $IMG_ROOT, in a private mount
# namespace so nothing leaks to the host.
in_image() {
	local img=$1
	shift
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare -m --propagation private sh -c '
		img=$1; shift
		IMG_ROOT=$(mktemp -d) && export IMG_ROOT || exit 1
		mount -o ro,noload,loop "$img" "$IMG_ROOT" || exit 1
		"$@"; rc=$?
		umount "$IMG_ROOT"; rmdir "$IMG_ROOT"
		exit $rc' sh "$img" "$@"
}

# image_manifest IMAGE DIR: the manifest (tests/lib/manifest.c) of DIR in IMAGE.
image_manifest() {
	# shellcheck disable=SC2016 # expanded by the inner shell
	in_image "$1" sh -c '"$0" "$IMG_ROOT$1"' "$TOP/build/tests/manifest" "$2"
}

# image_xattr IMAGE PATH NAME: the value of xattr NAME of PATH in IMAGE.
image_xattr() {
	# shellcheck disable=SC2016 # expanded by the inner shell
	in_image "$1" sh -c 'getfattr --absolute-names --only-values -n "$1" "$IMG_ROOT$0"' "$2" "$3"
}

# image_cat IMAGE PATH: the content of PATH in IMAGE (fails when it does not exist).
image_cat() {
	# shellcheck disable=SC2016 # expanded by the inner shell
	in_image "$1" sh -c 'cat "$IMG_ROOT$0"' "$2"
}
