# shellcheck shell=bash disable=SC2034 # sourced by lib-e2e.sh; the variables are read there
# E2E_VARIANT=runit: Debian bookworm with runit-init (runit as PID 1, stage 3 runs the
# /etc/rc0.d K scripts), booted with dracut's shell init. The project is installed as
# README's "runit" section says: `make install`, then
# `update-rc.d ephemeral-shutdown defaults`.

E2E_INCLUDE=udev,kmod,attr,acl,libcap2-bin,procps,psmisc
E2E_APT_PACKAGES="runit-init"
E2E_DRACUT_MODULES="base fs-lib rootfs-block kernel-modules udev-rules shutdown"
E2E_INITRD_MODULES=$E2E_DRACUT_MODULES

# variant_configure ROOT: after the common configuration of build-rootfs.sh.
variant_configure() { :; }

# variant_install INST: what build-image.sh adds on top of `make install`.
variant_install() {
	local inst=$1
	install -Dm755 "$E2E_SRC/guest/ephemeral-e2e.runit" "$inst/etc/sv/ephemeral-e2e/run"
	e2e_no_hwclock_at_shutdown "$inst"
	# runsv's status files in /run, as Debian's own services have them: written at
	# shutdown, they would otherwise change /etc after the guest's manifest.
	ln -s /run/runit/supervise/ephemeral-e2e "$inst/etc/sv/ephemeral-e2e/supervise"
	mkdir -p "$inst/etc/runit/runsvdir/default"
	ln -s /etc/sv/ephemeral-e2e "$inst/etc/runit/runsvdir/default/ephemeral-e2e"
}

# variant_stage ROOT: in the staged root, after `make install` was copied in.
variant_stage() {
	# README: update-rc.d ephemeral-shutdown defaults (K links in rc0.d and rc6.d)
	chroot "$1" update-rc.d ephemeral-shutdown defaults
}
