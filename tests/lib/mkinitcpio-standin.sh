#!/bin/bash
# The variables below are mkinitcpio's API to build hooks; messages take printf formats.
# shellcheck disable=SC2034,SC2059
# A stand-in for mkinitcpio's build side (mkinitcpio is not packaged for Debian), so that
# tests can run a real install/NAME hook unmodified. Source it, then call
#   standin_build BUILDROOT HOOK...
# It mimics, from mkinitcpio's `mkinitcpio` script and its `functions` library (v39/v40):
#  - initialize_buildroot: the image layout (usr/{bin,lib,local/...}, new_root, proc, sys,
#    dev, run, tmp, etc; symlinks bin,sbin -> usr/bin, lib,lib64 -> usr/lib,
#    usr/sbin -> bin, usr/lib64 -> lib, var/run -> ../run; etc/mtab, etc/fstab,
#    etc/initrd-release);
#  - the variables build hooks see: BUILDROOT, KERNELVERSION ('none' skips modules),
#    _hooks (HOOKS after -A/-S), _d_hooks / _d_install (hook search paths),
#    _d_library (MKINITCPIO_LIBRARY: where add_file finds library files),
#    _optmoduleroot, _runhooks, _addedmodules, _modpaths, _builderrors;
#  - run_build_hook: source install/HOOK in the build shell and call build();
#  - add_dir, add_symlink, add_file (same argument conventions: SRC [DEST [MODE]],
#    '-' = stdin, a symlink SRC adds its target plus the link), add_binary (the file
#    plus every ELF dependency that `ldd` resolves, like mkinitcpio; a script is copied
#    as is), add_module (resolved with `modinfo -k KERNELVERSION`, copied under
#    usr/lib/modules/KERNELVERSION when it is a file; builtin or unresolvable modules are
#    recorded only), add_runscript (hooks/NAME of the calling install hook to
#    /hooks/NAME, mode 755, registered for each run_*hook function it defines, cleanup
#    hooks in reverse order), map, in_array, msg/msg2/quiet/warning/error;
#  - add_systemd_unit, which real mkinitcpio defines in install/systemd: defined here
#    only once a hook named `systemd` has run, as there (the unit file, its drop-ins,
#    the binaries of non-'-' Exec lines, Requires=/OnFailure= units);
#  - parse_config: /config with EARLYHOOKS, HOOKS, LATEHOOKS, CLEANUPHOOKS,
#    EMERGENCYHOOKS, as busybox /init sources it; then `ldconfig -r BUILDROOT`.
# Modules requested with add_module are also listed in $STANDIN_MODULES (one
# "name source" line each; source = a path, "builtin" or "unresolved") so tests can
# check them on a kernel without module files.
# Not mimicked: compression, cpio, firmware, autodetect, presets, UKI.

declare -A _runhooks=() _addedmodules=() _modpaths=()
declare -a _hooks=()
declare -i _builderrors=0
_optmoduleroot=${_optmoduleroot:-}
# Search paths, as mkinitcpio sets them from MKINITCPIO_{LIBRARY,HOOKS,INSTALL}.
_d_library=${MKINITCPIO_LIBRARY:-/usr/lib/initcpio}
_d_hooks=${MKINITCPIO_HOOKS:-/etc/initcpio/hooks:/usr/lib/initcpio/hooks}
_d_install=${MKINITCPIO_INSTALL:-/etc/initcpio/install:/usr/lib/initcpio/install}
_optquiet=1

plain() { printf "    $1\n" "${@:2}"; }
quiet() { (( _optquiet )) || plain "$@"; }
msg() { printf "==> $1\n" "${@:2}"; }
msg2() { printf "  -> $1\n" "${@:2}"; }
warning() { printf "==> WARNING: $1\n" "${@:2}" >&2; }
error() { printf "==> ERROR: $1\n" "${@:2}" >&2; (( ++_builderrors )); return 1; }

map() {
    local f=$1 arg r=0
    shift
    for arg in "$@"; do "$f" "$arg" || r=1; done
    return "$r"
}

in_array() {
    local needle=$1 item
    shift
    for item in "$@"; do [[ "$item" == "$needle" ]] && return 0; done
    return 1
}

add_dir() {
    local path=$1 mode=${2:-755}
    [[ "$path" == /?* ]] || return 1
    [[ -d "$BUILDROOT$path" ]] && return 0
    quiet "adding dir: %s" "$path"
    install -dm"$mode" "$BUILDROOT$path"
}

