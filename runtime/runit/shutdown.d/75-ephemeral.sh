# shellcheck shell=sh
# SPDX-License-Identifier: MIT
# Sourced by runit's stage 3 (/etc/runit/3) between 70-pkill.sh (every process is
# gone) and 80-filesystems.sh (unmount, remount / read-only): merge the ephemeral RAM
# overlays down to the disk. Sourced, so: no exit, no set -e, and a failure only
# prints. `ephemeral flush` detaches the overlays, merges, syncs, and marks what it
# merged, so a second trigger finds nothing to do.

if [ -f /run/initramfs/ephemeral/state ]; then
	echo "=> Merging the ephemeral RAM overlays down to the disk..."
	@BINDIR@/ephemeral flush --root / --store /run/initramfs/ephemeral ||
		echo "=> ephemeral: merging failed (see above); what was not merged keeps its old version on the disk" >&2
fi
