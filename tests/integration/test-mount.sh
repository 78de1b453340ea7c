#!/bin/bash
# ephemeral mount on a fake root in a private mount namespace: the store tmpfs and
# the overlays with their options, the upper root's identity, the state record,
# idempotency, ephemeral=off, bad entries (reported, skipped, exit 100), a dir an
# fstab mount would hide, a failed mount (exit 111) and the config file.
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
need_root
in_private_mount_ns "$@"
make_scratch

# mkroot DIR: a small root tree; /etc owned 12:34 mode 0751 with two xattrs.
mkroot() {
	mkdir -p "$1/etc" "$1/var/log" "$1/srv/real" "$1/tmp" "$1/var/tmp" "$1/var/cache"
	chmod 1777 "$1/tmp" "$1/var/tmp"
	echo original >"$1/etc/hostname"
	echo 'root:x:0:0::/root:/bin/sh' >"$1/etc/passwd"
	echo boot >"$1/var/log/old.log"
	chown 12:34 "$1/etc"
	chmod 0751 "$1/etc"
	setfattr -n trusted.ephemeral-test -v hello "$1/etc"
	setfattr -n trusted.overlay.ephemeral-test -v no "$1/etc"
	ln -s real "$1/srv/link"
}
# run_mount ROOT STORE CMDLINE [CONFIG]: runs mount, sets OUT (stderr+stdout) and RC.
run_mount() {
	printf '%s\n' "$3" >"$SCRATCH/cmdline"
	OUT=$("$EPHEMERAL" mount --root "$1" --store "$2" --cmdline "$SCRATCH/cmdline" \
		--config "${4:-$SCRATCH/none.conf}" 2>&1)
	RC=$?
}
# mounts_at PATH: how many mounts have exactly this mount point.
mounts_at() { awk -v p="$1" '$5 == p' /proc/self/mountinfo | wc -l; }

R=$SCRATCH/root S=$SCRATCH/store
mkroot "$R"
run_mount "$R" "$S" "quiet ephemeral.dirs=/etc,/var/log ephemeral.size=64M"
assert_eq "mount exits 0" 0 "$RC"
[ "$RC" = 0 ] || diag "$OUT"

assert_eq "store is a tmpfs" tmpfs "$(findmnt -n -o FSTYPE --mountpoint "$S")"
opts=$(findmnt -n -o OPTIONS --mountpoint "$S")
assert_match "store is nosuid,nodev" 'nosuid,nodev' "$opts"
assert_match "store is capped at 64M" 'size=65536k' "$opts"
assert_eq "store mode 0700" 700 "$(stat -c %a "$S")"

for d in etc var/log; do
	assert_eq "overlay on /$d" overlay "$(findmnt -n -o FSTYPE --mountpoint "$R/$d")"
	opts=$(findmnt -n -o OPTIONS --mountpoint "$R/$d")
	assert_match "/$d: lowerdir is the dir itself" "lowerdir=$R/$d(,|$)" "$opts"
	assert_match "/$d: upper and work in the store" \
		"upperdir=$S/${d//\//-}/upper,workdir=$S/${d//\//-}/work" "$opts"
	assert_match "/$d: volatile" 'volatile' "$opts"
	if printf '%s\n' "$opts" | grep -qE 'redirect_dir=on|index=on|metacopy=on'; then
		not_ok "/$d: redirect_dir/index/metacopy are off ($opts)"
	else ok "/$d: redirect_dir/index/metacopy are off"; fi
done

assert_eq "upper root has the lower's owner and mode" "12:34 751" "$(stat -c '%u:%g %a' "$S/etc/upper")"
assert_eq "upper root has the lower's xattrs" hello \
	"$(getfattr --absolute-names --only-values -n trusted.ephemeral-test "$S/etc/upper" 2>&1)"
check_fails "trusted.overlay.* xattrs are not copied" getfattr -n trusted.overlay.ephemeral-test "$S/etc/upper"
assert_eq "merged view shows the lower" original "$(cat "$R/etc/hostname")"
echo changed >"$R/etc/hostname"
assert_eq "a write lands in the upper" changed "$(cat "$S/etc/upper/hostname")"
umount "$R/etc"
assert_eq "the lower is untouched" original "$(cat "$R/etc/hostname")"

