# shellcheck shell=sh
# SPDX-License-Identifier: MIT
# Sourced by runit's stage 3 (/etc/runit/3) of Void and Artix between 70-pkill.sh
# (every process is gone) and 80-filesystems.sh (unmount, remount / read-only):
# merge the ephemeral RAM overlays down to the disk. Sourced, so: no exit, no set -e,
# and a failure only prints. `ephemeral flush` detaches the overlays (naming what
# still holds them: this stage-3 shell reads its scripts from /etc), merges, and marks
# what it merged, so a second trigger finds nothing to do; with no state but an
# overlay still using the store it fails loudly instead of reporting success.
# (Debian's /etc/runit/3 does not read this directory: see ephemeral-shutdown.)

echo "=> Merging the ephemeral RAM overlays down to the disk..."
@BINDIR@/ephemeral flush --root / --store /run/initramfs/ephemeral ||
	echo "=> ephemeral: merging failed (see above); what was not merged keeps its old version on the disk" >&2
