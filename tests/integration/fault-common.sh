#!/bin/bash
# Helpers for the fault tests (fault injection, power loss), sourced after
# flush-common.sh: a change set with every kind of entry the flush handles, and
# the "old or new" check of a lower dir against the manifests of its two versions.
# shellcheck disable=SC2034

# scenario_lower DIR: the lower /etc before the boot.
scenario_lower() {
	local d=$1 i
	mkdir -p "$d/sub" "$d/deldir/inner" "$d/opq/old" "$d/todir" "$d/keep"
	for i in 1 2 3 4 5 6; do
		printf 'old version of f%s\n' "$i" >"$d/f$i"
		printf 'deleted dir entry %s\n' "$i" >"$d/deldir/g$i"
	done
	printf 'inner\n' >"$d/deldir/inner/h"
	printf 'x\n' >"$d/sub/x"
	printf 'o\n' >"$d/opq/old/o"
	printf 'kept\n' >"$d/opq/kept"
	printf 't\n' >"$d/todir/t"
	printf 'file\n' >"$d/tofile"
	printf 'untouched\n' >"$d/keep/u"
	head -c 200000 /dev/zero | tr '\0' 'b' >"$d/big"
	ln -s f1 "$d/oldlink"
}

# scenario_change DIR: the changes of the boot, made through the overlay on DIR.
# The directories replaced as a whole (opaque) are listed in SCENARIO_UNITS.
SCENARIO_UNITS="opq"
scenario_change() {
	local d=$1
	printf 'NEW version of f1, longer than before\n' >"$d/f1"
	rm "$d/f2"
	chmod 0600 "$d/f3"
	setfattr -n user.note -v changed "$d/f4" 2>/dev/null || chown 1:1 "$d/f4"
	printf 'added\n' >"$d/f7"
	ln "$d/f7" "$d/f7link"
	rm -r "$d/deldir"
	rm -r "$d/opq" && mkdir -p "$d/opq/new" && printf 'n\n' >"$d/opq/new/n"
	rm -r "$d/todir" && printf 'a file now\n' >"$d/todir"
	rm "$d/tofile" && mkdir "$d/tofile" && printf 'in\n' >"$d/tofile/in"
	mkdir -p "$d/newtree/a/b" && printf 'deep\n' >"$d/newtree/a/b/c"
	printf 'y\n' >"$d/sub/y" && printf 'x2\n' >"$d/sub/x"
	ln -sfn f6 "$d/oldlink"
	mkfifo "$d/fifo"
	head -c 300000 /dev/zero | tr '\0' 'B' >"$d/big"
}

# entry_manifest DIR: the manifest the old-or-new check compares (directory times
# and the hardlink column left out: both legitimately change in the middle).
entry_manifest() {
	"$MANIFEST" --no-dir-mtime "$1" | awk '{ $10 = ""; print }'
}

# old_or_new OLD NEW CUR [UNIT...]: every entry of the CUR manifest is its OLD or
# its NEW version; an entry present in both versions is not missing; a directory
# that is replaced as a whole (deleted, new, changed type, or a UNIT given) is
# entirely old or entirely new. Temporaries (.#ephemeral.*) are ignored. Prints
# the problems and "bad=N".
old_or_new() {
	local old=$1 new=$2 cur=$3
	shift 3
	awk -v units="$*" '
		function under(p, u) { return p == u || index(p, u "/") == 1 }
		FNR == 1 { f++ }
		{ p = $1; t = $2 }
		f == 1 { old[p] = $0; ot[p] = t; all[p] = 1 }
		f == 2 { new[p] = $0; nt[p] = t; all[p] = 1 }
		f == 3 { if (p ~ /(^|\/)\.#ephemeral\./) next; cur[p] = $0; all[p] = 1 }
		END {
			n = split(units, given, " ")
			for (i = 1; i <= n; i++) unit[given[i]] = 1
			for (p in all)
				if ((ot[p] == "d" || nt[p] == "d") && ot[p] != nt[p]) unit[p] = 1
			for (u in unit) {
				outer = 1
				for (v in unit) if (v != u && index(u, v "/") == 1) outer = 0
				if (!outer) continue
				isold = 1; isnew = 1
				for (p in all) {
					if (!under(p, u)) continue
					covered[p] = 1
					if ((p in old) != (p in cur) || ((p in cur) && cur[p] != old[p])) isold = 0
					if ((p in new) != (p in cur) || ((p in cur) && cur[p] != new[p])) isnew = 0
				}
				if (!isold && !isnew) { print "neither old nor new: dir " u; bad++ }
			}
			for (p in all) {
				if (covered[p]) continue
				if (!(p in cur)) {
					if ((p in old) && (p in new)) { print "missing " p; bad++ }
				} else if (!(p in old) && !(p in new)) {
					print "unexpected " p; bad++
				} else if (cur[p] != old[p] && cur[p] != new[p]) {
					print "neither old nor new: " cur[p]; bad++
				}
			}
			printf "bad=%d\n", bad
		}' "$old" "$new" "$cur"
}

# temporaries DIR: the temporaries and markers left in DIR, one per line.
temporaries() { find "$1" -name '.#ephemeral.*' 2>/dev/null; }
