#!/bin/bash
# End-to-end under runit: Debian bookworm with runit-init (variant-runit.sh), the
# ephemeral-shutdown K script run by stage 3. The scenarios are in init-boot.sh.
export E2E_VARIANT=runit
export FLUSH_HOOK_LINE="Merging the ephemeral RAM overlays down to the disk..."
exec "$(dirname "$0")/init-boot.sh"
