#!/bin/sh
# ephemeral, dracut pre-shutdown hook (sourced by the shutdown initramfs's
# /shutdown, after systemd stopped every service, before dracut unmounts the old
# root): merges the RAM overlays into the old root at /oldroot. Never blocks the
# shutdown: a failure is reported and the poweroff/reboot continues.
#
# Where the store is here: shutdown.sh has moved /oldroot/run (with every mount
# below it, our store tmpfs at run/initramfs/ephemeral included) to /oldsys/run.
# The other candidates cover shutdown environments that did not move /run.

_ephemeral_store=
for _ephemeral_dir in /oldsys/run/initramfs/ephemeral /oldroot/run/initramfs/ephemeral \
    /run/initramfs/ephemeral /ephemeral; do
    if [ -f "$_ephemeral_dir/state" ]; then
        _ephemeral_store=$_ephemeral_dir
        break
    fi
done

# No store found: flush still runs on the usual place, to fail loudly if an overlay
# still keeps changes in a store that is gone (else it says there is nothing to merge).
[ -n "$_ephemeral_store" ] || _ephemeral_store=/oldsys/run/initramfs/ephemeral
if ! command -v ephemeral > /dev/null 2>&1; then
    warn "ephemeral: the binary is missing from the shutdown initramfs; the changes in $_ephemeral_store are NOT written to disk"
else
    info "ephemeral: merging the RAM changes into the disk (root /oldroot, store $_ephemeral_store)"
    ephemeral flush --root /oldroot --store "$_ephemeral_store"
    _ephemeral_rc=$?
    if [ "$_ephemeral_rc" -ne 0 ]; then
        warn "ephemeral: flush failed with status $_ephemeral_rc (messages above); files it could not merge keep their previous version on disk"
    fi
fi
unset _ephemeral_store _ephemeral_dir _ephemeral_rc