# With /etc unmounted, a second run must mount it again, reusing the upper (the
# volatile marker overlayfs left in work/ must not block it) ...
state=$(cat "$S/state")
assert_match "state: header" '^ephemeral-state 2$' "$state"
assert_match "state: ends with the end record" 'end dirs=[0-9]+$' "$(tail -1 <<<"$state")"
assert_match "state: /etc record" "^dir path=/etc name=etc mode=persist status=mounted uuid=[^ ]+ fstype=[a-z0-9]+ fsroot=[^ ]*/root/etc dev=[0-9]+:[0-9]+ options=lowerdir=$R/etc,upperdir=$S/etc/upper,workdir=$S/etc/work,redirect_dir=off,index=off,metacopy=off,volatile$" "$state"
assert_match "state: /var/log record" '^dir path=/var/log name=var-log mode=persist status=mounted' "$state"
assert_match "state: store cap" '^store cap=67108864$' "$state"

run_mount "$R" "$S" "ephemeral.dirs=/etc,/var/log ephemeral.size=64M"
assert_eq "remount after an unmount exits 0" 0 "$RC"
[ "$RC" = 0 ] || diag "$OUT"
assert_eq "remount keeps the changes of the reused upper" changed "$(cat "$R/etc/hostname")"
assert_match "remount says it reuses the upper" 'reusing the existing upper' "$OUT"
# ... and a third run changes nothing at all.
run_mount "$R" "$S" "ephemeral.dirs=/etc,/var/log ephemeral.size=64M"
assert_eq "second run exits 0" 0 "$RC"
assert_eq "no second store mount" 1 "$(mounts_at "$S")"
assert_eq "no second overlay on /etc" 1 "$(mounts_at "$R/etc")"
assert_eq "no second overlay on /var/log" 1 "$(mounts_at "$R/var/log")"
assert_match "second run says already mounted" 'overlay /etc: already mounted' "$OUT"
assert_eq "state still lists both dirs" 2 "$(grep -c '^dir .*status=mounted' "$S/state")"

# ephemeral=off: nothing at all.
R2=$SCRATCH/root2 S2=$SCRATCH/store2
mkroot "$R2"
for off in off 0 no; do
	run_mount "$R2" "$S2" "ro ephemeral=$off ephemeral.dirs=/etc"
	assert_eq "ephemeral=$off exits 0" 0 "$RC"
	assert_match "ephemeral=$off says so" 'disabled' "$OUT"
	assert_eq "ephemeral=$off mounts nothing" 0 "$(($(mounts_at "$S2") + $(mounts_at "$R2/etc")))"
done

# A command line that cannot be read might have said ephemeral=off (the rescue
# switch): mount nothing, say why, exit 111 (found by test-fault-inject.sh).
mkdir -p "$SCRATCH/cmdline-dir"
OUT=$("$EPHEMERAL" mount --root "$R2" --store "$S2" --cmdline "$SCRATCH/cmdline-dir" \
	--config "$SCRATCH/none.conf" 2>&1)
RC=$?
assert_eq "an unreadable command line exits 111" 111 "$RC"
assert_match "an unreadable command line is named" "cannot read the kernel command line from .*cmdline-dir: Is a directory" "$OUT"
assert_match "an unreadable command line: nothing mounted, and why" "mounting nothing" "$OUT"
assert_eq "an unreadable command line mounts nothing" 0 "$(($(mounts_at "$S2") + $(mounts_at "$R2/etc")))"

