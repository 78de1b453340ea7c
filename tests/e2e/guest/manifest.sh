#!/bin/bash
# manifest.sh DIR: prints a manifest of the tree under DIR — for every entry its
# path, type, mode, owner, group, link count and size (non-directories), mtime to
# the nanosecond, symlink target, xattrs (ACLs included) and the SHA-256 of every
# regular file — sorted, so that two trees are equal exactly when their manifests
# are. Runs in the guest (merged overlay view) and on the host (the disk image).
# Directory sizes and link counts are left out: overlayfs reports its own for
# merged directories. Uses the project's manifest tool when it is installed.
set -euo pipefail
cd "$1"
if command -v manifest >/dev/null 2>&1; then
	exec manifest .
fi
find . -xdev \( -type d -printf '%p\td\t%m\t%U\t%G\t-\t-\t%T@\t\n' \) -o \
	-printf '%p\t%y\t%m\t%U\t%G\t%n\t%s\t%T@\t%l\n' | LC_ALL=C sort
find . -xdev -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum
getfattr -R -P -h -d -m - -e hex . 2>/dev/null |
	awk 'BEGIN { RS = ""; FS = "\n" }
	{	# one line per file, its attributes sorted (listxattr order differs per fs)
		n = 0
		for (i = 2; i <= NF; i++) {
			v = $i
			for (j = n; j > 0 && a[j] > v; j--) a[j + 1] = a[j]
			a[j + 1] = v; n++
		}
		line = $1
		for (i = 1; i <= n; i++) line = line "\t" a[i]
		print line
	}' |
	LC_ALL=C sort
