#!/bin/bash
# End-to-end under OpenRC: Debian bookworm with sysvinit-core + openrc (variant-openrc.sh),
# ephemeral-flush in the "off" runlevel. The scenarios are in init-boot.sh.
export E2E_VARIANT=openrc
export FLUSH_HOOK_LINE="Merging the ephemeral RAM overlays down to the disk"
exec "$(dirname "$0")/init-boot.sh"
