#!/bin/bash
# Builds the Debian bookworm root of the test system in $E2E_DIR/rootfs with the
# machine's own tools: debootstrap (minbase, systemd, udev, kmod) from the mirror the
# host's apt uses, then Debian's kernel and dracut installed in the chroot, a test
# user (uid 1000) and a few fixtures. Cached: rebuilt only when this script changes.
# Our binary, dracut module and the initramfs are added by build-image.sh.
set -euo pipefail
# shellcheck source=tests/e2e/lib-e2e.sh
. "$(dirname "$0")/lib-e2e.sh"

key=$(e2e_hash "$0" ${E2E_VARIANT_FILE:+"$E2E_VARIANT_FILE"})
root=$E2E_DIR/rootfs
if [ -f "$E2E_DIR/rootfs.key" ] && [ "$(cat "$E2E_DIR/rootfs.key")" = "$key" ] && [ -d "$root" ]; then
	e2e_log "rootfs: cached ($root)"
	exit 0
fi
[ "$(id -u)" = 0 ] || e2e_die "building the test root needs root"
mirror=$(e2e_mirror) || e2e_die "no Debian $E2E_SUITE 'main' entry in the host's apt sources"
start=$(date +%s)
mkdir -p "$E2E_CACHE/debs"
rm -rf "$root" "$root.tmp" "$E2E_DIR/rootfs.key"
mkdir -p "$root.tmp"

e2e_log "rootfs: debootstrap $E2E_SUITE (minbase) into $root.tmp"
debootstrap --variant=minbase --cache-dir="$E2E_CACHE/debs" \
	--include="${E2E_INCLUDE:-systemd-sysv,udev,kmod,dbus,attr,acl,libcap2-bin,procps}" \
	"$E2E_SUITE" "$root.tmp" "$mirror" >"$E2E_DIR/debootstrap.log" 2>&1 ||
	{ tail -30 "$E2E_DIR/debootstrap.log" >&2; e2e_die "debootstrap failed (log: $E2E_DIR/debootstrap.log)"; }

# The kernel's package wants "initramfs-tools | linux-initramfs-tool": asking for
# dracut explicitly makes apt take dracut (it conflicts with initramfs-tools). A
# trimmed module list keeps the image the kernel's postinst builds (and ours) small.
mkdir -p "$root.tmp/etc/dracut.conf.d"
cat >"$root.tmp/etc/dracut.conf.d/10-e2e.conf" <<CONF
# ephemeral e2e test system: a generic (not host-only) systemd initramfs.
hostonly="no"
dracutmodules=" ${E2E_DRACUT_MODULES:-systemd systemd-initrd dracut-systemd base fs-lib rootfs-block kernel-modules udev-rules shutdown} "
compress="gzip"
CONF
cat >"$root.tmp/usr/sbin/policy-rc.d" <<'SH'
#!/bin/sh
exit 101
SH
chmod 755 "$root.tmp/usr/sbin/policy-rc.d"

e2e_log "rootfs: installing linux-image-amd64, dracut ${E2E_APT_PACKAGES:+and $E2E_APT_PACKAGES }in the chroot"
# shellcheck disable=SC2016 # expanded by the inner shell
unshare -m --propagation private sh -euc '
	r=$1
	mount -t proc proc "$r/proc"
	mount --rbind /sys "$r/sys"
	mount --rbind /dev "$r/dev"
	cp -L /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null || true
	chroot "$r" env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get install -y -q \
		--no-install-recommends dracut linux-image-amd64 $2
	chroot "$r" apt-get clean
' sh "$root.tmp" "${E2E_APT_PACKAGES:-}" >"$E2E_DIR/apt.log" 2>&1 ||
	{ tail -30 "$E2E_DIR/apt.log" >&2; e2e_die "installing the kernel/dracut failed (log: $E2E_DIR/apt.log)"; }
rm -f "$root.tmp/usr/sbin/policy-rc.d" "$root.tmp/etc/resolv.conf"

# A smaller image and initramfs boot and copy faster: keep only the kernel modules
# a virtio guest with ext4 and overlayfs loads, and no documentation.
kver=$(basename "$(echo "$root.tmp"/usr/lib/modules/*)")
(cd "$root.tmp/usr/lib/modules/$kver/kernel" && find . -name '*.ko*' |
	grep -vE '^\./(arch|virt|crypto|lib|block|fs/(ext4|jbd2|overlayfs|autofs|fat|nls)|fs/mbcache|drivers/(block|virtio|char|md|acpi))/|^\./fs/mbcache\.ko' |
	xargs -r rm -f)
chroot "$root.tmp" depmod "$kver"
rm -rf "$root.tmp/usr/share/doc" "$root.tmp/usr/share/man" "$root.tmp/usr/share/locale" "$root.tmp/boot/initrd.img-$kver"

e2e_log "rootfs: configuring"
echo e2e >"$root.tmp/etc/hostname"
printf '/dev/vda / ext4 rw,relatime 0 1\n' >"$root.tmp/etc/fstab"
chroot "$root.tmp" passwd -qd root
chroot "$root.tmp" useradd -m -u 1000 -s /bin/bash test
# Fixtures the scenarios modify or delete (they exist on disk before the first boot).
mkdir -p "$root.tmp/etc/e2e-fixture/sub" "$root.tmp/etc/e2e-gone-dir/deep"
echo keep >"$root.tmp/etc/e2e-fixture/keep"
echo old >"$root.tmp/etc/e2e-fixture/modify"
echo bye >"$root.tmp/etc/e2e-fixture/delete"
echo sub >"$root.tmp/etc/e2e-fixture/sub/file"
echo xattr >"$root.tmp/etc/e2e-fixture/user-xattr"
setfattr -n user.e2e -v lower "$root.tmp/etc/e2e-fixture/user-xattr"
echo gone >"$root.tmp/etc/e2e-gone-dir/deep/file"
echo 'old log line' >"$root.tmp/var/log/e2e-old.log"
echo 'log to delete' >"$root.tmp/var/log/e2e-delete.log"
# `make vm`: root logs in on the serial console at once. Scenario boots (and the
# demo) have ephemeral_test= on the command line and keep the console to themselves.
mkdir -p "$root.tmp/etc/systemd/system/serial-getty@ttyS0.service.d"
cat >"$root.tmp/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf" <<'UNIT'
[Unit]
ConditionKernelCommandLine=!ephemeral_test

[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200,57600,38400,9600 %I $TERM
UNIT

if declare -F variant_configure >/dev/null; then variant_configure "$root.tmp"; fi

mv "$root.tmp" "$root"
echo "$key" >"$E2E_DIR/rootfs.key"
e2e_log "rootfs: built in $(($(date +%s) - start)) s"
