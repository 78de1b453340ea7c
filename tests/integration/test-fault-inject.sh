#!/bin/bash
# Fault injection: run `ephemeral flush` and `ephemeral mount` (its cleanup of an
# interrupted flush) under strace, making the N-th call of one syscall fail with
# one errno, for every syscall the command makes (counted with strace -c on a run
# without faults). After each run:
#   - flush exited non-zero, or the merge is complete;
#   - the lower holds for every entry its old or its new version (a directory
#     replaced or deleted as a whole is entirely old or entirely new);
#   - a second flush without faults completes the merge exactly (the change was
#     never dropped from the upper), and leaves no temporaries;
#   - mount: its marker is never removed while a temporary is left, user files
#     are untouched, and a second mount without faults cleans up.
# N counts the calls of the whole process (as strace does), but the ones the loader
# and the sanitizer runtime make before main (counted on a run of `CMD --help`)
# are never picked. Default matrix: every syscall, N in {1, quarter, middle, last}
# of the command's own calls, one errno per (syscall, N) in rotation, plus
# EPHEMERAL_FAULT_EXTRA (20; half as many for mount) cases (syscall, N, errno)
# drawn from a seed that is printed (repeat a run with EPHEMERAL_FAULT_SEED).
# With EPHEMERAL_FAULT_FULL=1: N in {1, 2, 3, quarter, middle, 3 quarters,
# last-1, last} times EIO, ENOSPC, EACCES, ENOMEM.
# EPHEMERAL_FAULT_ONLY=REGEX keeps the cases ("syscall errno N") that match.
# Runs $EPHEMERAL (the ASan build in tests/run; LeakSanitizer off under strace).
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
if ! command -v strace >/dev/null || ! command -v mkfs.ext4 >/dev/null || ! losetup -f >/dev/null 2>&1; then
	echo "# skipped: needs strace, mkfs.ext4 and loop devices"
	exit 77
fi
flush_scratch
cd "$SCRATCH" || exit 1
# LeakSanitizer stops the world with ptrace, which fails under strace.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
ERRNOS=(EIO ENOSPC EACCES ENOMEM)
seed=${EPHEMERAL_FAULT_SEED:-$(($(date +%s) % 100000))}
extra=${EPHEMERAL_FAULT_EXTRA:-20}
diag "seed $seed for the $extra drawn cases (repeat with EPHEMERAL_FAULT_SEED=$seed)"
# Process start and exit: a failure there is the loader's, not ours.
SKIP=" execve exit_group arch_prctl set_tid_address set_robust_list rseq rt_sigaction sigaltstack getpid clock_gettime "

R=$SCRATCH/root   # the root the commands see
L=$SCRATCH/disk   # the same filesystem without the overlay: what is on disk
S=$SCRATCH/store
loop_fs "$SCRATCH/root.img" 64M 5e1f7a11-0000-4000-8000-00000000fa17 "$R" || { not_ok "loop-mounted ext4"; finish; }
mkdir -p "$L" "$R/var/log" && mount --bind "$R" "$L"
scenario_lower "$R/etc"
cp -a "$R/etc" "$SCRATCH/pristine"
make_store "$S"
STATE=$(state_line "$R" /etc etc)
write_state "$S" "$STATE"
overlay_up "$R" /etc "$S" etc
scenario_change "$R/etc"
"$MANIFEST" --links-via "$S/etc/upper" "$R/etc" >"$SCRATCH/merged"
entry_manifest "$R/etc" >"$SCRATCH/new"
umount "$R/etc"
entry_manifest "$L/etc" >"$SCRATCH/old"
cp -a "$S/etc" "$SCRATCH/upper.orig"

# restore [UPPER]: the lower before the flush, the upper (default: the one of the
# boot) and state of the boot, the overlay mounted (flush detaches it).
restore() {
	unmount "$R/etc"
	rm -rf "${L:?}/etc" "${S:?}/etc" && cp -a "$SCRATCH/pristine" "$L/etc" &&
		cp -a "${1:-$SCRATCH/upper.orig}" "$S/etc" && write_state "$S" "$STATE" &&
		mount -t overlay -o "lowerdir=$R/etc,upperdir=$S/etc/upper,workdir=$S/etc/work,redirect_dir=off,index=off,metacopy=off" \
			ephemeral-overlay "$R/etc"
}

# counts FILE CMD...: "calls name" per syscall of a run of CMD without faults.
counts() {
	local out=$1
	shift
	strace -f -qq -c -U calls,name -o "$out.raw" "$@" >/dev/null 2>&1
	awk '$1 ~ /^[0-9]+$/ && $2 != "total" { print $1, $2 }' "$out.raw" | sort -k2 >"$out"
}

