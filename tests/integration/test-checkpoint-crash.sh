#!/bin/bash
# Crash safety of checkpoints, with kill -9 at random points:
#  A. during a checkpoint (generation 2 being written over generation 1, with an
#     appended log sharing generation 1's copy): the next boot's replay leaves the
#     lower exactly as at checkpoint 1 or exactly as at checkpoint 2 — whole, never
#     a mix — and the journal is retired;
#  B. during the replay itself (ephemeral mount): every file is old or new, never
#     torn; the next mount completes it (lower == the checkpoint) and retires it.
# Seed: CKPT_CRASH_SEED (printed); rounds: CKPT_CRASH_ROUNDS (default 12 each).
set -uo pipefail
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
# shellcheck source=tests/integration/flush-common.sh
. "$(dirname "$0")/flush-common.sh"
need_root
in_private_mount_ns "$@"
need_manifest
flush_scratch
cd "$SCRATCH" || exit 1

seed=${CKPT_CRASH_SEED:-$(($(date +%s) % 100000))}
rounds=${CKPT_CRASH_ROUNDS:-12}
RANDOM=$seed
diag "seed $seed (rerun with CKPT_CRASH_SEED=$seed)"

J=/var/lib/ephemeral/journal
R=$SCRATCH/root S=$SCRATCH/store B=$SCRATCH/boot-store
printf 'ephemeral.dirs=/etc,/var/log ephemeral.tmpfs=none\n' >"$SCRATCH/cmdline"
boot() {
	"$EPHEMERAL" mount --root "$R" --store "$1" --cmdline "$SCRATCH/cmdline" --config /dev/null \
		>"$SCRATCH/boot.out" 2>&1
}
unboot() { umount -l "$R/etc" "$R/var/log" 2>/dev/null; umount -l "$1" 2>/dev/null; }
lower_manifest() { { "$MANIFEST" "$R/etc" && "$MANIFEST" "$R/var/log"; } >"$1"; }
merged_manifest() {
	{ "$MANIFEST" --links-via "$S/etc/upper" "$R/etc" &&
		"$MANIFEST" --links-via "$S/var-log/upper" "$R/var/log"; } >"$1"
}
sums() { (cd "$R" && sha256sum etc/f* var/log/big.log 2>/dev/null) >"$1"; }
restore_lower() { rm -rf "${R:?}/etc" "${R:?}/var/log" && cp -a "$SCRATCH/pristine/." "$R/"; }
restore_journal() { rm -rf "${R:?}$J" && cp -a "$SCRATCH/journal.$1" "$R$J"; }
# overlays_up: the running system's overlays again, on the store S kept aside.
overlays_up() {
	# (a volatile overlay leaves work/incompat/volatile, which refuses a new mount)
	rm -rf "${S:?}/etc/work" "$S/var-log/work" && mkdir "$S/etc/work" "$S/var-log/work" &&
		mount -t overlay -o "lowerdir=$R/etc,upperdir=$S/etc/upper,workdir=$S/etc/work,redirect_dir=off,index=off,metacopy=off" x "$R/etc" &&
		mount -t overlay -o "lowerdir=$R/var/log,upperdir=$S/var-log/upper,workdir=$S/var-log/work,redirect_dir=off,index=off,metacopy=off" x "$R/var/log"
}

mkdir -p "$R/etc/sub" "$R/var/log"
for i in $(seq 1 200); do yes "old $i" | head -c $((2048 + i * 41)) >"$R/etc/f$i"; done
head -c $((8 << 20)) /dev/urandom >"$R/var/log/big.log"
mkdir -p "$SCRATCH/pristine" && cp -a "$R/etc" "$R/var" "$SCRATCH/pristine/"
rm -rf "$SCRATCH/pristine/var/lib"
lower_manifest "$SCRATCH/m0"

boot "$S" || { not_ok "mount"; finish; }
# checkpoint 1
for i in $(seq 1 200); do [ $((i % 3)) = 0 ] && yes "one $i" | head -c $((4096 + i * 13)) >"$R/etc/f$i"; done
rm "$R/etc/f7"
head -c $((2 << 20)) /dev/urandom >>"$R/var/log/big.log"
"$EPHEMERAL" checkpoint --root "$R" --store "$S" >/dev/null 2>&1 || not_ok "checkpoint 1"
merged_manifest "$SCRATCH/m1"
sums "$SCRATCH/s1"
cp -a "$R$J" "$SCRATCH/journal.1"
# the changes of checkpoint 2
for i in $(seq 1 200); do [ $((i % 4)) = 0 ] && yes "two $i" | head -c $((6000 + i * 7)) >"$R/etc/f$i"; done
rm -rf "$R/etc/sub" && mkdir -p "$R/etc/sub/new" && echo opaque >"$R/etc/sub/new/x"
head -c $((1 << 20)) /dev/urandom >>"$R/var/log/big.log"
merged_manifest "$SCRATCH/m2"
sums "$SCRATCH/s2"
t0=$(date +%s%N)
"$EPHEMERAL" checkpoint --root "$R" --store "$S" >/dev/null 2>&1 || not_ok "checkpoint 2"
full_ms=$((($(date +%s%N) - t0) / 1000000 + 1))
cp -a "$R$J" "$SCRATCH/journal.2"
diag "one checkpoint takes ~${full_ms} ms"

