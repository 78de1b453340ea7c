#!/bin/bash
# Power loss during flush, on an ext4 loop image. Each trial cuts the power just
# before the N-th call of one syscall that changes the disk (rename, unlink, mkdir,
# write, sync...): strace kills the flush on entering that call (the call never
# runs), then the ext4 shutdown ioctl without log flush (tests/lib/godown.c, as
# xfstests' godown) drops everything the journal has not committed. Then unmount,
# mount again (journal replay), and require: every entry old or new, the next
# `ephemeral mount` removes the marker and every temporary and changes nothing
# else, and `e2fsck -fn` finds the filesystem clean.
# The points come from a seed (printed; EPHEMERAL_POWER_SEED to repeat one run);
# EPHEMERAL_POWER_TRIALS trials (default 30).
set -uo pipefail
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
# shellcheck source=tests/integration/flush-common.sh
. "$(dirname "$0")/flush-common.sh"
# shellcheck source=tests/integration/fault-common.sh
. "$(dirname "$0")/fault-common.sh"
need_root
in_private_mount_ns "$@"
need_manifest
GODOWN=$TOP/build/tests/godown
[ -x "$GODOWN" ] || make -s -C "$TOP" build/tests/godown >/dev/null || { echo "# cannot build $GODOWN"; exit 1; }
if ! command -v strace >/dev/null || ! command -v mkfs.ext4 >/dev/null || ! losetup -f >/dev/null 2>&1; then
	echo "# skipped: needs strace, mkfs.ext4 and loop devices"
	exit 77
fi
flush_scratch
cd "$SCRATCH" || exit 1
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0

seed=${EPHEMERAL_POWER_SEED:-$(($(date +%s) % 100000))}
trials=${EPHEMERAL_POWER_TRIALS:-30}
RANDOM=$seed
diag "seed $seed (repeat with EPHEMERAL_POWER_SEED=$seed)"
# The calls after which the disk can be in a new state.
CUT_AT="renameat renameat2 unlinkat mkdirat linkat symlinkat mknodat openat write sendfile copy_file_range ftruncate fchown fchownat fchmod fchmodat utimensat fsetxattr fremovexattr fsync syncfs"

IMG=$SCRATCH/root.img
R=$SCRATCH/root
S=$SCRATCH/store
MS=$SCRATCH/mstore
UUID=5e1f7a11-0000-4000-8000-00000000b10e
loop_fs "$IMG" 64M "$UUID" "$R" || { not_ok "loop-mounted ext4"; finish; }
scenario_lower "$R/etc"
for i in $(seq 1 150); do printf 'old %s\n' "$i" >"$R/etc/many$i"; done
make_store "$S"
write_state "$S" "$(state_line "$R" /etc etc)"
overlay_up "$R" /etc "$S" etc
scenario_change "$R/etc"
for i in $(seq 1 150); do
	case $((i % 3)) in
	0) rm "$R/etc/many$i" ;;
	*) printf 'NEW %s\n' "$i" >"$R/etc/many$i" ;;
	esac
done
entry_manifest "$R/etc" >"$SCRATCH/new"
umount "$R/etc"
entry_manifest "$R/etc" >"$SCRATCH/old"
cp -a "$S/etc" "$SCRATCH/upper.orig"
if ! umount "$R" || ! losetup -d "$LOOPDEV" || ! cp --sparse=always "$IMG" "$SCRATCH/pristine.img"; then
	not_ok "pristine image"
	finish
fi
printf 'ephemeral.dirs=/etc ephemeral.tmpfs=none\n' >"$SCRATCH/cmdline"

# attach: the pristine image on a new loop device mounted on R, the store holding
# the boot's upper. detach: unmounted, loop device gone.
attach() {
	cp --sparse=always "$SCRATCH/pristine.img" "$IMG" && LOOPDEV=$(losetup -f --show "$IMG") &&
		mount "$LOOPDEV" "$R" || return 1
	rm -rf "${S:?}/etc" && cp -a "$SCRATCH/upper.orig" "$S/etc" &&
		write_state "$S" "$(state_line "$R" /etc etc)"
}
detach() {
	while mountpoint -q "$R"; do umount "$R" || return 1; done
	losetup -d "$LOOPDEV"
}
flush=("$EPHEMERAL" flush --root "$R" --store "$S")