# matrix COUNTS BASE EXTRA SEED: "syscall errno N" lines of the matrix, N past the
# BASE counts (the calls made before main); EXTRA more cases drawn from SEED.
matrix() {
	local i=0 calls name n e base c k
	local -a rows
	while read -r calls name; do
		case $SKIP in *" $name "*) continue ;; esac
		base=$(awk -v n="$name" '$2 == n { print $1 }' "$2")
		base=${base:-0}
		c=$((calls - base))
		[ "$c" -ge 1 ] && rows+=("$name $base $c")
	done <"$1"
	RANDOM=$4
	{
		for row in "${rows[@]}"; do
			read -r name base c <<<"$row"
			if [ -n "${EPHEMERAL_FAULT_FULL:-}" ]; then
				for n in 1 2 3 $((c / 4)) $((c / 2)) $((c * 3 / 4)) $((c - 1)) "$c"; do
					[ "$n" -ge 1 ] && [ "$n" -le "$c" ] && echo "$n"
				done | sort -nu | while read -r n; do
					for e in "${ERRNOS[@]}"; do echo "$name $e $((base + n))"; done
				done
			else
				for n in 1 $(((c + 3) / 4)) $(((c + 1) / 2)) "$c"; do echo "$n"; done | sort -nu | while read -r n; do
					echo "$name ${ERRNOS[$(((i + n) % 4))]} $((base + n))"
				done
				i=$((i + 1))
			fi
		done
		for ((k = 0; k < $3; k++)); do
			read -r name base c <<<"${rows[$((RANDOM % ${#rows[@]}))]}"
			echo "$name ${ERRNOS[$((RANDOM % 4))]} $((base + RANDOM % c + 1))"
		done
	} | sort -k1,1 -k3,3n -k2,2 -u | grep -E -- "${EPHEMERAL_FAULT_ONLY:-.}"
}

# unmount DIR...: every mount at or below each DIR, deepest first.
unmount() {
	local d m found=1
	while [ -n "$found" ]; do
		found=
		for d in "$@"; do
			while read -r m; do
				umount -l "$m" && found=1
			done < <(awk -v d="$d" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts | sort -r)
		done
	done
}

# inject SYSCALL ERRNO N CMD...: run CMD with the N-th SYSCALL failing; sets RC.
inject() {
	local sc=$1 e=$2 n=$3
	shift 3
	strace -f -qq -o /dev/null --seccomp-bpf -e trace="$sc" -e inject="$sc:error=$e:when=$n" \
		"$@" >"$SCRATCH/out" 2>&1
	RC=$?
}

# ---- flush ----
flush=("$EPHEMERAL" flush --root "$R" --store "$S")
restore || { not_ok "restore the scenario"; finish; }
counts "$SCRATCH/flush.counts" "${flush[@]}"
counts "$SCRATCH/flush.base" "$EPHEMERAL" flush --help
"$MANIFEST" "$L/etc" >"$SCRATCH/lower"
same_manifest "without faults the flush merges exactly" "$SCRATCH/merged" "$SCRATCH/lower"
matrix "$SCRATCH/flush.counts" "$SCRATCH/flush.base" "$extra" "$seed" >"$SCRATCH/flush.matrix"
diag "flush: $(wc -l <"$SCRATCH/flush.counts") syscalls, $(wc -l <"$SCRATCH/flush.matrix") cases"

