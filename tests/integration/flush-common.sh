#!/bin/bash
# Helpers for the flush tests (sourced after tests/lib/lib.sh): mount an overlay the
# way `ephemeral mount` does, write the store's state file by hand (format of
# src/state.h), and compare tree manifests.
# shellcheck disable=SC2034

MANIFEST=${MANIFEST:-$TOP/build/tests/manifest}

# need_manifest: build the manifest tool if it is missing.
need_manifest() {
	[ -x "$MANIFEST" ] || make -s -C "$TOP" "${MANIFEST#"$TOP"/}" >/dev/null ||
		{ echo "# cannot build $MANIFEST"; exit 1; }
}

# flush_scratch: make_scratch, but unmount everything below SCRATCH (deepest
# first) before removing it.
flush_scratch() {
	make_scratch
	trap 'flush_cleanup' EXIT
}
flush_cleanup() {
	local m
	cd / || true
	for _ in 1 2 3; do
		while read -r m; do umount -l "$m" 2>/dev/null; done < <(awk -v s="$SCRATCH" 'index($2, s) == 1 { print $2 }' /proc/self/mounts | sort -r)
	done
	for m in "$SCRATCH"/*.img; do
		[ -e "$m" ] || continue
		losetup -j "$m" | cut -d: -f1 | while read -r d; do losetup -d "$d"; done
	done
	rm -rf "$SCRATCH"
}

# make_store DIR: a small tmpfs for the uppers, like the real store.
make_store() {
	mkdir -p "$1"
	mount -t tmpfs -o mode=0700,size=512M ephemeral-store "$1"
}

# overlay_up ROOT DIR STORE NAME: upper/work in STORE/NAME, the upper root with the
# lower dir's owner, mode and xattrs, overlay mounted on ROOT/DIR.
overlay_up() {
	local root=$1 dir=$2 store=$3 name=$4 lower=$1$2
	mkdir -p "$store/$name/upper" "$store/$name/work"
	chown --reference="$lower" "$store/$name/upper"
	chmod --reference="$lower" "$store/$name/upper"
	getfattr -d -m - -h --absolute-names "$lower" 2>/dev/null | sed "1s|^# file: .*|# file: $store/$name/upper|" |
		setfattr -h --restore=- 2>/dev/null || true
	touch -r "$lower" "$store/$name/upper"
	mount -t overlay -o "lowerdir=$lower,upperdir=$store/$name/upper,workdir=$store/$name/work,redirect_dir=off,index=off,metacopy=off" \
		ephemeral-overlay "$lower"
}

# state_line ROOT DIR NAME [MODE] [STATUS]: one "dir" record for the lower dir ROOT/DIR.
state_line() {
	local root=$1 dir=$2 name=$3 mode=${4:-persist} status=${5:-mounted} p target fsroot uuid fstype dev
	p=$(realpath "$root$dir")
	target=$(findmnt -no TARGET -T "$p" | tail -1)
	fsroot=$(findmnt -no FSROOT -T "$p" | tail -1)
	uuid=$(findmnt -no UUID -T "$p" | tail -1)
	[ -n "$uuid" ] || uuid=$(blkid -o value -s UUID "$(findmnt -no SOURCE -T "$p" | tail -1)" 2>/dev/null)
	fstype=$(findmnt -no FSTYPE -T "$p" | tail -1)
	dev=$(stat -c '%Hd:%Ld' "$p")
	[ "$target" = / ] || p=${p#"$target"}
	fsroot=${fsroot%/}$p
	echo "dir path=$dir name=$name mode=$mode status=$status uuid=${uuid:--} fstype=$fstype fsroot=${fsroot:-/} dev=$dev options=redirect_dir=off,index=off,metacopy=off"
}

# write_state STORE LINE...: the state file (call state_line before mounting).
write_state() {
	local store=$1
	shift
	{
		echo "ephemeral-state 2"
		echo "store cap=536870912"
		printf '%s\n' "$@"
		echo "end dirs=$#"
	} >"$store/state"
}

# loop_fs FILE SIZE UUID MOUNTPOINT: an ext4 image with that UUID, loop-mounted;
# sets LOOPDEV.
loop_fs() {
	truncate -s "$2" "$1" && mkfs.ext4 -q -F -U "$3" "$1" || return 1
	mkdir -p "$4"
	LOOPDEV=$(losetup -f --show "$1") || return 1
	mount "$LOOPDEV" "$4"
}

# same_manifest DESC A B: ok when the two manifest files are identical.
same_manifest() {
	if cmp -s "$2" "$3"; then ok "$1"; else
		not_ok "$1"
		diff -u "$2" "$3" | head -40 | sed 's/^/#   /'
	fi
}

# sums_old_or_new OLD NEW: reads sha256sum lines of the files as they are now on stdin and
# compares them with the sums before (OLD) and after (NEW): every file must be one
# of the two (or absent where one version is absent). Prints the offenders, then
# "old=N new=N bad=N".
sums_old_or_new() {
	awk -v oldf="$1" -v newf="$2" '
		BEGIN {
			while ((getline l < oldf) > 0) { split(l, a, "  "); old[a[2]] = a[1]; all[a[2]] = 1 }
			while ((getline l < newf) > 0) { split(l, a, "  "); new[a[2]] = a[1]; all[a[2]] = 1 }
		}
		{ cur[$2] = $1; if (!($2 in all)) { print "unexpected " $2; bad++ } }
		END {
			for (n in all) {
				if (!(n in cur)) { if ((n in old) && (n in new)) { print "missing " n; bad++ } }
				else if (cur[n] == old[n]) o++
				else if (cur[n] == new[n]) w++
				else { print "torn " n; bad++ }
			}
			printf "old=%d new=%d bad=%d\n", o, w, bad
		}'
}
