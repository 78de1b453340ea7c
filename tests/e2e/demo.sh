#!/bin/bash
# demo.sh: `make demo` — on a Debian machine (as root) installs what it needs, builds
# ephemeral and a small Debian test system (dracut initramfs with our module), boots
# it in QEMU with the console on this terminal, shows the overlays and
# `ephemeral status`, writes to /etc, powers off (watch the shutdown initramfs merge
# the change), then shows from the host that the change reached the disk image.
# demo.sh --shell (`make vm`): an interactive root shell in the same test system
# (its disk, build/e2e/vm.img, is kept between runs; `poweroff` flushes and exits).
# DEMO=initramfs-tools (`make demo DEMO=initramfs-tools`): the Debian way instead, a
# system with initramfs-tools and the .deb installed by apt (build/e2e/initramfs-tools).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/e2e/lib-e2e.sh
. "$TOP/tests/e2e/lib-e2e.sh"
mode=demo
case "${1:-}" in
"") ;;
--shell) mode=shell ;;
*) echo "usage: $0 [--shell]" >&2; exit 100 ;;
esac
[ "$(id -u)" = 0 ] || e2e_die "run as root (it installs packages, runs debootstrap and mounts images)"

step() { printf '\n\033[1;34m==> %s\033[0m\n' "$*"; }
step "Installing the build and test-system dependencies (tests/deps.sh)"
"$TOP/tests/deps.sh" build test e2e
make -C "$TOP" -s all
case "${DEMO:-dracut}" in
dracut)
	step "Building ephemeral and the test system (Debian bookworm + dracut; cached in build/e2e)"
	"$E2E_SRC/build-image.sh"
	;;
initramfs-tools)
	step "Building the .deb and the test system (Debian bookworm + initramfs-tools, apt install ./ephemeral_*.deb; cached in build/e2e/initramfs-tools)"
	"$E2E_SRC/build-image-initramfs-tools.sh"
	E2E_DIR=$E2E_DIR/initramfs-tools
	;;
*) e2e_die "DEMO must be dracut or initramfs-tools, not '$DEMO'" ;;
esac
E2E_RUN=$E2E_DIR/run-$mode
mkdir -p "$E2E_RUN"

if [ "$mode" = shell ]; then
	img=$E2E_DIR/vm.img
	if [ ! -f "$img" ] || [ "$(cat "$img.key" 2>/dev/null)" != "$(cat "$E2E_DIR/base.key")" ]; then
		cp --sparse=always "$E2E_DIR/base.img" "$img"
		cp "$E2E_DIR/base.key" "$img.key"
	fi
	step "Booting the test system: root shell on the console"
	cat <<'TXT'
    Try:  findmnt -t overlay ; ephemeral status ; echo hi >/etc/hello ; ephemeral diff
    `poweroff` merges the changes to disk and quits (`reboot` to see them come back);
    Ctrl-a x quits QEMU at once, like pulling the plug (the changes are lost).
TXT
	e2e_boot vm "$img" "" --shell
	exit 0
fi

img=$E2E_DIR/demo.img
token=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
cp --sparse=always "$E2E_DIR/base.img" "$img"
step "Booting the test system in QEMU (software emulation: about a minute)"
e2e_boot demo "$img" "ephemeral_test=demo ephemeral_demo=$token" --visible

step "Back on the host: what is on the disk image now"
note=$(image_cat "$img" /etc/demo-note 2>/dev/null) || note="(missing)"
echo "/etc/demo-note on disk: $note"
echo "last flush summary in /var/log/ephemeral.log:"
image_cat "$img" /var/log/ephemeral.log 2>/dev/null | tail -2 | sed 's/^/    /' || echo "    (none)"
e2fsck -fn "$img" >/dev/null 2>&1 && echo "e2fsck -fn: clean" || echo "e2fsck -fn: NOT clean"
if [ "$note" = "written in RAM during the demo ($token)" ]; then
	step "The change made in RAM reached the disk at poweroff."
else
	step "FAILED: the change did not reach the disk (console above; guest report: $E2E_RUN/demo.result)"
	exit 1
fi
