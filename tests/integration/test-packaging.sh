#!/bin/bash
# The packaging files against `make install`: the split install targets together
# install exactly what `make install` does, none twice; the Arch PKGBUILD's package()
# (run in bash with makepkg's variables stubbed) installs exactly the Arch set
# (binaries, mkinitcpio, dracut, systemd) and nothing of initramfs-tools, OpenRC or
# runit; the RPM spec's %files lists exactly what its %install installs; both name
# the Makefile's VERSION. (Neither makepkg nor rpmbuild exists here.)
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
make_scratch
cd "$TOP" || exit 1
version=$(sed -n 's/^VERSION *:= *//p' Makefile)

# files DIR: every non-directory below DIR, relative, sorted.
files() { (cd "$1" && find . ! -type d | sed 's|^\./||' | LC_ALL=C sort); }
# inst NAME TARGET...: make TARGET... into $SCRATCH/NAME; prints its file list.
inst() {
	local d=$SCRATCH/$1
	shift
	make -s DESTDIR="$d" PREFIX=/usr "$@" >/dev/null 2>"$SCRATCH/make.err" || { cat "$SCRATCH/make.err" >&2; return 1; }
	files "$d"
}

inst all install >"$SCRATCH/all.list"
check "make install installs something" test -s "$SCRATCH/all.list"
: >"$SCRATCH/parts.list"
for t in install-bin install-dracut install-initcpio install-initramfs-tools install-systemd install-openrc install-runit \
	install-pacman-hook install-apt-hook install-dnf-hooks; do
	inst "$t" "$t" >"$SCRATCH/$t.list"
	check "$t installs something" test -s "$SCRATCH/$t.list"
	cat "$SCRATCH/$t.list" >>"$SCRATCH/parts.list"
done
assert_eq "no file is installed by two split targets" "" "$(LC_ALL=C sort "$SCRATCH/parts.list" | uniq -d)"
assert_eq "the split targets together install exactly what make install does" \
	"$(cat "$SCRATCH/all.list")" "$(LC_ALL=C sort "$SCRATCH/parts.list")"

# ---- Arch: package() as makepkg runs it --------------------------------------------
mkdir -p "$SCRATCH/src" "$SCRATCH/pkg"
ln -s "$TOP" "$SCRATCH/src/ephemeral-$version"
# shellcheck disable=SC2317 # called through check
arch_pkg() {
	# shellcheck disable=SC2034 # srcdir, pkgdir: read by the PKGBUILD
	(srcdir=$SCRATCH/src pkgdir=$SCRATCH/pkg
	# shellcheck source=packaging/arch/PKGBUILD
	. packaging/arch/PKGBUILD
	[ "$pkgver" = "$version" ] || { echo "pkgver $pkgver != VERSION $version"; exit 1; }
	cd "$srcdir" && package) >/dev/null
}
check "PKGBUILD: pkgver is VERSION and package() runs" arch_pkg
files "$SCRATCH/pkg" >"$SCRATCH/arch.list"
assert_eq "PKGBUILD: package() installs exactly install-bin, -initcpio, -dracut, -systemd and -pacman-hook" \
	"$(LC_ALL=C sort "$SCRATCH"/install-{bin,initcpio,dracut,systemd,pacman-hook}.list)" "$(cat "$SCRATCH/arch.list")"
for f in usr/bin/ephemeral usr/lib/initcpio/install/ephemeral usr/lib/initcpio/hooks/ephemeral \
	usr/lib/systemd/system-shutdown/ephemeral usr/share/man/man8/ephemeral.8; do
	check "PKGBUILD: ships $f" grep -qx "$f" "$SCRATCH/arch.list"
done
check_fails "PKGBUILD: no initramfs-tools, OpenRC or runit file" grep -E '^(usr/share/initramfs-tools|etc/)' "$SCRATCH/arch.list"

# ---- RPM: %files against %install ------------------------------------------------
spec=packaging/rpm/ephemeral.spec
assert_eq "spec: Version is VERSION" "$version" "$(sed -n 's/^Version: *//p' "$spec")"
targets=$(sed -n 's/^make DESTDIR=%{buildroot} PREFIX=%{_prefix} //p' "$spec")
check "spec: %install runs the make install targets" test -n "$targets"
# shellcheck disable=SC2086 # a word list
inst rpm $targets >"$SCRATCH/rpm-installed.list"
# %files with the macros of a Fedora system expanded; man pages are compressed by
# rpmbuild (the trailing *); %dir lines are directories.
sed -n '/^%files/,/^%changelog/p' "$spec" | sed '1d;$d' | grep -v -e '^%dir ' -e '^$' |
	sed -e 's|^%config(noreplace) ||; s|%{_sysconfdir}|/etc|' \
		-e 's|%{_bindir}|/usr/bin|; s|%{_mandir}|/usr/share/man|; s|%{_docdir}|/usr/share/doc|' \
		-e 's|%{_unitdir}|/usr/lib/systemd/system|; s|%{_prefix}|/usr|; s|%{name}|ephemeral|' \
		-e 's|\*$||; s|^/||' | LC_ALL=C sort >"$SCRATCH/rpm-files.list"
assert_eq "spec: %files lists exactly what %install installs" \
	"$(cat "$SCRATCH/rpm-installed.list")" "$(cat "$SCRATCH/rpm-files.list")"
finish