add_symlink() {
    local name=$1 target=${2:-$1}
    (( $# == 1 || $# == 2 )) || return 1
    if [[ "$name" == "$target" ]]; then
        # add the host's link as it is: its target, resolved when it leaves the dir
        target=$(readlink -- "$name") || { error "not a symlink: '%s'" "$name"; return 1; }
        [[ "$target" == */* || -L "${name%/*}/$target" ]] && target=$(realpath -eq -- "$name")
    elif [[ -L "$target" ]]; then
        target=$(realpath -eq -- "$target")
    fi
    [[ -n "$target" ]] || { error "invalid symlink: '%s'" "$name"; return 1; }
    add_dir "${name%/*}"
    quiet "adding symlink: %s -> %s" "$name" "$target"
    ln -sfn -- "$target" "$BUILDROOT$name"
}

add_file() {
    local src=$1 dest=${2:-$1} mode=$3 real
    [[ "$src" == - ]] && src=/dev/stdin
    [[ -n "$dest" ]] || dest=$src
    if [[ -c "$src" || -p "$src" ]]; then
        [[ "$src" != "$dest" && "$dest" != */ ]] || { error "no destination for: '%s'" "$src"; return 1; }
        [[ -n "$mode" ]] || { error "no file mode for: '%s'" "$dest"; return 1; }
    elif [[ ! -f "$src" ]]; then
        error "file not found: '%s'" "$src"
        return 1
    fi
    # a symlinked parent dir on the host (e.g. /lib64): add the real dir and the link
    if [[ -z "$mode" && "$src" == "$dest" && -L "${dest%/*}" ]]; then
        real=$(realpath -- "${dest%/*}")
        if [[ ! -e "$BUILDROOT${dest%/*}" ]]; then
            add_dir "$real"
            add_symlink "${dest%/*}"
        fi
        dest="$real/${dest##*/}"
    fi
    # a symlink: its target under its real path, plus the link
    if [[ -L "$src" ]]; then
        real=$(realpath -- "$src")
        if [[ "$real" != "$dest" ]]; then
            add_file "$real" "$real" "$mode" || return 1
            add_symlink "$dest" "$src"
            return
        fi
    fi
    [[ ! -e "$BUILDROOT${dest%/*}" && ( -z "$mode" || "$dest" == */ ) ]] && add_dir "${dest%/*}"
    [[ "$dest" == */ ]] && dest="$dest${src##*/}"
    quiet "adding file: %s" "$dest"
    if [[ -z "$mode" ]]; then
        cp --remove-destination --preserve=mode,ownership -- "$src" "$BUILDROOT$dest"
    else
        install -Dm"$mode" -- "$src" "$BUILDROOT$dest"
    fi
}

add_binary() {
    local binary=$1 dest line lib out
    local -a args
    if [[ "$binary" != /* ]]; then
        binary=$(type -P "$binary") || { error "binary not found: '%s'" "$1"; return 1; }
    fi
    dest=${2:-$binary}
    args=("$binary" "$dest")
    [[ -n "$3" ]] && args+=("$3")
    add_file "${args[@]}" || return 1

    # not a dynamic ELF file (script, static binary): nothing more to add
    out=$(ldd "$binary" 2>/dev/null) || return 0
    while read -r line; do
        if [[ "$line" == *'not found'* ]]; then
            error "binary dependency '%s' not found for '%s'" "${line%% *}" "$1"
            continue
        fi
        # "libfoo.so.1 => /path/libfoo.so.1 (0x...)" or "/lib64/ld-linux... (0x...)"
        [[ "$line" =~ ^(.+ )?(/[^ ]+)\ \(0x[0-9a-fA-F]+\)$ ]] || continue
        lib=${BASH_REMATCH[2]}
        [[ -f "$lib" && ! -e "$BUILDROOT$lib" ]] && add_file "$lib" "$lib"
    done <<<"$out"
    return 0
}

add_module() {
    local name=$1 optional=0 target src
    [[ "$KERNELVERSION" == none ]] && return 0
    [[ "$name" == *\? ]] && { optional=1; name=${name%\?}; }
    target=${name%.ko*}
    target=${target//-/_}
    [[ -n "${_addedmodules[$target]}" ]] && return 0
    if command -v modinfo >/dev/null &&
        src=$(modinfo ${_optmoduleroot:+-b "$_optmoduleroot"} -k "$KERNELVERSION" -n "$target" 2>/dev/null); then
        if [[ "$src" == /* && -f "$src" ]]; then
            _modpaths["$src"]=1
            _addedmodules["$target"]=1
            install -Dm644 -- "$src" "$BUILDROOT/usr/lib/modules/$KERNELVERSION/kernel/${src##*/}"
        else
            _addedmodules["$target"]=2 # builtin
            src=builtin
        fi
    elif grep -qw "$target" "/lib/modules/$KERNELVERSION/modules.builtin" 2>/dev/null ||
        [[ -d "/sys/module/$target" && ! -e "/sys/module/$target/initstate" ]]; then
        _addedmodules["$target"]=2
        src=builtin
    else
        (( optional )) && return 0
        # without module files for this kernel (a container, a custom kernel) there is
        # nothing to copy: record the request so tests can still see it
        src=unresolved
        _addedmodules["$target"]=1
    fi
    quiet "adding module: %s (%s)" "$target" "$src"
    printf '%s %s\n' "$target" "$src" >>"$STANDIN_MODULES"
}

funcgrep() {
    awk -v re="$1" '/^[[:space:]]*[[:alnum:]_]+[[:space:]]*\([[:space:]]*\)/ {
        if (match($1, re)) print substr($1, RSTART, RLENGTH) }' "$2"
}

add_runscript() {
    local hookname=${BASH_SOURCE[1]##*/} script fn
    script=$(PATH=$_d_hooks type -P "$hookname") || { error "runtime script for '%s' not found" "$hookname"; return 1; }
    add_binary "$script" "/hooks/$hookname" 755
    while read -r fn; do
        case "$fn" in
            run_earlyhook) _runhooks[early]+=" $hookname" ;;
            run_hook) _runhooks[hooks]+=" $hookname" ;;
            run_latehook) _runhooks[late]+=" $hookname" ;;
            run_cleanuphook) _runhooks[cleanup]="$hookname ${_runhooks[cleanup]}" ;;
            run_emergencyhook) _runhooks[emergency]="$hookname ${_runhooks[emergency]}" ;;
        esac
    done < <(funcgrep '^run_[[:alnum:]_]+' "$script")
}

