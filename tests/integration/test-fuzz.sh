#!/bin/bash
# Fuzzing in the test command: build the libFuzzer harnesses (make fuzz: clang,
# ASan, UBSan), replay the checked-in corpus (tests/fuzz/corpus/<harness>/), then
# fuzz each harness for a bounded time from a copy of that corpus. Any crash,
# sanitizer report, leak or timeout is a failure; the input that caused it is
# printed (hex) and kept in build/fuzz/artifacts/.
# Time: EPHEMERAL_FUZZ_SECONDS per harness (default 30).
set -uo pipefail
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
if ! command -v clang >/dev/null; then
	echo "# skipped: no clang (tests/deps.sh test installs it)"
	exit 77
fi
seconds=${EPHEMERAL_FUZZ_SECONDS:-30}
if ! out=$(make -s -C "$TOP" fuzz 2>&1); then
	not_ok "the fuzz harnesses build (make fuzz)"
	printf '%s\n' "$out" | tail -20 | sed 's/^/#   /'
	finish
fi
ok "the fuzz harnesses build (make fuzz)"
make_scratch
artifacts=$TOP/build/fuzz/artifacts
mkdir -p "$artifacts"

for bin in "$TOP"/build/fuzz/fuzz-*; do
	name=${bin##*/}
	seeds=$TOP/tests/fuzz/corpus/$name
	if [ ! -d "$seeds" ] || [ -z "$(ls -A "$seeds")" ]; then
		not_ok "$name: has a corpus in tests/fuzz/corpus/$name"
		continue
	fi
	work=$SCRATCH/$name
	mkdir -p "$work" && cp "$seeds"/* "$work/"
	opts=(-timeout=10 -rss_limit_mb=2048 -artifact_prefix="$artifacts/$name-" -print_final_stats=1)
	"$bin" "${opts[@]}" -runs=0 "$seeds" >"$SCRATCH/$name.replay" 2>&1
	rc=$?
	if [ "$rc" = 0 ]; then ok "$name: the checked-in corpus ($(find "$seeds" -type f | wc -l) inputs) replays cleanly"; else
		not_ok "$name: the checked-in corpus replays cleanly (exit $rc)"
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$SCRATCH/$name.replay" | head -10 | sed 's/^/#   /'
	fi
	"$bin" "${opts[@]}" -max_total_time="$seconds" "$work" >"$SCRATCH/$name.log" 2>&1
	rc=$?
	runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$SCRATCH/$name.log")
	if [ "$rc" = 0 ]; then ok "$name: ${seconds} s of fuzzing, ${runs:-?} inputs, no crash"; else
		not_ok "$name: fuzzing found a crash (exit $rc, after ${runs:-?} inputs)"
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$SCRATCH/$name.log" | head -10 | sed 's/^/#   /'
		for a in "$artifacts/$name"-*; do
			[ -e "$a" ] || continue
			diag "input $a:"
			od -A x -t x1z "$a" | head -8 | sed 's/^/#   /'
		done
	fi
done
finish
