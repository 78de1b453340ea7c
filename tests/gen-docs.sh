#!/bin/bash
# Regenerates (or, with --check, compares) the documents that come from the table of
# configuration keys: README.md's key table, the key list of man/ephemeral.conf.5
# and runtime/ephemeral.conf.example.
# Usage: tests/gen-docs.sh [--check] BINARY
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
[ "${1:-}" = --check ] && { check=1; shift; }
bin=${1:?usage: gen-docs.sh [--check] BINARY}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bin" config --example >"$tmp/example"
"$bin" config --markdown >"$tmp/table"
"$bin" config --man >"$tmp/man"
# splice FILE BEGIN END GENERATED: FILE with what lies between the lines starting
# with BEGIN and END replaced by the file GENERATED.
splice() {
	B=$2 E=$3 awk -v gen="$4" '
		index($0, ENVIRON["B"]) == 1 { print; while ((getline line < gen) > 0) print line; skip = 1; next }
		index($0, ENVIRON["E"]) == 1 { skip = 0 }
		!skip' "$1"
	grep -qF -- "$3" "$1" || { echo "$1 has no '$2'/'$3' markers" >&2; return 1; }
}
splice README.md '<!-- keys:begin' '<!-- keys:end' "$tmp/table" >"$tmp/README.md"
splice man/ephemeral.conf.5 '.\" keys:begin' '.\" keys:end' "$tmp/man" >"$tmp/ephemeral.conf.5"

status=0
for pair in "$tmp/example:runtime/ephemeral.conf.example" "$tmp/README.md:README.md" \
	"$tmp/ephemeral.conf.5:man/ephemeral.conf.5"; do
	new=${pair%%:*} old=${pair#*:}
	if [ "$check" = 1 ]; then
		diff -u "$old" "$new" || { echo "$old differs from the table of keys: run 'make docs'" >&2; status=1; }
	else
		cp "$new" "$old"
	fi
done
exit "$status"
