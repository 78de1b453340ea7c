#!/bin/bash
# The Debian/Ubuntu way, as a user does it: a Debian bookworm system WITH
# initramfs-tools and WITHOUT dracut (the cached root of build-rootfs.sh, with
# initramfs-tools installed in the chroot, which removes dracut), then the .deb that
# dpkg-buildpackage built (build-deb.sh) installed with `apt install ./ephemeral_*.deb`:
# its postinst rebuilds the initramfs. The kernel's postinst path
# (/etc/kernel/postinst.d/initramfs-tools) then builds the image that boots, from
# scratch, so a kernel upgrade is known to carry the hook too.
# Results in $E2E_DIR/initramfs-tools: base.img, vmlinuz, initrd.img (each cached,
# rebuilt only when its inputs change).
set -euo pipefail
# shellcheck source=tests/e2e/lib-e2e.sh
. "$(dirname "$0")/lib-e2e.sh"

IMAGE_SIZE=1536M
base_root=$E2E_DIR/rootfs
dir=$E2E_DIR/initramfs-tools
mkdir -p "$dir"
[ "$(id -u)" = 0 ] || e2e_die "building the test image needs root"

"$E2E_SRC/build-rootfs.sh"
deb=$("$E2E_SRC/build-deb.sh")
make -C "$TOP" -s build/tests/manifest >/dev/null

# in_chroot ROOT CMD...: CMD in ROOT with /proc, /sys and /dev, in a private mount
# namespace.
in_chroot() {
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare -m --propagation private sh -euc '
		r=$1; shift
		mount -t proc proc "$r/proc"
		mount --rbind /sys "$r/sys"
		mount --rbind /dev "$r/dev"
		exec chroot "$r" env DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"
	' sh "$@"
}

# 1. The root without dracut, with initramfs-tools (and busybox, as Debian installs
#    it by default) and its initramfs: a Debian system as it comes.
root=$dir/rootfs
root_key=$( (cat "$E2E_DIR/rootfs.key"; sed -n '/^# 1\./,/^# 2\./p' "$0") | sha256sum | cut -c1-16)
if [ -f "$dir/rootfs.key" ] && [ "$(cat "$dir/rootfs.key")" = "$root_key" ] && [ -d "$root" ]; then
	e2e_log "initramfs-tools root: cached ($root)"
else
	e2e_log "initramfs-tools root: apt-get install initramfs-tools busybox (removes dracut)"
	rm -rf "$root" "$root.tmp" "$dir/rootfs.key"
	cp -a "$base_root" "$root.tmp"
	cp -L /etc/resolv.conf "$root.tmp/etc/resolv.conf" 2>/dev/null || true
	printf '#!/bin/sh\nexit 101\n' >"$root.tmp/usr/sbin/policy-rc.d"
	chmod 755 "$root.tmp/usr/sbin/policy-rc.d"
	in_chroot "$root.tmp" sh -euc '
		apt-get install -y -q --no-install-recommends initramfs-tools busybox
		apt-get purge -y -q dracut dracut-core || true
		apt-get clean
		update-initramfs -c -k all' >"$dir/apt.log" 2>&1 ||
		{ tail -30 "$dir/apt.log" >&2; e2e_die "installing initramfs-tools failed (log: $dir/apt.log)"; }
	rm -rf "$root.tmp/etc/dracut.conf.d" "$root.tmp/usr/sbin/policy-rc.d" "$root.tmp/etc/resolv.conf"
	[ ! -e "$root.tmp/usr/bin/dracut" ] || e2e_die "dracut is still installed in $root.tmp"
	mv "$root.tmp" "$root"
	echo "$root_key" >"$dir/rootfs.key"
fi

# 2. The package installed as a user does it: apt install ./ephemeral_<version>_<arch>.deb
#    (its postinst runs update-initramfs -u -k all); then the kernel's postinst path,
#    as after a kernel upgrade, builds the image that boots from scratch.
inst=$dir/installed
inst_key=$( (echo "$root_key"; sha256sum <"$deb"; sed -n '/^# 2\./,/^# 3\./p' "$0") | sha256sum | cut -c1-16)
if [ -f "$dir/installed.key" ] && [ "$(cat "$dir/installed.key")" = "$inst_key" ] && [ -d "$inst" ] &&
	[ -f "$dir/initrd.img" ] && [ -f "$dir/vmlinuz" ]; then
	e2e_log "initramfs-tools: package installed: cached ($inst)"
