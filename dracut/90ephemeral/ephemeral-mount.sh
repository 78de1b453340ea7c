#!/bin/sh
# ephemeral, dracut pre-pivot hook (sourced by dracut with dracut-lib.sh loaded):
# mounts the store and the RAM overlays on the real root at $NEWROOT, then asks
# for the shutdown initramfs so that the changes are merged back at poweroff.
# Never fails the boot: on error it says so and the directories stay on disk.

if ! command -v ephemeral > /dev/null 2>&1; then
    warn "ephemeral: the binary is missing from the initramfs; nothing is kept in RAM (rebuild it with dracut)"
else
    ephemeral mount --root "$NEWROOT"
    _ephemeral_rc=$?
    if [ "$_ephemeral_rc" -ne 0 ]; then
        warn "ephemeral: 'ephemeral mount' exited with status $_ephemeral_rc; directories it could not overlay stay on disk (messages above)"
    fi
    # Only a mounted store needs the shutdown initramfs (dracut-shutdown.service
    # unpacks it to /run/initramfs only when .need_shutdown exists).
    if [ -f /run/initramfs/ephemeral/state ]; then
        need_shutdown
        # dracut's shell init mounts /run noexec, and /run moves into the real root:
        # systemd-shutdown then cannot execute /run/initramfs/shutdown, so this
        # module's pre-shutdown hook never runs there. Say where the flush happens.
        if [ -z "${DRACUT_SYSTEMD-}" ]; then
            # (no awk in a dracut image: plain sh)
            while read -r _ephemeral_dev _ephemeral_mp _ephemeral_fs _ephemeral_opts _ephemeral_rest; do
                [ "$_ephemeral_mp" = /run ] || continue
                case ",$_ephemeral_opts," in
                *,noexec,*)
                    info "ephemeral: /run is noexec (dracut shell init): the shutdown initramfs cannot run; the flush is left to systemd-shutdown's hook (system-shutdown/ephemeral) or your init's ephemeral shutdown script"
                    ;;
                esac
            done < /proc/mounts
            unset _ephemeral_dev _ephemeral_mp _ephemeral_fs _ephemeral_opts _ephemeral_rest
        fi
    fi
    unset _ephemeral_rc
fi