# Bad entries: each reported with its text, the good ones still mounted, exit 100.
R3=$SCRATCH/root3 S3=$SCRATCH/store3
mkroot "$R3"
run_mount "$R3" "$S3" 'ephemeral.dirs=/etc,relative,/proc,/missing,/etc/../x,/var/log,/srv/link,/,/etc,/srv/real:bogus ephemeral.size=lots ephemeral.frobnicate=1'
assert_eq "bad entries: exit 100" 100 "$RC"
for bad in "'relative' skipped: not an absolute path" "'/proc' skipped" "'/missing' skipped: does not exist" \
	"'/etc/../x' skipped" "'/srv/link' skipped: is a symlink" "'/' skipped" "'/etc' skipped: listed twice" \
	"'/srv/real:bogus' skipped: unknown mode" "ephemeral.size: 'lots' skipped" "unknown key 'ephemeral.frobnicate'"; do
	# shellcheck disable=SC2016 # a sed script, not a shell expression
	assert_match "reported: $bad" "$(printf '%s' "$bad" | sed 's/[].[*^$()+?{|\\]/\\&/g')" "$OUT"
done
assert_eq "bad entries: /etc still mounted" overlay "$(findmnt -n -o FSTYPE --mountpoint "$R3/etc")"
assert_eq "bad entries: /var/log still mounted" overlay "$(findmnt -n -o FSTYPE --mountpoint "$R3/var/log")"
# tmpfs rounds the size up to whole pages
want=$(python3 -c 'import os; r = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"); p = os.sysconf("SC_PAGE_SIZE"); print((r // 100 * 25 + r % 100 * 25 // 100 + p - 1) // p * p)')
assert_match "bad size: default cap (25% of RAM) used" "^store cap=$want\$" "$(cat "$S3/state")"

# A dir below a filesystem that the root's fstab mounts later is skipped, loudly.
R4=$SCRATCH/root4 S4=$SCRATCH/store4
mkroot "$R4"
printf '# comment\nUUID=1234 / ext4 defaults 0 1\n/dev/sdb1 /var ext4 defaults 0 2\n/dev/sdc1 /srv ext4 noauto 0 2\n' >"$R4/etc/fstab"
run_mount "$R4" "$S4" "ephemeral.dirs=/etc,/var/log,/srv/real"
assert_eq "fstab-hidden dir: exit 100" 100 "$RC"
assert_match "fstab-hidden dir: says why" "'/var/log' skipped: /var is a separate filesystem in the root's /etc/fstab" "$OUT"
assert_eq "fstab-hidden dir: not mounted" 0 "$(mounts_at "$R4/var/log")"
assert_eq "fstab-hidden dir: others mounted" overlay "$(findmnt -n -o FSTYPE --mountpoint "$R4/etc")"
assert_eq "noauto fstab entries do not count" overlay "$(findmnt -n -o FSTYPE --mountpoint "$R4/srv/real")"

# A mount that fails (someone else's overlay already there): reported, exit 111.
R5=$SCRATCH/root5 S5=$SCRATCH/store5
mkroot "$R5"
mkdir -p "$SCRATCH/foreign/u" "$SCRATCH/foreign/w"
mount -t overlay overlay -o "lowerdir=$R5/var/log,upperdir=$SCRATCH/foreign/u,workdir=$SCRATCH/foreign/w" "$R5/var/log"
run_mount "$R5" "$S5" "ephemeral.dirs=/etc,/var/log"
assert_eq "failed mount: exit 111" 111 "$RC"
assert_match "failed mount: reported" 'overlay /var/log: another overlay is mounted' "$OUT"
assert_eq "failed mount: not stacked" 1 "$(mounts_at "$R5/var/log")"
assert_eq "failed mount: /etc still mounted" overlay "$(findmnt -n -o FSTYPE --mountpoint "$R5/etc")"
assert_match "failed mount: recorded as failed" '^dir path=/var/log name=var-log mode=persist status=failed' "$(cat "$S5/state")"

# The config file; the kernel command line overrides it key by key.
R6=$SCRATCH/root6 S6=$SCRATCH/store6
mkroot "$R6"
printf '# test\ndirs = /var/log:discard\nsize = 32M\n' >"$SCRATCH/c.conf"
run_mount "$R6" "$S6" "" "$SCRATCH/c.conf"
assert_eq "config file: exit 0" 0 "$RC"
assert_eq "config file: /etc not mounted" 0 "$(mounts_at "$R6/etc")"
assert_match "config file: /var/log in discard mode" '^dir path=/var/log name=var-log mode=discard status=mounted' "$(cat "$S6/state")"
assert_match "config file: size" 'size=32768k' "$(findmnt -n -o OPTIONS --mountpoint "$S6")"