failed_rc=0
while read -r sc e n; do
	what="flush, $sc #$n fails with $e"
	restore || { not_ok "$what: restore the scenario"; continue; }
	inject "$sc" "$e" "$n" "${flush[@]}"
	[ "$RC" != 0 ] && failed_rc=$((failed_rc + 1))
	unmount "$R/etc"
	problems=""
	entry_manifest "$L/etc" >"$SCRATCH/cur"
	res=$(old_or_new "$SCRATCH/old" "$SCRATCH/new" "$SCRATCH/cur" $SCENARIO_UNITS)
	[ "${res##*$'\n'}" = bad=0 ] || problems+="lower not old-or-new: $(head -5 <<<"$res" | tr '\n' ';') "
	"$MANIFEST" "$L/etc" >"$SCRATCH/lower"
	if [ "$RC" = 0 ] && ! cmp -s "$SCRATCH/merged" "$SCRATCH/lower"; then
		problems+="exit 0 but the merge is incomplete: $(diff "$SCRATCH/merged" "$SCRATCH/lower" | grep '^[<>]' | head -4 | tr '\n' ';') "
	fi
	out2=$("${flush[@]}" 2>&1)
	rc2=$?
	"$MANIFEST" "$L/etc" >"$SCRATCH/lower"
	if [ "$rc2" != 0 ] || ! cmp -s "$SCRATCH/merged" "$SCRATCH/lower"; then
		problems+="the flush after it (exit $rc2) does not complete the merge: $(diff "$SCRATCH/merged" "$SCRATCH/lower" | grep '^[<>]' | head -4 | tr '\n' ';') "
	fi
	left=$(temporaries "$L/etc")
	[ -z "$left" ] || problems+="temporaries left after the second flush: $(head -3 <<<"$left" | tr '\n' ' ')"
	if [ -z "$problems" ]; then
		ok "$what: exit $RC, old or new, next flush exact"
	else
		not_ok "$what (exit $RC)"
		diag "  $problems"
		sed 's/^/#   flush: /' "$SCRATCH/out" | head -6
		[ "$rc2" = 0 ] || printf '%s\n' "$out2" | head -4 | sed 's/^/#   2nd flush: /'
	fi
done <"$SCRATCH/flush.matrix"
diag "flush exited non-zero in $failed_rc of $(wc -l <"$SCRATCH/flush.matrix") cases"

# ---- flush: the early write-back thread ----
# With three 10 MiB files more, phase 1 writes past the step of the early
# write-back (16 MiB) and a helper thread calls syncfs before phase 1's own: the
# first syncfs is not made by the main thread (strace -f follows threads; a request
# made before the stop is always served, so this does not depend on the scheduler),
# and its failure fails the flush with nothing renamed.
cp -a "$SCRATCH/upper.orig" "$SCRATCH/upper.big"
for i in 1 2 3; do head -c $((10 << 20)) /dev/urandom >"$SCRATCH/upper.big/upper/wb$i"; done
restore "$SCRATCH/upper.big" || { not_ok "restore the big scenario"; finish; }
"$MANIFEST" --links-via "$S/etc/upper" "$R/etc" >"$SCRATCH/merged.big"
# syncfs_by_thread TRACE: the first syncfs was made by another task than the execve.
# shellcheck disable=SC2317 # called through check
syncfs_by_thread() {
	awk '/execve\(/ && !main { main = $1 } /syncfs\(/ && !first { first = $1 }
		END { exit !(main && first && first != main) }' "$1"
}
strace -f -qq -o "$SCRATCH/wb.trace" -e trace=execve,syncfs "${flush[@]}" >"$SCRATCH/out" 2>&1
RC=$?
unmount "$R/etc"
"$MANIFEST" "$L/etc" >"$SCRATCH/lower"
assert_eq "early write-back: the flush succeeds" 0 "$RC"
same_manifest "early write-back: the merge is exact" "$SCRATCH/merged.big" "$SCRATCH/lower"
check "early write-back: the first syncfs is the helper thread's" syncfs_by_thread "$SCRATCH/wb.trace"
restore "$SCRATCH/upper.big" || { not_ok "restore the big scenario"; finish; }
strace -f -qq -o "$SCRATCH/wb.trace" -e trace=execve,syncfs -e inject=syncfs:error=EIO:when=1 \
	"${flush[@]}" >"$SCRATCH/out" 2>&1
RC=$?
unmount "$R/etc"
assert_eq "early write-back fails with EIO: the flush fails with 111" 111 "$RC"
assert_match "early write-back fails with EIO: the summary says FAILED" 'FAILED \(1 errors\)' "$(cat "$SCRATCH/out")"
check "early write-back fails with EIO: the failing syncfs is the helper thread's" syncfs_by_thread "$SCRATCH/wb.trace"
assert_match "early write-back fails with EIO: the error is named" \
	'syncfs \(early write-back\) failed; nothing changed: Input/output error' "$(cat "$SCRATCH/out")"
# (the marker stays, as after any failed flush: the next run finds nothing to remove)
entry_manifest "$L/etc" | grep -v '^\.#ephemeral\.flush-in-progress ' >"$SCRATCH/cur"
same_manifest "early write-back fails with EIO: the lower is entirely old" "$SCRATCH/old" "$SCRATCH/cur"
assert_eq "early write-back fails with EIO: no temporaries" "" "$(temporaries "$L/etc" | grep -v flush-in-progress)"
"${flush[@]}" >"$SCRATCH/out" 2>&1
RC=$?
"$MANIFEST" "$L/etc" >"$SCRATCH/lower"
assert_eq "early write-back fails with EIO: the next flush succeeds" 0 "$RC"
same_manifest "early write-back fails with EIO: the next flush merges exactly" "$SCRATCH/merged.big" "$SCRATCH/lower"