attach || { not_ok "attach the image"; finish; }
strace -f -qq -c -U calls,name -o "$SCRATCH/counts.raw" "${flush[@]}" >/dev/null 2>&1
awk -v want=" $CUT_AT " '$1 ~ /^[0-9]+$/ && index(want, " " $2 " ") { print $2, $1 }' "$SCRATCH/counts.raw" >"$SCRATCH/counts"
detach
mapfile -t points <"$SCRATCH/counts"
[ ${#points[@]} -gt 0 ] || { not_ok "the flush makes calls that change the disk"; finish; }
diag "cut points: $(tr '\n' ' ' <"$SCRATCH/counts")"

for t in $(seq 1 "$trials"); do
	read -r sc calls <<<"${points[$((RANDOM % ${#points[@]}))]}"
	n=$((RANDOM % calls + 1))
	what="trial $t: power cut before $sc #$n of $calls"
	attach || { not_ok "$what: attach the image"; detach; continue; }
	# Not --seccomp-bpf: strace 6.1 then injects no signal. The subshell keeps bash's
	# "Killed" notice out of the log.
	(strace -f -qq -o /dev/null -e trace="$sc" -e inject="$sc:signal=SIGKILL:when=$n" \
		"${flush[@]}" >"$SCRATCH/out" 2>&1; true) 2>/dev/null
	"$GODOWN" "$R" || { not_ok "$what: shutdown ioctl"; detach; continue; }
	if ! umount "$R" || ! mount "$LOOPDEV" "$R"; then
		not_ok "$what: mount after the cut (journal replay)"
		detach
		continue
	fi
	problems=""
	entry_manifest "$R/etc" >"$SCRATCH/cur"
	res=$(old_or_new "$SCRATCH/old" "$SCRATCH/new" "$SCRATCH/cur" $SCENARIO_UNITS)
	[ "${res##*$'\n'}" = bad=0 ] || problems+="not old-or-new after the cut: $(head -5 <<<"$res" | tr '\n' ';') "
	marker=no
	[ -e "$R/etc/.#ephemeral.flush-in-progress" ] && marker=yes
	"$EPHEMERAL" mount --root "$R" --store "$MS" --cmdline "$SCRATCH/cmdline" --config /dev/null \
		>"$SCRATCH/mount.out" 2>&1
	rc=$?
	umount "$R/etc" 2>/dev/null
	umount "$MS" 2>/dev/null
	[ "$rc" = 0 ] || problems+="the next mount exits $rc: $(head -3 "$SCRATCH/mount.out" | tr '\n' ';') "
	left=$(temporaries "$R/etc")
	[ -z "$left" ] || problems+="the next mount leaves: $(head -3 <<<"$left" | tr '\n' ' ') "
	entry_manifest "$R/etc" >"$SCRATCH/after"
	cmp -s <(grep -v '\.#ephemeral\.' "$SCRATCH/cur") "$SCRATCH/after" ||
		problems+="the next mount changed user entries: $(diff <(grep -v '\.#ephemeral\.' "$SCRATCH/cur") "$SCRATCH/after" | grep '^[<>]' | head -3 | tr '\n' ';') "
	detach || problems+="cannot unmount "
	fsck=$(e2fsck -fn "$IMG" 2>&1) || problems+="e2fsck -fn: $(tail -3 <<<"$fsck" | tr '\n' ';') "
	if [ -z "$problems" ]; then
		ok "$what: old or new (marker $marker), next mount cleans up, e2fsck clean"
	else
		not_ok "$what (seed $seed)"
		diag "  $problems"
		sed 's/^/#   flush: /' "$SCRATCH/out" | tail -4
	fi
done
finish
