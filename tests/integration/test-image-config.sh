#!/bin/bash
# ephemeral status warns when the configuration the boot read from the initramfs
# (its own /etc/ephemeral.conf, recorded by mount in the store) differs from the
# root's /etc/ephemeral.conf: edited, removed. No warning when they are equal, or
# when the boot read the root's own file (the image had none).
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
need_root
in_private_mount_ns "$@"
make_scratch

R=$SCRATCH/root S=$SCRATCH/store IMG=$SCRATCH/image
mkdir -p "$R/etc" "$R/var/log" "$IMG/etc"
echo 'ephemeral.tmpfs=none' >"$SCRATCH/cmdline"
printf 'dirs = /var/log\n# the image copy\n' >"$IMG/etc/ephemeral.conf"
cp "$IMG/etc/ephemeral.conf" "$R/etc/ephemeral.conf"

# As in an initramfs: the config file is read outside the root (--config stands
# for the image's /etc/ephemeral.conf).
"$EPHEMERAL" mount --root "$R" --store "$S" --cmdline "$SCRATCH/cmdline" \
	--config "$IMG/etc/ephemeral.conf" 2>"$SCRATCH/mount.err"
assert_eq "mount exits 0" 0 "$?"
assert_eq "mount recorded the image's config in the store" "$(cat "$IMG/etc/ephemeral.conf")" \
	"$(cat "$S/image.conf")"
st() { "$EPHEMERAL" status --root "$R" --store "$S" "$@"; }

st >/dev/null 2>"$SCRATCH/err"
assert_eq "same config: status exits 0" 0 "$?"
assert_eq "same config: no warning" "" "$(cat "$SCRATCH/err")"
assert_match "same config: json says not stale" '"image_config_stale":false' "$(st --json 2>/dev/null)"

echo 'size = 10%' >>"$R/etc/ephemeral.conf"
st >/dev/null 2>"$SCRATCH/err"
assert_eq "edited config: status still exits 0" 0 "$?"
assert_match "edited config: one warning naming the fix" \
	'^ephemeral: warning: the initramfs carries another /etc/ephemeral.conf than the root.s .*update-initramfs -u' \
	"$(cat "$SCRATCH/err")"
assert_eq "edited config: exactly one line" 1 "$(wc -l <"$SCRATCH/err")"
assert_match "edited config: json says stale" '"image_config_stale":true' "$(st --json 2>/dev/null)"

rm "$R/etc/ephemeral.conf"
assert_match "removed config: warning" 'another /etc/ephemeral.conf' "$(st 2>&1 >/dev/null)"

# The image had no config: the boot read the root's own file; nothing is recorded
# (an older record goes) and status never warns.
umount "$R/var/log" "$S"
echo 'dirs = /var/log' >"$R/etc/ephemeral.conf"
"$EPHEMERAL" mount --root "$R" --store "$S" --cmdline "$SCRATCH/cmdline" 2>"$SCRATCH/mount.err"
rc=$?
if [ -e /etc/ephemeral.conf ]; then
	diag "this host has /etc/ephemeral.conf: the no-image-copy case is not tested"
else
	assert_eq "mount without an image copy exits 0" 0 "$rc"
	check_fails "nothing recorded when the root's file was read" test -e "$S/image.conf"
	echo 'size = 5%' >>"$R/etc/ephemeral.conf"
	assert_eq "root's own file read: no warning after an edit" "" "$(st 2>&1 >/dev/null)"
fi
# A record left from an earlier mount of the same store is removed.
umount "$R/var/log" "$S" 2>/dev/null
mkdir -p "$S" && mount -t tmpfs tmpfs "$S" && echo old >"$S/image.conf"
"$EPHEMERAL" mount --root "$R" --store "$S" --cmdline "$SCRATCH/cmdline" --config /nonexistent 2>/dev/null
check_fails "a missing image copy removes an older record" test -e "$S/image.conf"
finish
