#!/bin/bash
# Helpers for the initcpio and runtime tests. Source after lib.sh (needs TOP, EPHEMERAL).

# BINDIR as `make install` would substitute it: where the binary under test lives.
BINDIR=$(dirname "$(realpath "$EPHEMERAL")")
FIXTURES=$TOP/tests/fixtures/initcpio
# libkmod's path as `make install` substitutes it (@LIBKMOD@; ephemeral opens it with dlopen).
LIBKMOD=$(make -s --no-print-directory -C "$TOP" print-LIBKMOD_SO)

# subst SRC DEST [MODE]: install a runtime file the way `make install` does.
subst() {
	mkdir -p "$(dirname "$2")"
	sed -e "s|@BINDIR@|$BINDIR|g" -e "s|@LIBKMOD@|$LIBKMOD|g" "$1" >"$2"
	chmod "${3:-644}" "$2"
}

# standin_libdir DIR: our initcpio files installed under DIR as under /usr/lib/initcpio;
# sets the MKINITCPIO_* search paths for mkinitcpio-standin.sh (stand-in hooks after).
standin_libdir() {
	subst "$TOP/initcpio/install/ephemeral" "$1/install/ephemeral"
	subst "$TOP/initcpio/hooks/ephemeral" "$1/hooks/ephemeral"
	subst "$TOP/initcpio/ephemeral-shutdown" "$1/ephemeral-shutdown" 755
	export MKINITCPIO_LIBRARY=$1
	export MKINITCPIO_INSTALL=$1/install:$FIXTURES/install
	export MKINITCPIO_HOOKS=$1/hooks:$FIXTURES/hooks
}

# host_overlay DIR: make the host's DIR writable in this (private) mount namespace
# only, with an overlay whose upper is in SCRATCH; the host never sees the changes.
host_overlay() {
	local d
	d=$SCRATCH/host-overlay/$(echo "$1" | tr / _)
	mkdir -p "$d/upper" "$d/work"
	mount -t overlay overlay -o "lowerdir=$1,upperdir=$d/upper,workdir=$d/work" "$1"
}

# need_binary: skip (77) while the binary under test does not implement mount and flush
# (the skeleton's placeholders say so); a skip is not a pass.
need_binary() {
	local out
	out=$("$EPHEMERAL" mount --root /nonexistent --store /nonexistent 2>&1)
	if printf '%s' "$out" | grep -q 'not implemented'; then
		echo "# skipped: $EPHEMERAL does not implement mount yet"
		exit 77
	fi
	out=$("$EPHEMERAL" flush --root /nonexistent --store /nonexistent 2>&1)
	if printf '%s' "$out" | grep -q 'not implemented'; then
		echo "# skipped: $EPHEMERAL does not implement flush yet"
		exit 77
	fi
}

# make_ext4 IMG SRCDIR: a small ext4 filesystem image holding SRCDIR, attached to a
# loop device whose name goes to LOOPDEV; detached at exit (its mounts die with the
# private mount namespace). A real filesystem, so that read-only remounts are the
# kernel's, not a bind mount's.
LOOPDEVS=()
make_ext4() {
	truncate -s 64M "$1"
	mkfs.ext4 -q -F -d "$2" "$1" || return 1
	LOOPDEV=$(losetup -f --show "$1") || return 1
	LOOPDEVS+=("$LOOPDEV")
}

# make_scratch_tmpfs: make_scratch with a tmpfs mounted on SCRATCH (in this private
# mount namespace). Everything the test mounts lives below it (chroots get devtmpfs,
# proc, sysfs): at exit one lazy recursive unmount drops it all, and nothing ever
# walks into a mounted /dev to delete it.
make_scratch_tmpfs() {
	make_scratch
	mount -t tmpfs -o mode=0755 scratch "$SCRATCH" || exit 1
	trap cleanup_scratch EXIT
}
cleanup_scratch() {
	local l
	cd / || return
	umount -R "$SCRATCH" 2>/dev/null || umount -R -l "$SCRATCH" 2>/dev/null
	for l in "${LOOPDEVS[@]}"; do losetup -d "$l" 2>/dev/null; done
	rmdir "$SCRATCH"
}