# Defined by install/systemd in real mkinitcpio; see _standin_define_systemd.
_standin_add_systemd_unit() {
    local unit key values dep
    local -a words
    unit=$(PATH=/usr/lib/systemd/system:/lib/systemd/system type -P "$1") || return 1
    add_file "$unit"
    for dep in /etc/systemd/system/"${unit##*/}".d/*.conf /usr/lib/systemd/system/"${unit##*/}".d/*.conf; do
        [[ -f "$dep" ]] && add_file "$dep"
    done
    while IFS='=' read -r key values; do
        read -ra words <<<"$values"
        case "$key" in
            Requires | OnFailure) map add_systemd_unit "${words[@]}" ;;
            Exec*)
                case "${words[0]}" in
                    -*) ;;
                    !!*) add_binary "${words[0]#!!}" ;;
                    *) add_binary "${words[0]#[@!:+]}" ;;
                esac
                ;;
        esac
    done <"$unit"
}
# shellcheck disable=SC2317
_standin_define_systemd() { add_systemd_unit() { _standin_add_systemd_unit "$@"; }; }

standin_initialize_buildroot() {
    local root=$1
    install -dm755 "$root"/{new_root,proc,sys,dev,run,tmp,var,etc,usr/{local{,/bin,/sbin,/lib},lib,bin}}
    ln -s usr/lib "$root/lib"
    ln -s bin "$root/usr/sbin"
    ln -s usr/bin "$root/bin"
    ln -s usr/bin "$root/sbin"
    ln -s ../run "$root/var/run"
    if [[ "$(uname -m)" == x86_64 ]]; then
        ln -s lib "$root/usr/lib64"
        ln -s usr/lib "$root/lib64"
    fi
    [[ "$KERNELVERSION" != none ]] && install -dm755 "$root/usr/lib/modules/$KERNELVERSION/kernel"
    ln -s ../proc/self/mounts "$root/etc/mtab"
    : >"$root/etc/fstab"
    : >"$root/etc/initrd-release"
    : >"$root/etc/ld.so.conf"
}

standin_run_build_hook() {
    local hook=$1 script
    script=$(PATH=$_d_install type -P "$hook") || { error "Hook '%s' cannot be found" "$hook"; return 1; }
    unset -f build
    # shellcheck disable=SC1090
    . "$script" || { error "Failed to read %s" "$script"; return 1; }
    declare -F build >/dev/null || { error "Hook '%s' has no build function" "$script"; return 1; }
    msg2 "Running build hook: [%s]" "$script"
    build
    [[ "$hook" == systemd ]] && _standin_define_systemd
    return 0
}

standin_write_config() {
    printf '%s="%s"\n' \
        EARLYHOOKS "${_runhooks[early]# }" \
        HOOKS "${_runhooks[hooks]# }" \
        LATEHOOKS "${_runhooks[late]# }" \
        CLEANUPHOOKS "${_runhooks[cleanup]% }" \
        EMERGENCYHOOKS "${_runhooks[emergency]% }" >"$BUILDROOT/config"
}

# standin_build BUILDROOT HOOK...: build an image tree like `mkinitcpio -d BUILDROOT`
# with HOOKS=(HOOK...). Returns non-zero when any add_* function or hook failed.
standin_build() {
    local hook
    BUILDROOT=$1
    shift
    _hooks=("$@")
    HOOKS=("$@")
    KERNELVERSION=${KERNELVERSION:-$(uname -r)}
    STANDIN_MODULES=${STANDIN_MODULES:-$BUILDROOT.modules}
    : >"$STANDIN_MODULES"
    standin_initialize_buildroot "$BUILDROOT" || return 1
    for hook in "${_hooks[@]}"; do
        standin_run_build_hook "$hook" || (( ++_builderrors ))
    done
    standin_write_config
    ldconfig -r "$BUILDROOT" 2>/dev/null
    (( _builderrors == 0 ))
}
