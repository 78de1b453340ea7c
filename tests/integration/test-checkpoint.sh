#!/bin/bash
# ephemeral checkpoint + replay by ephemeral mount, on real mounts: write, checkpoint,
# write more, crash (the store dropped without a flush), mount the same root again:
# the lower holds exactly the merged view at checkpoint time (content, type, owner,
# mode, xattrs and ACLs, mtime, hardlinks, whiteouts, opaque dirs), nothing written
# after it; the boot line says so. Also: an appended log costs about the appended
# bytes and is replayed exactly; nothing changed -> nothing written; a clean flush
# retires the journal; a damaged generation is skipped for the previous one; a
# journal inside an overlay is refused; checkpoint=0 and --dry-run write nothing.
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

J=/var/lib/ephemeral/journal
# boot ROOT STORE [CMDLINE]: what the initramfs does (replay, then the overlays).
boot() {
	printf '%s\n' "${3:-ephemeral.dirs=/etc,/var/log ephemeral.tmpfs=none}" >"$SCRATCH/cmdline"
	OUT=$("$EPHEMERAL" mount --root "$1" --store "$2" --cmdline "$SCRATCH/cmdline" \
		--config /dev/null 2>&1)
	RC=$?
}
# crash ROOT STORE: a power cut: the overlays and the store vanish, nothing merged.
crash() {
	umount -l "$1/etc" "$1/var/log" 2>/dev/null
	umount -l "$2"
}
ckpt() { CK=$("$EPHEMERAL" checkpoint --root "$1" --store "$2" 2>&1); CKRC=$?; }
lower_manifest() { "$MANIFEST" "$1/etc" >"$2.etc" && "$MANIFEST" "$1/var/log" >"$2.log"; }
merged_manifest() {
	"$MANIFEST" --links-via "$2/etc/upper" "$1/etc" >"$3.etc" &&
		"$MANIFEST" --links-via "$2/var-log/upper" "$1/var/log" >"$3.log"
}
same_trees() {
	if cmp -s "$2.etc" "$3.etc" && cmp -s "$2.log" "$3.log"; then ok "$1"; else
		not_ok "$1"
		diff -u "$2.etc" "$3.etc" | head -20 | sed 's/^/#   /'
		diff -u "$2.log" "$3.log" | head -20 | sed 's/^/#   /'
	fi
}

# --- 1. the basic property with every kind of change -------------------------
R=$SCRATCH/r1 S=$SCRATCH/s1
mkdir -p "$R/etc/gone/sub" "$R/etc/opq/old" "$R/etc/keep" "$R/var/log"
echo old >"$R/etc/modified"
echo bye >"$R/etc/deleted"
echo x >"$R/etc/gone/sub/f"
echo y >"$R/etc/opq/old/f"
echo base >"$R/etc/keep/untouched"
echo l1 >"$R/var/log/syslog"
boot "$R" "$S"
assert_eq "mount exits 0" 0 "$RC"
(
	cd "$R/etc" || exit 1
	echo new >modified
	rm deleted
	rm -rf gone
	rm -rf opq && mkdir -p opq/newsub && echo z >opq/newsub/f
	echo linked >h1 && ln h1 h2
	setfattr -n user.note -v hello h1
	setfacl -m u:4242:rw modified
	ln -s ../target sym
	mkfifo fifo
	touch -d @1000000000.123456789 modified
	chown 123:456 h1
	chmod 4750 h1
	echo l2 >>"$R/var/log/syslog"
	mkdir -p "$R/var/log/app" && printf 'app\n' >"$R/var/log/app/app.log"
)
merged_manifest "$R" "$S" "$SCRATCH/at-ckpt"
ckpt "$R" "$S"
assert_eq "checkpoint exits 0" 0 "$CKRC"
assert_match "checkpoint prints a summary" "^checkpoint: [0-9]+ entries .* bytes written" "$CK"
check "the journal has a current generation" test -L "$R$J/current"
# after the checkpoint: more changes, which the power cut loses
echo later >"$R/etc/modified"
echo later >"$R/etc/after-checkpoint"
rm "$R/etc/keep/untouched"
echo l3 >>"$R/var/log/syslog"
crash "$R" "$S"
boot "$R" "$S"
assert_eq "mount after the crash exits 0" 0 "$RC"
assert_match "the boot line tells of the replay" \
	"last shutdown did not complete: replayed the checkpoint of [0-9-]+ [0-9:]+ UTC \([0-9]+ entries\)" "$OUT"
check_fails "the journal is retired" test -e "$R$J/current"
check_fails "no generation is left" compgen -G "$R$J/gen-*"
assert_match "the boot line is in /var/log/ephemeral.log (RAM until the next checkpoint)" \
	"boot: last shutdown did not complete" "$(cat "$R/var/log/ephemeral.log")"
