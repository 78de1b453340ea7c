#!/bin/bash
# ephemeral flush against deep and large uppers (issue 9): the flush stays linear
# in depth (printed: seconds per 1 000 levels), holds a bounded number of fds
# (a hard limit of 4 096 is enough at the deepest level it accepts), and refuses a
# tree deeper than MERGE_MAX_DEPTH (1024) clearly, before touching that dir: exit
# 111, the lower unchanged, the change kept in RAM.
# FLUSH_STRESS_ENTRIES (default 50 000) entries for the size case; the issue's
# 1 M takes ~20x longer (measured: 100 000 in 24 s with ASan on a loaded 2-core
# machine) and is not run in CI.
set -uo pipefail
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
# shellcheck source=tests/integration/flush-common.sh
. "$(dirname "$0")/flush-common.sh"
need_root
in_private_mount_ns "$@"
flush_scratch
cd "$SCRATCH" || exit 1

R=$SCRATCH/root
E=$R/etc
S=$SCRATCH/store
# The lower on a tmpfs too: the numbers measure the flush, not a shared disk (on
# this ext4, creating a 10 000-deep chain takes 6 s and removing it 30 s).
mkdir -p "$R"
mount -t tmpfs -o size=1G lower "$R"
mkdir -p "$E" "$R/var/log"
make_store "$S"
STATE_LINE=$(state_line "$R" /etc etc) # once: it runs findmnt and blkid

# chain DIR DEPTH FILE TEXT: DIR/d/d/.../d (DEPTH levels) with FILE holding TEXT at the
# bottom (one level at a time: the paths go beyond PATH_MAX).
chain() {
	perl -e 'my ($top, $depth, $name, $text) = @ARGV;
		system("mkdir", "-p", $top); chdir $top or die "$top: $!";
		for (1 .. $depth) { mkdir "d"; chdir "d" or die "d: $!" }
		open(my $f, ">", $name) or die "$name: $!"; print $f $text;' "$@"
}
# bottom DIR DEPTH FILE: the text of the file at the bottom of the chain.
bottom() {
	perl -e 'my ($top, $depth, $name) = @ARGV; chdir $top or die;
		for (1 .. $depth) { chdir "d" or die "d: $!" }
		if (open(my $f, "<", $name)) { print <$f> } else { print "(missing)" }' "$@"
}
# deep_case DEPTH: a chain in the lower, changed at the bottom in the upper (every
# level a dir merged in place); prints the flush's seconds.
deep_case() {
	rm -rf "${E:?}/d" "${S:?}/etc"
	write_state "$S" "$STATE_LINE"
	chain "$E" "$1" f old
	chain "$S/etc/upper" "$1" f new
	touch -r "$E" "$S/etc/upper"
	local t0 t1 rc
	t0=$(date +%s.%N)
	(ulimit -n 4096 && "$EPHEMERAL" flush --root "$R" --store "$S" >"$SCRATCH/out" 2>&1)
	rc=$?
	t1=$(date +%s.%N)
	echo "$rc $(echo "$t1 - $t0" | bc)"
}

declare -A secs
for depth in 250 500 1000; do
	read -r rc s < <(deep_case $depth)
	secs[$depth]=$s
	assert_eq "depth $depth: exit 0 within a hard limit of 4096 fds" 0 "$rc"
	[ "$rc" = 0 ] || sed 's/^/#   /' "$SCRATCH/out" | head -5
	assert_eq "depth $depth: merged at the bottom" new "$(bottom "$E" $depth f)"
	diag "depth $depth: $s s, $(echo "scale=2; $s * 1000 / $depth" | bc) s per 1000 levels"
done
# Linear: 4x the depth must not take 16x the time (quadratic); allow noise.
check "linear in depth: t(1000) < 6 * t(250) + 1 s" test "$(echo "${secs[1000]} < 6 * ${secs[250]} + 1" | bc)" = 1

# --- deeper than the limit: refused before anything of that dir is touched ---
rm -rf "${E:?}/d" "${S:?}/etc"
write_state "$S" "$STATE_LINE"
chain "$E" 1 f old
chain "$S/etc/upper" 10000 f new
printf 'shallow\n' >"$S/etc/upper/top"
t0=$(date +%s.%N)
out=$("$EPHEMERAL" flush --root "$R" --store "$S" 2>&1)
rc=$?
diag "depth 10000: refused in $(echo "$(date +%s.%N) - $t0" | bc) s"
assert_eq "depth 10000: exit 111" 111 "$rc"
assert_match "depth 10000: says why" "/etc: refusing to merge: nested deeper than 1024 levels .*; nothing changed: '/etc/d/d/d" "$out"
assert_eq "depth 10000: the lower is unchanged" old "$(bottom "$E" 1 f)"
check "depth 10000: nothing else of the dir merged either" test ! -e "$E/top"
assert_eq "depth 10000: the change stays in RAM" new "$(bottom "$S/etc/upper" 10000 f)"
assert_match "depth 10000: the state stays mounted" 'status=mounted' "$(cat "$S/state")"
rm -rf "${E:?}/d"
umount "$S" && make_store "$S" # faster than removing 10 000 levels

# --- many entries: 100 dirs of N/100 files each, all new ---
n=${FLUSH_STRESS_ENTRIES:-50000}
write_state "$S" "$STATE_LINE"
mkdir -p "$S/etc/upper"
perl -e 'my ($top, $n) = @ARGV; mkdir $top or die;
	for my $d (0 .. 99) { my $p = sprintf("%s/d%02d", $top, $d); mkdir $p or die;
		for my $i (0 .. $n / 100 - 1) { open(my $f, ">", "$p/f$i") or die } }' "$S/etc/upper/many" "$n"
touch -r "$E" "$S/etc/upper"
t0=$(date +%s.%N)
out=$("$EPHEMERAL" flush --root "$R" --store "$S" 2>&1)
rc=$?
diag "$n entries: $(echo "$(date +%s.%N) - $t0" | bc) s"
assert_eq "$n entries: exit 0" 0 "$rc"
assert_eq "$n entries: all on disk" "$n" "$(find "$E/many" -type f | wc -l)"

finish
