#!/bin/bash
# Regenerates (or, with --check, compares) the documents that come from the table of
# configuration keys: README.md's key table and runtime/ephemeral.conf.example.
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
# README: replace what lies between the keys:begin and keys:end markers.
awk -v table="$tmp/table" '
	/^<!-- keys:begin/ { print; while ((getline line < table) > 0) print line; skip = 1; next }
	/^<!-- keys:end/ { skip = 0 }
	!skip' README.md >"$tmp/README.md"
grep -q '^<!-- keys:end' "$tmp/README.md" || { echo "README.md has no keys:begin/keys:end markers" >&2; exit 1; }

status=0
for pair in "$tmp/example:runtime/ephemeral.conf.example" "$tmp/README.md:README.md"; do
	new=${pair%%:*} old=${pair#*:}
	if [ "$check" = 1 ]; then
		diff -u "$old" "$new" || { echo "$old differs from the table of keys: run 'make docs'" >&2; status=1; }
	else
		cp "$new" "$old"
	fi
done
exit "$status"
