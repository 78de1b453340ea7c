#!/bin/bash
# End-to-end under OpenRC: Debian bookworm with sysvinit-core + openrc (variant-openrc.sh),
# ephemeral-flush in the "off" runlevel. The scenarios are in init-boot.sh.
# Not yet passed a full run: every boot of this guest timed out on the loaded machine it
# was written on (800-1500 s per TCG boot). Until a run on a quiet machine passes, the
# test command skips it; EPHEMERAL_E2E_INITS=1 runs it.
if [ "${EPHEMERAL_E2E_INITS:-0}" != 1 ]; then
	echo "# skipped: openrc boots are not yet proven; EPHEMERAL_E2E_INITS=1 runs them"
	exit 77
fi
export E2E_VARIANT=openrc
export FLUSH_HOOK_LINE="Merging the ephemeral RAM overlays down to the disk"
exec "$(dirname "$0")/init-boot.sh"