# ---- mount: the cleanup of an interrupted flush ----
M=$SCRATCH/mroot
MS=$SCRATCH/mstore
printf 'ephemeral.dirs=/etc ephemeral.tmpfs=none\n' >"$SCRATCH/cmdline"
mount_cmd=("$EPHEMERAL" mount --root "$M" --store "$MS" --cmdline "$SCRATCH/cmdline" --config /dev/null)
mkdir -p "$M"
# The template of a root whose /etc holds the marker and temporaries (files and a
# dir tree) of an interrupted flush, next to user files; leftover_root copies it.
T=$SCRATCH/mtemplate
mkdir -p "$T/etc/sub/deeper" "$T/var/log"
printf 'mine\n' >"$T/etc/hostname"
printf 'mine\n' >"$T/etc/sub/conf"
printf 'mine\n' >"$T/etc/.#ephemeral.not-a-temporary"
: >"$T/etc/.#ephemeral.flush-in-progress"
printf 'half\n' >"$T/etc/.#ephemeral.0123456789abcdef"
printf 'half\n' >"$T/etc/sub/.#ephemeral.00000000000000aa"
mkdir -p "$T/etc/sub/deeper/.#ephemeral.00000000000000bb/t"
printf 'half\n' >"$T/etc/sub/deeper/.#ephemeral.00000000000000bb/t/f"
leftover_root() {
	unmount "$M" "$MS"
	rm -rf "${M:?}/etc" "${M:?}/var" && cp -a "$T/etc" "$T/var" "$M/"
}
# user_files: the manifest of everything in the lower /etc but the flush's names.
user_files() { "$MANIFEST" --no-dir-mtime "$M/etc" | grep -v '\.#ephemeral\.[0-9a-f]\{16\}\|flush-in-progress'; }

leftover_root || { not_ok "leftover root"; finish; }
user_files >"$SCRATCH/user.want"
counts "$SCRATCH/mount.counts" "${mount_cmd[@]}"
unmount "$M" "$MS"
check "without faults mount removes every temporary" test -z "$(temporaries "$M/etc" | grep -v not-a-temporary)"
counts "$SCRATCH/mount.base" "$EPHEMERAL" mount --help
matrix "$SCRATCH/mount.counts" "$SCRATCH/mount.base" "$((extra / 2))" "$((seed + 1))" >"$SCRATCH/mount.matrix"
diag "mount: $(wc -l <"$SCRATCH/mount.counts") syscalls, $(wc -l <"$SCRATCH/mount.matrix") cases"
while read -r sc e n; do
	what="mount, $sc #$n fails with $e"
	leftover_root || { not_ok "$what: leftover root"; continue; }
	inject "$sc" "$e" "$n" "${mount_cmd[@]}"
	problems=""
	stray=$(awk -v m="$M" -v s="$MS" '(index($2, m "/") == 1 && $2 != m "/etc") || index($2, s "/") == 1 { print $2 }' /proc/self/mounts)
	[ -z "$stray" ] || problems+="mounted what it was not asked to: $stray "
	unmount "$M" "$MS"
	left=$(temporaries "$M/etc" | grep -v not-a-temporary)
	if [ ! -e "$M/etc/.#ephemeral.flush-in-progress" ] && [ -n "$left" ]; then
		problems+="marker removed while temporaries stay: $(tr '\n' ' ' <<<"$left") "
	fi
	user_files >"$SCRATCH/user.now"
	cmp -s "$SCRATCH/user.want" "$SCRATCH/user.now" || problems+="user files changed: $(diff "$SCRATCH/user.want" "$SCRATCH/user.now" | grep '^[<>]' | head -3 | tr '\n' ';') "
	"${mount_cmd[@]}" >"$SCRATCH/out2" 2>&1
	unmount "$M" "$MS"
	left=$(temporaries "$M/etc" | grep -v not-a-temporary)
	[ -z "$left" ] || problems+="a second mount leaves: $(tr '\n' ' ' <<<"$left")"
	if [ -z "$problems" ]; then
		ok "$what: exit $RC, leftovers kept or removed with their marker"
	else
		not_ok "$what (exit $RC)"
		diag "  $problems"
		sed 's/^/#   mount: /' "$SCRATCH/out" | head -6
	fi
done <"$SCRATCH/mount.matrix"

finish