# A real filesystem image as the root, mounted read-only as initramfs often do:
# the state records its UUID (libblkid) and the dir's path inside it.
R7=$SCRATCH/root7 S7=$SCRATCH/store7 uuid=0b5d2a4c-1111-2222-3333-444455556666
mkdir -p "$R7" "$SCRATCH/img-src/etc" "$SCRATCH/img-src/tmp" "$SCRATCH/img-src/var/tmp" "$SCRATCH/img-src/var/cache"
echo img >"$SCRATCH/img-src/etc/hostname"
truncate -s 16M "$SCRATCH/root.img"
if mkfs.ext4 -q -U "$uuid" -d "$SCRATCH/img-src" "$SCRATCH/root.img" && mount -o loop,ro "$SCRATCH/root.img" "$R7"; then
	run_mount "$R7" "$S7" "ephemeral.dirs=/etc"
	assert_eq "read-only image root: exit 0" 0 "$RC"
	assert_match "image root: UUID and path inside the fs recorded" \
		"^dir path=/etc name=etc mode=persist status=mounted uuid=$uuid fstype=ext4 fsroot=/etc dev=7:[0-9]+ " "$(cat "$S7/state")"
	echo changed >"$R7/etc/hostname"
	assert_eq "read-only lower: writes go to RAM" changed "$(cat "$R7/etc/hostname")"
else
	not_ok "cannot build or loop-mount an ext4 image"
fi

# Without --config (and no /etc/ephemeral.conf in the image), the root's own
# /etc/ephemeral.conf is read.
if [ ! -e /etc/ephemeral.conf ]; then
	R8=$SCRATCH/root8 S8=$SCRATCH/store8
	mkroot "$R8"
	printf 'dirs = /var/log\n' >"$R8/etc/ephemeral.conf"
	echo quiet >"$SCRATCH/cmdline8"
	"$EPHEMERAL" mount --root "$R8" --store "$S8" --cmdline "$SCRATCH/cmdline8" >/dev/null 2>&1
	assert_eq "root's config file: exit 0" 0 "$?"
	assert_eq "root's config file: /etc not overlaid" 0 "$(mounts_at "$R8/etc")"
	assert_eq "root's config file: /var/log overlaid" overlay "$(findmnt -n -o FSTYPE --mountpoint "$R8/var/log")"
else
	ok "# skip: this machine has an /etc/ephemeral.conf"
fi

# A root whose path inside its filesystem has a space (a bind-mounted root, a
# subvolume with a space in its name): the state must stay readable, since flush,
# status and diff depend on it.
R9=$SCRATCH/root9 S9=$SCRATCH/store9
mkroot "$SCRATCH/a root"
mkdir -p "$R9"
mount --bind "$SCRATCH/a root" "$R9"
run_mount "$R9" "$S9" "ephemeral.dirs=/etc ephemeral.tmpfs=none"
assert_eq "space in the fs path: mount exits 0" 0 "$RC"
[ "$RC" = 0 ] || diag "$OUT"
check "space in the fs path: status reads the state" "$EPHEMERAL" status --root "$R9" --store "$S9"
assert_match "space in the fs path: recorded, escaped" 'fsroot=[^ ]*/a\\x20root/etc ' "$(cat "$S9/state")"
run_mount "$R9" "$S9" "ephemeral.dirs=/etc ephemeral.tmpfs=none"
if printf '%s\n' "$OUT" | grep -q malformed; then
	not_ok "space in the fs path: a second run finds the state intact"
	diag "$OUT"
else ok "space in the fs path: a second run finds the state intact"; fi

