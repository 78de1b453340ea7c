#!/bin/bash
# Shared helpers for the shell tests (integration and e2e). Source it.
# Provides TAP-style reporting (ok / not ok), assertions, root/unshare handling
# and a scratch directory that is removed on exit.

TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
EPHEMERAL=${EPHEMERAL:-$TOP/build/ephemeral}
EPHEMERAL_SWEEP=${EPHEMERAL_SWEEP:-$TOP/build/ephemeral-sweep}
_tap_n=0
_tap_failed=0

ok() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $*"; }
not_ok() { _tap_n=$((_tap_n + 1)); _tap_failed=$((_tap_failed + 1)); echo "not ok $_tap_n - $*"; }
diag() { echo "# $*"; }

# check DESC CMD...: ok when CMD succeeds; otherwise not ok with its output.
check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$desc"; else
		not_ok "$desc"
		printf '%s\n' "$out" | head -30 | sed 's/^/#   /'
	fi
}
# check_fails DESC CMD...: ok when CMD fails.
check_fails() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		not_ok "$desc (succeeded but should fail)"
		printf '%s\n' "$out" | head -30 | sed 's/^/#   /'
	else ok "$desc"; fi
}
# assert_eq DESC EXPECTED ACTUAL
assert_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else
		not_ok "$1"
		diag "expected: $2"
		diag "actual:   $3"
	fi
}
# assert_match DESC REGEX TEXT (grep -E on the text). A here-string, not a pipe:
# grep -q exits at the first match, and under "set -o pipefail" the writer's
# SIGPIPE would turn a match into a failure.
assert_match() {
	if grep -qE -- "$2" <<<"$3"; then ok "$1"; else
		not_ok "$1"
		diag "expected to match: $2"
		printf '%s\n' "$3" | head -20 | sed 's/^/#   actual: /'
	fi
}

# need_root: skip the whole test (exit 77) unless root.
need_root() { [ "$(id -u)" = 0 ] || { echo "# skipped: needs root"; exit 77; }; }

# in_private_mount_ns "$@": re-exec the calling script in a new private mount
# namespace so nothing it mounts leaks to the host.
in_private_mount_ns() {
	if [ -z "${_EPHEMERAL_IN_NS:-}" ]; then
		export _EPHEMERAL_IN_NS=1
		exec unshare -m --propagation private "$0" "$@"
	fi
}

# umount_below DIR: lazily unmount every mount at or below DIR, deepest first,
# in passes (a mount hidden under another one becomes reachable in the next pass).
umount_below() {
	local t pass=0 targets
	while [ $pass -lt 10 ]; do
		targets=$(findmnt -rn -o TARGET | awk -v d="$1" 'index($0, d) == 1' | sort -r)
		[ -n "$targets" ] || return 0
		while read -r t; do
			umount -l "$(printf '%b' "$t")" 2>/dev/null
		done <<<"$targets"
		pass=$((pass + 1))
	done
}

# make_scratch: sets SCRATCH to a fresh directory on a disk-backed filesystem
# (under build/, so overlayfs accepts it as a lower layer), removed at exit.
make_scratch() {
	mkdir -p "$TOP/build/scratch"
	SCRATCH=$(mktemp -d "$TOP/build/scratch/test.XXXXXX")
	trap 'umount_below "$SCRATCH"; rm -rf "$SCRATCH"' EXIT
}

# finish: the exit status of the test program.
finish() { [ "$_tap_failed" = 0 ]; exit $?; }
