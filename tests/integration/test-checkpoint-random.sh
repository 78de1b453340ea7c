#!/bin/bash
# Randomized property of checkpoint + replay: for random lower trees and random
# operations through real overlays (writes, appends, truncation, chmod/chown,
# xattrs, ACLs, hardlinks, symlinks, FIFOs, devices, renames, deletions, opaque
# dirs, times), with two incremental checkpoints and more operations after the
# last one, a power cut and the next boot leave the lower exactly equal to the
# merged view at the last checkpoint. Seeds: CKPT_SEEDS="s1 s2 ..." (default: 6
# from the clock, printed); ops per step: CKPT_OPS (default 120).
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
seeds=${CKPT_SEEDS:-$(for i in 0 1 2 3 4 5; do echo $((base * 6 + i)); done)}
nops=${CKPT_OPS:-120}
printf 'ephemeral.dirs=/etc ephemeral.tmpfs=none\n' >"$SCRATCH/cmdline"
R=$SCRATCH/root S=$SCRATCH/store
boot() {
	"$EPHEMERAL" mount --root "$R" --store "$S" --cmdline "$SCRATCH/cmdline" --config /dev/null \
		>"$SCRATCH/boot.out" 2>&1
}
ckpt() { "$EPHEMERAL" checkpoint --root "$R" --store "$S" >>"$SCRATCH/ckpt.out" 2>&1; }

for seed in $seeds; do
	RANDOM=$seed
	umount -l "$R/etc" "$S" 2>/dev/null
	rm -rf "$R" && mkdir -p "$R/etc" "$R/var/log"
	cd "$R/etc" && ops 80 && cd "$SCRATCH" || exit 1
	: >"$SCRATCH/ckpt.out"
	if ! boot; then
		not_ok "seed $seed: mount"
		sed 's/^/#   /' "$SCRATCH/boot.out" | head -5
		continue
	fi
	cd "$R/etc" && ops "$nops" && cd "$SCRATCH" || exit 1
	ckpt || not_ok "seed $seed: checkpoint 1"
	cd "$R/etc" && ops "$nops" && cd "$SCRATCH" || exit 1
	ckpt || not_ok "seed $seed: checkpoint 2"
	"$MANIFEST" --links-via "$S/etc/upper" "$R/etc" >"$SCRATCH/at-ckpt"
	cd "$R/etc" && ops $((nops / 2)) && cd "$SCRATCH" || exit 1
	umount -l "$R/etc" && umount -l "$S" # the power cut
	boot
	umount "$R/etc"
	"$MANIFEST" "$R/etc" >"$SCRATCH/lower"
	if cmp -s "$SCRATCH/at-ckpt" "$SCRATCH/lower" && grep -q "replayed the checkpoint" "$SCRATCH/boot.out"; then
		ok "seed $seed: lower after replay == merged view at the last checkpoint ($(wc -l <"$SCRATCH/at-ckpt") entries)"
	else
		not_ok "seed $seed: lower differs from the merged view at the checkpoint (rerun: CKPT_SEEDS=$seed)"
		sed 's/^/#   /' "$SCRATCH/ckpt.out" "$SCRATCH/boot.out" | head -10
		diff -u "$SCRATCH/at-ckpt" "$SCRATCH/lower" | head -20 | sed 's/^/#   /'
	fi
	umount -l "$S"
done

finish