# An earlier run that stopped between creating the upper and giving it the
# lower's identity (killed by a hook timeout, say) left an empty upper owned by
# root, mode 0700: the next run must not mount /etc with that root, or no user
# can read /etc/passwd any more.
R10=$SCRATCH/root10 S10=$SCRATCH/store10
mkroot "$R10"
run_mount "$R10" "$S10" "ephemeral.dirs=/var/log ephemeral.tmpfs=none"
mkdir -m 0700 "$S10/etc" "$S10/etc/upper" "$S10/etc/work"
run_mount "$R10" "$S10" "ephemeral.dirs=/etc,/var/log ephemeral.tmpfs=none"
assert_eq "interrupted run: exit 0" 0 "$RC"
assert_eq "interrupted run: merged /etc has the lower's owner and mode" "12:34 751" "$(stat -c '%u:%g %a' "$R10/etc")"

# A FIFO where the config file should be (a broken or hostile root) must not
# stall the boot: nothing ever writes to it. "timeout" is only a hang guard here.
R11=$SCRATCH/root11 S11=$SCRATCH/store11
mkroot "$R11"
mkfifo "$SCRATCH/fifo.conf"
printf 'ephemeral.dirs=/etc ephemeral.tmpfs=none\n' >"$SCRATCH/cmdline"
timeout 120 "$EPHEMERAL" mount --root "$R11" --store "$S11" --cmdline "$SCRATCH/cmdline" \
	--config "$SCRATCH/fifo.conf" >/dev/null 2>&1
RC=$?
if [ "$RC" = 124 ]; then not_ok "a FIFO as config file does not block"; else ok "a FIFO as config file does not block"; fi
assert_eq "a FIFO as config file: /etc still mounted" overlay "$(findmnt -n -o FSTYPE --mountpoint "$R11/etc")"
R12=$SCRATCH/root12 S12=$SCRATCH/store12
mkroot "$R12"
mkfifo "$R12/etc/fstab"
timeout 120 "$EPHEMERAL" mount --root "$R12" --store "$S12" --cmdline "$SCRATCH/cmdline" \
	--config /nonexistent >/dev/null 2>&1
RC=$?
if [ "$RC" = 124 ]; then not_ok "a FIFO as the root's fstab does not block"; else ok "a FIFO as the root's fstab does not block"; fi
assert_eq "a FIFO as the root's fstab: /etc still mounted" overlay "$(findmnt -n -o FSTYPE --mountpoint "$R12/etc")"

# The same directory under two names (a bind mount): one overlay only.
R13=$SCRATCH/root13 S13=$SCRATCH/store13
mkroot "$R13"
mkdir -p "$R13/srv/other"
mount --bind "$R13/srv/real" "$R13/srv/other"
run_mount "$R13" "$S13" "ephemeral.dirs=/srv/real,/srv/other ephemeral.tmpfs=none"
assert_eq "same dir twice: exit 100" 100 "$RC"
assert_match "same dir twice: reported" "'/srv/other' skipped: is the same directory as another entry" "$OUT"
assert_eq "same dir twice: first one mounted" overlay "$(findmnt -n -o FSTYPE --mountpoint "$R13/srv/real")"

# A store too small for the state file: an overlay whose record cannot be written
# would lose its changes at shutdown (flush knows only what the state lists), so
# it must not stay mounted, and the exit code must say something failed.
R14=$SCRATCH/root14 S14=$SCRATCH/store14
mkroot "$R14"
run_mount "$R14" "$S14" "ephemeral.dirs=/etc,/var/log ephemeral.tmpfs=none ephemeral.size=4K"
assert_eq "state not writable: exit 111" 111 "$RC"
assert_match "state not writable: reported" "cannot write $S14/state" "$OUT"
assert_eq "state not writable: /etc not left mounted" 0 "$(mounts_at "$R14/etc")"
assert_eq "state not writable: /var/log not left mounted" 0 "$(mounts_at "$R14/var/log")"

check_fails "unknown option is refused" "$EPHEMERAL" mount --bogus
check_fails "a missing root is a failure" "$EPHEMERAL" mount --root "$SCRATCH/nope" --store "$SCRATCH/s7" --cmdline /dev/null
finish
