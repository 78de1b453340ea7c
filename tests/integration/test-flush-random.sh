#!/bin/bash
# Randomized property of ephemeral flush: for random lower trees and random
# sequences of operations through a real overlay, the lower after flush equals the
# merged view before it (manifest: content, type, owner, mode, xattrs, mtime,
# link structure). Seeds: FLUSH_SEEDS="s1 s2 ..." (default: 8 seeds from the
# clock, printed); ops per seed: FLUSH_OPS (default 250).
set -uo pipefail
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
# shellcheck source=tests/integration/flush-common.sh
. "$(dirname "$0")/flush-common.sh"
# shellcheck source=tests/integration/random-ops.sh
. "$(dirname "$0")/random-ops.sh"
need_root
in_private_mount_ns "$@"
need_manifest
flush_scratch
cd "$SCRATCH" || exit 1

base=$(($(date +%s) % 100000))
seeds=${FLUSH_SEEDS:-$(for i in 0 1 2 3 4 5 6 7; do echo $((base * 8 + i)); done)}
nops=${FLUSH_OPS:-250}
R=$SCRATCH/root
S=$SCRATCH/store
for seed in $seeds; do
	RANDOM=$seed
	rm -rf "$R" && mkdir -p "$R/etc" "$R/var/log"
	cd "$R/etc" && ops 80 && cd "$SCRATCH" || exit 1
	make_store "$S"
	write_state "$S" "$(state_line "$R" /etc etc)"
	if ! overlay_up "$R" /etc "$S" etc; then
		not_ok "seed $seed: mount the overlay"
		continue
	fi
	cd "$R/etc" && ops "$nops" && cd "$SCRATCH" || exit 1
	"$MANIFEST" --links-via "$S/etc/upper" "$R/etc" >"$SCRATCH/merged"
	umount "$R/etc"
	out=$("$EPHEMERAL" flush --root "$R" --store "$S" 2>&1)
	rc=$?
	"$MANIFEST" "$R/etc" >"$SCRATCH/lower"
	if [ "$rc" = 0 ] && cmp -s "$SCRATCH/merged" "$SCRATCH/lower"; then
		ok "seed $seed: lower after flush == merged view ($(wc -l <"$SCRATCH/merged") entries)"
	else
		not_ok "seed $seed: lower differs from the merged view (flush exit $rc; rerun: FLUSH_SEEDS=$seed)"
		printf '%s\n' "$out" | head -5 | sed 's/^/#   /'
		diff -u "$SCRATCH/merged" "$SCRATCH/lower" | head -20 | sed 's/^/#   /'
	fi
	umount "$S"
done

finish
