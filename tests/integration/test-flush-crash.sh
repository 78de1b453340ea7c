#!/bin/bash
# Crash safety of ephemeral flush: kill -9 the flush at random points on a
# loop-mounted ext4 lower. After every kill each file must be either its old or its
# new version (never torn, never missing when both versions exist); the next flush
# removes the temporaries and the lower ends up exactly as the merged view.
# Seed: FLUSH_CRASH_SEED (printed); rounds: FLUSH_CRASH_ROUNDS (default 20).
set -uo pipefail
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
# shellcheck source=tests/integration/flush-common.sh
. "$(dirname "$0")/flush-common.sh"
need_root
in_private_mount_ns "$@"
need_manifest
if ! command -v mkfs.ext4 >/dev/null || ! losetup -f >/dev/null 2>&1; then
	echo "# skipped: no mkfs.ext4 or loop devices"
	exit 77
fi
flush_scratch
cd "$SCRATCH" || exit 1

seed=${FLUSH_CRASH_SEED:-$(( $(date +%s) % 100000 ))}
rounds=${FLUSH_CRASH_ROUNDS:-20}
RANDOM=$seed
diag "seed $seed (rerun with FLUSH_CRASH_SEED=$seed)"

R=$SCRATCH/root
S=$SCRATCH/store
loop_fs "$SCRATCH/root.img" 256M 5e1f7a11-0000-4000-8000-0000000c0a5e "$R" || { not_ok "loop-mounted ext4"; finish; }
mkdir -p "$R/etc/keepdir" "$R/etc/olddir/sub"
for i in $(seq 1 400); do
	yes "old version of file $i" | head -c $((4096 + i * 37)) >"$R/etc/f$i"
done
for i in $(seq 1 20); do printf 'old %s\n' "$i" >"$R/etc/olddir/sub/g$i"; done
cp -a "$R/etc" "$R/pristine"

make_store "$S"
STATE=$(state_line "$R" /etc etc)
write_state "$S" "$STATE"
overlay_up "$R" /etc "$S" etc
for i in $(seq 1 400); do
	case $((i % 10)) in
	0) rm "$R/etc/f$i" ;;
	*) yes "NEW version of file $i" | head -c $((8192 + i * 53)) >"$R/etc/f$i" ;;
	esac
done
for i in $(seq 401 440); do printf 'added %s\n' "$i" >"$R/etc/f$i"; done
rm -r "$R/etc/olddir" && mkdir -p "$R/etc/olddir/new" && printf 'opaque\n' >"$R/etc/olddir/new/x"
mkdir -p "$R/etc/newtree/a/b" && printf 'deep\n' >"$R/etc/newtree/a/b/c"
"$MANIFEST" --links-via "$S/etc/upper" "$R/etc" >"$SCRATCH/merged"
(cd "$R/etc" && sha256sum f*) >"$SCRATCH/new.sums"
umount "$R/etc"
(cd "$R/pristine" && sha256sum f*) >"$SCRATCH/old.sums"
cp -a "$S/etc" "$S/etc.orig"

restore() {
	rm -rf "${R:?}/etc" "${S:?}/etc" && cp -a "$R/pristine" "$R/etc" && cp -a "$S/etc.orig" "$S/etc" &&
		write_state "$S" "$STATE" && sync
}

# check_files: every f* is old or new (or absent where one version is absent).
check_files() {
	(cd "$R/etc" && sha256sum f* 2>/dev/null) | sums_old_or_new "$SCRATCH/old.sums" "$SCRATCH/new.sums"
}

restore
t0=$(date +%s%N)
"$EPHEMERAL" flush --root "$R" --store "$S" >/dev/null 2>&1
t1=$(date +%s%N)
full_ms=$(((t1 - t0) / 1000000 + 1))
diag "one flush takes ~${full_ms} ms"

partial=0 leftovers=0
for round in $(seq 1 "$rounds"); do
	restore
	delay_ms=$((RANDOM % (full_ms + 1)))
	"$EPHEMERAL" flush --root "$R" --store "$S" >/dev/null 2>&1 &
	pid=$!
	sleep "$(printf '0.%03d' "$delay_ms")"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	res=$(check_files)
	case "$res" in
	*"bad=0") ok "round $round (kill after ${delay_ms} ms): every file old or new ($(tail -1 <<<"$res" | cut -d' ' -f1-2))" ;;
	*) not_ok "round $round (kill after ${delay_ms} ms, seed $seed): torn or missing files"; head -10 <<<"$res" | sed 's/^/#   /' ;;
	esac
	case "$res" in *"old=0 "*|*" new=0 "*) ;; *) partial=$((partial + 1)) ;; esac
	[ -e "$R/etc/.#ephemeral.flush-in-progress" ] && leftovers=$((leftovers + 1))
	out=$("$EPHEMERAL" flush --root "$R" --store "$S" 2>&1)
	rc=$?
	"$MANIFEST" "$R/etc" >"$SCRATCH/lower"
	if [ "$rc" = 0 ] && cmp -s "$SCRATCH/merged" "$SCRATCH/lower" &&
		[ -z "$(find "$R/etc" -name '.#ephemeral.*')" ]; then
		ok "round $round: the next flush completes it, temporaries gone"
	else
		not_ok "round $round (seed $seed): the next flush did not restore the merged view (exit $rc)"
		printf '%s\n' "$out" | head -5 | sed 's/^/#   /'
		diff "$SCRATCH/merged" "$SCRATCH/lower" | head -10 | sed 's/^/#   /'
	fi
done
diag "$partial of $rounds kills landed mid-rename (mixed old and new), $leftovers left a marker"

finish
