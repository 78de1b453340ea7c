#!/bin/bash
# Assembles the bootable test system from the cached Debian root (build-rootfs.sh):
# installs ephemeral and its dracut module, the guest's scenario runner, builds the
# initramfs with the real dracut inside the chroot, puts it in /boot where
# dracut-shutdown.service looks for it (/boot/initrd.img-$kver) and makes the ext4
# disk image. Results in $E2E_DIR: base.img, vmlinuz, initrd.img (systemd in the
# initramfs), initrd-shinit.img (dracut's shell init). Each step is
# cached and redone only when its inputs change.
set -euo pipefail
# shellcheck source=tests/e2e/lib-e2e.sh
. "$(dirname "$0")/lib-e2e.sh"

# The test initramfs: the module list of build-rootfs.sh (a systemd initrd and the
# shutdown initramfs) plus ours. Compressed: dracut 059's dracut-initramfs-restore
# (skipcpio) restores nothing from an uncompressed image.
DRACUT_ARGS="--force --no-hostonly --compress=gzip --add ephemeral"
IMAGE_SIZE=1536M

"$E2E_SRC/build-rootfs.sh"
make -C "$TOP" -s all build/tests/manifest >/dev/null
root=$E2E_DIR/rootfs
kver=$(basename "$(echo "$root"/usr/lib/modules/*)")

# What goes into the image from this repository, staged first so it can be hashed.
inst=$E2E_DIR/install
rm -rf "$inst"
# Exactly what a user gets from `make install` (PREFIX defaults to /usr).
make -C "$TOP" -s install DESTDIR="$inst" >/dev/null
install -Dm755 "$E2E_SRC/guest/e2e-guest.sh" "$inst/usr/local/lib/e2e/e2e-guest.sh"
if declare -F variant_install >/dev/null; then
	variant_install "$inst" # the scenario runner's start-up, the init's install steps
else
	install -Dm644 "$E2E_SRC/guest/ephemeral-e2e.service" "$inst/etc/systemd/system/ephemeral-e2e.service"
	mkdir -p "$inst/etc/systemd/system/multi-user.target.wants"
	ln -s ../ephemeral-e2e.service "$inst/etc/systemd/system/multi-user.target.wants/ephemeral-e2e.service"
fi
# The tree manifest tool (tests/lib/manifest.c, static): the guest records the merged
# view with it, the host the disk image.
install -Dm755 "$TOP/build/tests/manifest" "$inst/usr/local/bin/manifest"

tree_hash() { (cd "$1" && find . -printf '%p %y %m %l\n' | LC_ALL=C sort && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r cat) | sha256sum | cut -c1-16; }
initrd_key=$( (cat "$E2E_DIR/rootfs.key"; echo "$DRACUT_ARGS"; tree_hash "$inst/usr/bin"; tree_hash "$inst/usr/lib/dracut") | sha256sum | cut -c1-16)
image_key=$( (echo "$initrd_key $IMAGE_SIZE"; tree_hash "$inst"; cat "$0") | sha256sum | cut -c1-16)

# A variant with E2E_INITRD_MODULES boots one initramfs built with that module list.
if [ -f "$E2E_DIR/base.key" ] && [ "$(cat "$E2E_DIR/base.key")" = "$image_key" ] &&
	[ -f "$E2E_DIR/base.img" ] && [ -f "$E2E_DIR/initrd.img" ] &&
	{ [ -n "${E2E_INITRD_MODULES:-}" ] || [ -f "$E2E_DIR/initrd-shinit.img" ]; } &&
	[ -f "$E2E_DIR/vmlinuz" ]; then
	e2e_log "image: cached ($E2E_DIR/base.img)"
	exit 0
fi
[ "$(id -u)" = 0 ] || e2e_die "building the test image needs root"
start=$(date +%s)
rm -f "$E2E_DIR/base.key"
stage=$E2E_DIR/stage
rm -rf "$stage"
cp -a "$root" "$stage"
cp -a "$inst/." "$stage/"
if declare -F variant_stage >/dev/null; then variant_stage "$stage" >"$E2E_DIR/stage.log" 2>&1 ||
	{ cat "$E2E_DIR/stage.log" >&2; e2e_die "configuring the $E2E_VARIANT guest failed"; }; fi

# build_initrd VARIANT OUTPUT EXTRA_ARGS...: $E2E_DIR/OUTPUT built by dracut in the
# chroot (cached as cache-VARIANT-<key>.img), checked to hold our binary and hooks.
build_initrd() {
	local name=$1 out=$2 cached f
	shift 2
	cached=$E2E_DIR/cache-$name-$(echo "$initrd_key $*" | sha256sum | cut -c1-16).img
	if [ -f "$cached" ]; then
		e2e_log "initramfs: cached ($cached)"
	else
		e2e_log "initramfs: dracut $DRACUT_ARGS $* (in the chroot, kernel $kver)"
		rm -f "$E2E_DIR/cache-$name"-*.img
		# shellcheck disable=SC2016,SC2086 # expanded by the inner shell; DRACUT_ARGS is a word list
		unshare -m --propagation private sh -euc '
			r=$1; shift
			mount -t proc proc "$r/proc"
			mount --rbind /sys "$r/sys"
			mount --rbind /dev "$r/dev"
			chroot "$r" dracut "$@"
		' sh "$stage" $DRACUT_ARGS "$@" --kver "$kver" /tmp/initrd.img >"$E2E_DIR/$name.log" 2>&1 ||
			{ tail -30 "$E2E_DIR/$name.log" >&2; e2e_die "dracut failed (log: $E2E_DIR/$name.log)"; }
		chroot "$stage" lsinitrd /tmp/initrd.img >"$E2E_DIR/$name.list"
		for f in usr/bin/ephemeral usr/lib/dracut/hooks/pre-pivot/60-ephemeral-mount.sh \
			usr/lib/dracut/hooks/pre-shutdown/40-ephemeral-flush.sh shutdown; do
			grep -q " $f\$" "$E2E_DIR/$name.list" ||
				e2e_die "the initramfs lacks $f (dracut log: $E2E_DIR/$name.log)"
		done
		mv "$stage/tmp/initrd.img" "$cached"
	fi
	cp "$cached" "$E2E_DIR/$out"
}
if [ -n "${E2E_INITRD_MODULES:-}" ]; then
	build_initrd "$E2E_VARIANT" initrd.img --modules "$E2E_INITRD_MODULES"
	cp "$E2E_DIR/initrd.img" "$stage/boot/initrd.img-$kver"
else
	# The one that boots and is restored at shutdown, with dracut's systemd init ...
	build_initrd systemd initrd.img
	cp "$E2E_DIR/initrd.img" "$stage/boot/initrd.img-$kver"
	# ... and one with dracut's shell init (scenario shinit boots it; the shutdown side
	# is the same /shutdown script from /boot's image).
	build_initrd shinit initrd-shinit.img --modules "base fs-lib rootfs-block kernel-modules udev-rules shutdown"
fi
cp "$stage/boot/vmlinuz-$kver" "$E2E_DIR/vmlinuz"

e2e_log "image: mkfs.ext4 -d ($IMAGE_SIZE, sparse)"
rm -f "$E2E_DIR/base.img.tmp"
mkfs.ext4 -q -F -L e2e-root -d "$stage" "$E2E_DIR/base.img.tmp" "$IMAGE_SIZE"
mv "$E2E_DIR/base.img.tmp" "$E2E_DIR/base.img"
rm -rf "$stage"
echo "$image_key" >"$E2E_DIR/base.key"
e2e_log "image: built in $(($(date +%s) - start)) s"
