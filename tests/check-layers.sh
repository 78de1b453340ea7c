#!/bin/bash
# Checks the layering of src/ (docs/ARCHITECTURE.md): a file may include headers of
# its own layer and of the layers below it, never of a layer above or beside it.
set -euo pipefail
cd "$(dirname "$0")/.."

# layer: the layers it may include (its own first).
declare -A allowed=(
	[shared]="shared"
	[config]="config shared"
	[merge]="merge config shared"
	[checkpoint]="checkpoint merge config shared"
	[sweep]="sweep config shared"
	[boot]="boot checkpoint merge config shared"
	[shutdown]="shutdown merge config shared"
	[cmd]="cmd boot shutdown sweep checkpoint merge config shared"
)
bad=0
while IFS= read -r f; do
	layer=${f#src/}
	layer=${layer%%/*}
	if [ -z "${allowed[$layer]+x}" ]; then
		echo "$f: not in a known layer folder (${!allowed[*]})"; bad=1; continue
	fi
	while IFS= read -r inc; do
		to=${inc%%/*}
		case " ${allowed[$layer]} " in
		*" $to "*) ;;
		*) echo "$f includes \"$inc\": $layer may include only ${allowed[$layer]}"; bad=1 ;;
		esac
	done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
	# Every project include names its layer: "log.h" alone would hide the direction.
	if grep -q '^#include "[^/"]*"' "$f"; then
		echo "$f: an #include \"...\" without its layer folder"; bad=1
	fi
done < <(git ls-files 'src/*.c' 'src/*.h')
exit "$bad"
