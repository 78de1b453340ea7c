# shellcheck shell=bash disable=SC2034 # sourced by lib-e2e.sh; the variables are read there
# E2E_VARIANT=openrc: Debian bookworm with sysvinit-core + openrc (no systemd), booted
# with dracut's shell init. The project is installed as README's "OpenRC" section
# says: `make install`, then `rc-update add ephemeral-flush off`.

E2E_INCLUDE=udev,kmod,attr,acl,libcap2-bin,procps,psmisc
E2E_APT_PACKAGES="sysvinit-core openrc"
E2E_DRACUT_MODULES="base fs-lib rootfs-block kernel-modules udev-rules shutdown"
E2E_INITRD_MODULES=$E2E_DRACUT_MODULES

# variant_configure ROOT: after the common configuration of build-rootfs.sh.
variant_configure() {
	# A serial console getty is not needed: the scenario runner powers off.
	sed -i 's/^\([1-6]\):/#\1:/' "$1/etc/inittab"
}

# variant_install INST: what build-image.sh adds on top of `make install`.
variant_install() {
	install -Dm755 "$E2E_SRC/guest/ephemeral-e2e.openrc" "$1/etc/init.d/ephemeral-e2e"
	e2e_no_hwclock_at_shutdown "$1"
}

# variant_stage ROOT: in the staged root, after `make install` was copied in.
variant_stage() {
	chroot "$1" rc-update add ephemeral-flush off # README's step
	chroot "$1" rc-update add ephemeral-e2e default
}
