#!/bin/bash
# `ephemeral config`: every key of the table, in each format; bad usage is refused;
# the man(7) key list renders without warnings; the effective behaviour of two
# config fixes (empty key after the prefix, sizes beyond RAM + swap).
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
make_scratch

out=$("$EPHEMERAL" config 2>&1)
assert_eq "config exits 0" 0 "$?"
for k in ephemeral ephemeral.dirs ephemeral.size ephemeral.tmpfs ephemeral.keep ephemeral.persist \
	ephemeral.usercache ephemeral.userkeep ephemeral.sweep.dirs ephemeral.sweep.interval \
	ephemeral.sweep.age ephemeral.sweep.protect; do
	assert_match "config lists $k" "^$k = " "$out"
done
assert_match "config shows a number key's range" 'NUMBER \(seconds, 1-86400\)' "$out"
"$EPHEMERAL" config --bogus >/dev/null 2>&1
assert_eq "an unknown option exits 100" 100 "$?"
"$EPHEMERAL" config extra >/dev/null 2>&1
assert_eq "an extra argument exits 100" 100 "$?"

# The example file is itself a valid config: every line a comment, and with the
# leading '#' of the key lines removed it parses without one error.
"$EPHEMERAL" config --example | sed -n 's/^#\([a-z][a-z.]* = .*\)/\1/p' >"$SCRATCH/conf"
with_default=$(printf '%s\n' "$out" | grep -E '^ephemeral[.a-z]* = ' | grep -vc ' = (')
assert_eq "the example has a line per key with a default (all but sweep.dirs)" "$with_default" "$(wc -l <"$SCRATCH/conf")"
check "more than ten keys have a default" test "$with_default" -gt 10
{ printf '.TH T 5\n.SH KEYS\n'; "$EPHEMERAL" config --man; } >"$SCRATCH/keys.5"
warn=$(groff -ww -man -Tutf8 "$SCRATCH/keys.5" 2>&1 >/dev/null)
assert_eq "the man key list renders without warnings" "" "$warn"

# The example's defaults, given explicitly through a file, change nothing and
# report nothing; "ephemeral.=off" on the command line is refused, not the switch.
echo 'ephemeral.=off' >"$SCRATCH/cmdline"
err=$("$EPHEMERAL" mount --root "$SCRATCH/none" --store "$SCRATCH/s" --cmdline "$SCRATCH/cmdline" \
	--config "$SCRATCH/conf" 2>&1)
assert_match "ephemeral.=off is reported" "'ephemeral.=off' skipped: no key after 'ephemeral.'" "$err"
check "no default of the example is reported bad" test -z "$(printf "%s\n" "$err" | grep "conf:[0-9]*:")"
finish