umount "$R/etc" "$R/var/log"
lower_manifest "$R" "$SCRATCH/after"
same_trees "lower after replay == merged view at checkpoint time" "$SCRATCH/at-ckpt" "$SCRATCH/after"
check_fails "a file written after the checkpoint is not there" test -e "$R/etc/after-checkpoint"
assert_eq "a file changed after the checkpoint has its checkpoint version" new "$(cat "$R/etc/modified")"
check "a file deleted after the checkpoint is there" test -e "$R/etc/keep/untouched"
st=$("$EPHEMERAL" status --root "$R" --store "$S" 2>&1)
assert_match "status shows the last shutdown's outcome" "^last shutdown: last shutdown did not complete: replayed" "$st"
assert_match "status: no checkpoint yet in this boot" "^checkpoints: every 900 s to $J; none yet" "$st"
ckpt "$R" "$S"
st=$("$EPHEMERAL" status --root "$R" --store "$S" --json 2>&1)
assert_match "status --json: the last checkpoint's age and size" \
	'"checkpoint":\{"interval_sec":900,"journal":"[^"]*","last_time":[0-9]+,"last_age_sec":[0-9]+,"last_entries":[0-9]+,"last_bytes":[0-9]+\},"last_shutdown":"last shutdown did not complete' "$st"
umount "$S"

# --- 2. an appended log: cost and exactness -----------------------------------
R=$SCRATCH/r2 S=$SCRATCH/s2
mkdir -p "$R/etc" "$R/var/log"
head -c $((20 << 20)) /dev/urandom >"$R/var/log/big.log"
boot "$R" "$S"
head -c 4096 /dev/urandom >>"$R/var/log/big.log" # copied up: 20 MiB in the upper
ckpt "$R" "$S"
assert_match "first checkpoint copies the log" "1 copied" "$CK"
head -c $((1 << 20)) /dev/urandom >>"$R/var/log/big.log"
cp "$R/var/log/big.log" "$SCRATCH/big-at-ckpt"
ckpt "$R" "$S"
assert_match "second checkpoint appends only the tail" "1 appended" "$CK"
bytes=$(sed -n 's/.* \([0-9]*\) bytes written.*/\1/p' <<<"$CK")
if [ -n "$bytes" ] && [ "$bytes" -le $(((1 << 20) + 65536)) ]; then
	ok "1 MiB appended to a 20 MiB log costs $bytes bytes"
else not_ok "appending 1 MiB cost ${bytes:-?} bytes: $CK"; fi
ckpt "$R" "$S"
assert_match "nothing changed: nothing written" "nothing changed" "$CK"
head -c 5000 /dev/urandom >>"$R/var/log/big.log"
crash "$R" "$S"
boot "$R" "$S"
umount "$R/etc" "$R/var/log"
check "the appended log is replayed exactly as at the checkpoint" cmp "$SCRATCH/big-at-ckpt" "$R/var/log/big.log"
umount "$S"

# --- 3. a clean flush retires the journal; the next boot says so -------------
R=$SCRATCH/r3 S=$SCRATCH/s3
mkdir -p "$R/etc" "$R/var/log"
boot "$R" "$S"
echo one >"$R/etc/one"
ckpt "$R" "$S"
echo two >"$R/etc/two"
out=$("$EPHEMERAL" flush --root "$R" --store "$S" 2>&1)
assert_eq "flush exits 0" 0 "$?"
check_fails "the flush retired the journal" test -e "$R$J/current"
check "the flush noted the shutdown" test -s "$R$J/last-shutdown"
assert_eq "both files flushed" "one two" "$(cat "$R/etc/one") $(cat "$R/etc/two")"
umount "$S"
boot "$R" "$S"
assert_match "boot line: last shutdown merged" "last shutdown merged [0-9]+ entries" "$OUT"
crash "$R" "$S"
# /etc only: the boot line goes straight to the lower /var/log, the upper stays empty
boot "$R" "$S" "ephemeral.dirs=/etc ephemeral.tmpfs=none"
ckpt "$R" "$S"
assert_match "an empty upper: nothing to record" "nothing changed" "$CK"
echo lost >"$R/etc/lost"
crash "$R" "$S"
boot "$R" "$S"
assert_match "boot line: a crash without a checkpoint loses the changes" \
	"no checkpoint to replay: the changes of the last boot after .* are lost" "$OUT"
crash "$R" "$S"