# --- A. kill -9 during checkpoint 2 ------------------------------------------
got1=0 got2=0
for round in $(seq 1 "$rounds"); do
	restore_journal 1
	delay_ms=$((RANDOM % (full_ms + 1)))
	"$EPHEMERAL" checkpoint --root "$R" --store "$S" >/dev/null 2>&1 &
	pid=$!
	sleep "$(printf '0.%03d' "$delay_ms")"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	umount -l "$R/etc" "$R/var/log" # the power cut
	boot "$B"
	umount -l "$R/etc" "$R/var/log"
	lower_manifest "$SCRATCH/after"
	if cmp -s "$SCRATCH/after" "$SCRATCH/m1"; then
		got1=$((got1 + 1)) res="checkpoint 1"
	elif cmp -s "$SCRATCH/after" "$SCRATCH/m2"; then
		got2=$((got2 + 1)) res="checkpoint 2"
	else res=""; fi
	if [ -n "$res" ] && [ ! -e "$R$J/current" ]; then
		ok "A round $round (kill after ${delay_ms} ms): the lower is exactly $res, journal retired"
	else
		not_ok "A round $round (kill after ${delay_ms} ms, seed $seed): the lower is neither whole checkpoint"
		sed 's/^/#   /' "$SCRATCH/boot.out" | head -8
		diff "$SCRATCH/m2" "$SCRATCH/after" | head -8 | sed 's/^/#   /'
	fi
	umount -l "$B"
	restore_lower
	overlays_up || { not_ok "overlays up again"; finish; }
done
diag "A: $got1 rounds replayed checkpoint 1, $got2 checkpoint 2"
umount -l "$R/etc" "$R/var/log"

# --- B. kill -9 during the replay --------------------------------------------
restore_lower
restore_journal 2
t0=$(date +%s%N)
boot "$B"
full_ms=$((($(date +%s%N) - t0) / 1000000 + 1))
unboot "$B"
diag "one replaying mount takes ~${full_ms} ms"
# check_files: every file is as before the boot or as at checkpoint 2
check_files() {
	sums "$SCRATCH/now"
	sums_old_or_new "$SCRATCH/s0" "$SCRATCH/s2" <"$SCRATCH/now"
}
restore_lower
sums "$SCRATCH/s0"
for round in $(seq 1 "$rounds"); do
	restore_lower
	restore_journal 2
	sync
	delay_ms=$((RANDOM % (full_ms + 1)))
	"$EPHEMERAL" mount --root "$R" --store "$B" --cmdline "$SCRATCH/cmdline" --config /dev/null \
		>/dev/null 2>&1 &
	pid=$!
	sleep "$(printf '0.%03d' "$delay_ms")"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	unboot "$B"
	res=$(check_files)
	case "$res" in
	*"bad=0") ok "B round $round (kill after ${delay_ms} ms): every file old or new ($(tail -1 <<<"$res" | cut -d' ' -f1-2))" ;;
	*) not_ok "B round $round (kill after ${delay_ms} ms, seed $seed): torn or missing files"; head -10 <<<"$res" | sed 's/^/#   /' ;;
	esac
	boot "$B"
	umount -l "$R/etc" "$R/var/log"
	lower_manifest "$SCRATCH/after"
	if cmp -s "$SCRATCH/after" "$SCRATCH/m2" && [ ! -e "$R$J/current" ] &&
		[ -z "$(find "$R/etc" "$R/var/log" -name '.#ephemeral.*')" ]; then
		ok "B round $round: the next mount completes the replay and retires the journal"
	else
		not_ok "B round $round (seed $seed): the next mount did not complete the replay"
		sed 's/^/#   /' "$SCRATCH/boot.out" | head -8
		diff "$SCRATCH/m2" "$SCRATCH/after" | head -8 | sed 's/^/#   /'
	fi
	umount -l "$B"
done

finish