else
	rm -rf "$inst" "$inst.tmp" "$dir/installed.key"
	cp -a "$root" "$inst.tmp"
	kver=$(basename "$(echo "$inst.tmp"/usr/lib/modules/*)")
	cp "$deb" "$inst.tmp/tmp/"
	e2e_log "initramfs-tools: apt install ./${deb##*/} (in the chroot)"
	# shellcheck disable=SC2016 # expanded by the inner shell
	in_chroot "$inst.tmp" sh -euc 'cd /tmp && apt install -y ./"$1"' sh "${deb##*/}" >"$dir/install.log" 2>&1 ||
		{ tail -30 "$dir/install.log" >&2; e2e_die "apt install of the .deb failed (log: $dir/install.log)"; }
	rm -f "$inst.tmp/tmp/${deb##*/}"
	grep -q "update-initramfs: Generating /boot/initrd.img-$kver" "$dir/install.log" ||
		e2e_die "the package's postinst did not rebuild the initramfs (log: $dir/install.log)"
	rm -f "$inst.tmp/boot/initrd.img-$kver"
	e2e_log "initramfs-tools: /etc/kernel/postinst.d/initramfs-tools $kver (in the chroot)"
	in_chroot "$inst.tmp" /etc/kernel/postinst.d/initramfs-tools "$kver" "/boot/vmlinuz-$kver" >"$dir/kernel-hook.log" 2>&1 ||
		{ tail -30 "$dir/kernel-hook.log" >&2; e2e_die "the kernel's initramfs-tools hook failed (log: $dir/kernel-hook.log)"; }
	[ -f "$inst.tmp/boot/initrd.img-$kver" ] || e2e_die "the kernel's hook made no /boot/initrd.img-$kver"
	in_chroot "$inst.tmp" lsinitramfs "/boot/initrd.img-$kver" >"$dir/initrd.list"
	for f in usr/bin/ephemeral scripts/init-bottom/ephemeral "usr/lib/modules/$kver/kernel/fs/overlayfs/overlay.ko"; do
		grep -q "^$f" "$dir/initrd.list" || e2e_die "the initramfs lacks $f (list: $dir/initrd.list)"
	done
	cp "$inst.tmp/boot/initrd.img-$kver" "$dir/initrd.img"
	cp "$inst.tmp/boot/vmlinuz-$kver" "$dir/vmlinuz"
	mv "$inst.tmp" "$inst"
	echo "$inst_key" >"$dir/installed.key"
fi
# 3. (end of the installed root's cache key)

# The disk image: the installed root plus the guest's scenario runner and the
# manifest tool (as build-image.sh installs them).
guest=$dir/guest
rm -rf "$guest"
install -Dm755 "$E2E_SRC/guest/e2e-guest.sh" "$guest/usr/local/lib/e2e/e2e-guest.sh"
install -Dm644 "$E2E_SRC/guest/ephemeral-e2e.service" "$guest/etc/systemd/system/ephemeral-e2e.service"
mkdir -p "$guest/etc/systemd/system/multi-user.target.wants"
ln -s ../ephemeral-e2e.service "$guest/etc/systemd/system/multi-user.target.wants/ephemeral-e2e.service"
install -Dm755 "$TOP/build/tests/manifest" "$guest/usr/local/bin/manifest"
tree_hash() { (cd "$1" && find . -printf '%p %y %m %l\n' | LC_ALL=C sort && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r cat) | sha256sum | cut -c1-16; }
image_key=$( (echo "$inst_key $IMAGE_SIZE"; tree_hash "$guest"; sed -n '/^# 3\./,$p' "$0") | sha256sum | cut -c1-16)
if [ -f "$dir/base.key" ] && [ "$(cat "$dir/base.key")" = "$image_key" ] && [ -f "$dir/base.img" ]; then
	e2e_log "initramfs-tools image: cached ($dir/base.img)"
	exit 0
fi
start=$(date +%s)
rm -f "$dir/base.key"
stage=$dir/stage
rm -rf "$stage"
cp -a "$inst" "$stage"
cp -a "$guest/." "$stage/"
e2e_log "initramfs-tools image: mkfs.ext4 -d ($IMAGE_SIZE, sparse)"
rm -f "$dir/base.img.tmp"
mkfs.ext4 -q -F -L e2e-root -d "$stage" "$dir/base.img.tmp" "$IMAGE_SIZE"
mv "$dir/base.img.tmp" "$dir/base.img"
rm -rf "$stage"
echo "$image_key" >"$dir/base.key"
e2e_log "initramfs-tools image: built in $(($(date +%s) - start)) s"