# --- 4. a damaged generation is skipped for the previous one ------------------
R=$SCRATCH/r4 S=$SCRATCH/s4
mkdir -p "$R/etc" "$R/var/log"
boot "$R" "$S"
echo first >"$R/etc/f"
ckpt "$R" "$S"
echo second >"$R/etc/f"
echo second >"$R/etc/g"
ckpt "$R" "$S"
cur=$(readlink "$R$J/current")
check "two generations are kept" test "$(compgen -G "$R$J/gen-*" | wc -l)" = 2
echo garbage >"$R$J/$cur/etc/g"
crash "$R" "$S"
boot "$R" "$S"
assert_match "the damaged one is named" "is damaged \(a file does not match its record\): skipped" "$OUT"
assert_match "the previous one is replayed" "replaying the older checkpoint" "$OUT"
umount "$R/etc" "$R/var/log"
assert_eq "the previous generation's content" first "$(cat "$R/etc/f")"
check_fails "nothing of the damaged one" test -e "$R/etc/g"
umount "$S"

# --- 5. refusals and no-ops ---------------------------------------------------
R=$SCRATCH/r5 S=$SCRATCH/s5
mkdir -p "$R/etc" "$R/var/log"
boot "$R" "$S" "ephemeral.dirs=/etc,/var/log ephemeral.tmpfs=none ephemeral.journal=/etc/journal"
echo x >"$R/etc/x"
ckpt "$R" "$S"
assert_eq "a journal inside an overlaid dir: exit 111" 111 "$CKRC"
assert_match "... with a clear reason" "must be on the root filesystem, not in an overlaid dir" "$CK"
crash "$R" "$S"
boot "$R" "$S" "ephemeral.dirs=/etc,/var/log ephemeral.tmpfs=none ephemeral.checkpoint=0"
echo x >"$R/etc/x"
ckpt "$R" "$S"
assert_eq "checkpoint=0: exit 0" 0 "$CKRC"
assert_match "checkpoint=0: says so" "checkpoints are off" "$CK"
check_fails "checkpoint=0: no journal" test -e "$R$J"
crash "$R" "$S"
boot "$R" "$S"
out=$("$EPHEMERAL" checkpoint --root "$R" --store "$S" --dry-run 2>&1)
assert_match "--dry-run without a journal" "does not exist yet" "$out"
check_fails "--dry-run creates no journal" test -e "$R$J"
ckpt "$R" "$S"
before=$(ls -R "$R$J")
echo x >"$R/etc/x"
out=$("$EPHEMERAL" checkpoint --root "$R" --store "$S" --dry-run 2>&1)
assert_match "--dry-run says what it would record" "would record [0-9]+ entries" "$out"
assert_eq "--dry-run writes nothing" "$before" "$(ls -R "$R$J")"
crash "$R" "$S"

# --- 6. --if-due, and the sweeper's RAM watch at 80 % of the store -----------
R=$SCRATCH/r6 S=$SCRATCH/s6 T=$SCRATCH/t6
mkdir -p "$R/etc" "$R/var/log" "$T"
boot "$R" "$S" "ephemeral.dirs=/etc,/var/log ephemeral.tmpfs=none ephemeral.size=16M"
echo a >"$R/etc/a"
ckpt "$R" "$S"
cur=$(readlink "$R$J/current")
echo b >"$R/etc/b"
"$EPHEMERAL" checkpoint --root "$R" --store "$S" --if-due >/dev/null 2>&1
assert_eq "--if-due right after a checkpoint: nothing" "$cur" "$(readlink "$R$J/current")"
head -c $((14 << 20)) /dev/zero >"$R/var/log/fill"
"$EPHEMERAL" checkpoint --root "$R" --store "$S" --if-due >/dev/null 2>&1
check "--if-due with the store over 80 %: a checkpoint" test "$cur" != "$(readlink "$R$J/current")"
cur=$(readlink "$R$J/current")
echo c >"$R/etc/c"
mount -t tmpfs -o size=8M t6 "$T"
out=$(env -u INVOCATION_ID "$EPHEMERAL_SWEEP" --once --root "$R" --store "$S" "$T" 2>&1)
assert_match "the sweeper warns and starts a checkpoint" "recording a checkpoint" "$out"
for _ in $(seq 1 100); do [ "$cur" != "$(readlink "$R$J/current")" ] && break; sleep 0.1; done
check "the sweeper's checkpoint recorded the new change" test -e "$R$J/current/etc/c"
out=$(INVOCATION_ID=x "$EPHEMERAL_SWEEP" --once --root "$R" --store "$S" "$T" 2>&1)
assert_match "under systemd (sandboxed) the sweeper leaves it to the timer" "ephemeral-checkpoint.timer" "$out"
umount "$T"
crash "$R" "$S"

finish
