#!/bin/bash
# dracut module "ephemeral": puts the ephemeral binary (with its libraries: libblkid,
# and libkmod, which it opens only to load a module), the overlay kernel module and
# two hooks into the initramfs:
# pre-pivot mounts the RAM overlays on the real root, pre-shutdown (in the shutdown
# initramfs that dracut-shutdown.service restores to /run/initramfs) merges them
# back into it. Declarations only; the hooks hold the runtime logic.

# called by dracut
# shellcheck disable=SC2154 # moddir, dracutsysrootdir: set by dracut
check() {
    require_binaries ephemeral || return 1
    return 0
}

# called by dracut
depends() {
    echo base shutdown
    return 0
}

# called by dracut
installkernel() {
    instmods overlay
}

# called by dracut
install() {
    local _bin
    _bin=$(find_binary ephemeral) || return 1
    # At its installed path (the system-shutdown hook looks for it there under
    # /run/initramfs) and, for the hooks (PATH=/usr/sbin:/usr/bin:/sbin:/bin), as
    # /usr/bin/ephemeral when that differs (e.g. PREFIX=/usr/local).
    inst_binary "$_bin"
    # libkmod is opened with dlopen (to load the overlay module), so inst_binary does
    # not see it: the one of the build machine, else the one beside the libblkid it
    # links; with its own libraries (dracut-install resolves those of executables only).
    local _lib=@LIBKMOD@ _dep
    [[ -e "$_lib" ]] || _lib=$(ldd "$_bin" 2>/dev/null | sed -n 's|.*=> \(/.*\)/libblkid\.so\.1 .*|\1|p')/libkmod.so.2
    if [[ -e "$_lib" ]]; then
        inst_library "$_lib"
        while read -r _dep; do
            inst_library "$_dep"
        done < <(ldd "$_lib" 2>/dev/null | sed -n 's|.*=> \(/[^ ]*\) .*|\1|p')
    else
        dwarn "ephemeral: libkmod.so.2 not found: this image cannot load the overlay module"
    fi
    # (/bin may be a symlink to usr/bin: then it is there already.)
    if [ ! -e "${initdir}/usr/bin/ephemeral" ]; then
        ln_r "$_bin" /usr/bin/ephemeral
    fi
    [ -f "${dracutsysrootdir-}/etc/ephemeral.conf" ] && inst_simple /etc/ephemeral.conf
    inst_hook pre-pivot 60 "$moddir/ephemeral-mount.sh"
    inst_hook pre-shutdown 40 "$moddir/ephemeral-flush.sh"
    return 0
}
