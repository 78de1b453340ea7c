#!/bin/bash
# Random file-system operations for the property tests (sourced; test-flush-random.sh,
# test-checkpoint-random.sh): `ops N` runs N seeded random operations in the current
# directory. Seed with RANDOM=seed in the calling (main) shell.
# shellcheck disable=SC2034

PATHS=(a b c d e f g a/a a/b a/c a/d b/a b/b b/c c/a c/b d/a d/b a/a/a a/a/b a/a/c a/b/a a/b/b
	b/a/a b/a/b b/b/a c/a/a c/b/a a/a/a/a a/a/a/b b/a/a/a "d/sp ace" "e/new
line" "a/ünï" "b/-dash" "f/.hidden" "g/a b/c")

# Bash reseeds RANDOM in every subshell (from the clock), so every random number
# is drawn here in the main shell, never inside $(...), a pipeline or ( ).
# plain PATH: absent or a regular file (never write into a FIFO, a device or
# through a symlink).
plain() { [ ! -L "$1" ] && { [ ! -e "$1" ] || [ -f "$1" ]; }; }
pick() { P=${PATHS[RANDOM % ${#PATHS[@]}]}; }
# content MAX: prints seeded bytes (length below MAX).
content() {
	local len=$((RANDOM % ${1:-20000})) str=$RANDOM$RANDOM
	yes "$str" | head -c "$len"
}
# mk_file PATH: a file with seeded content (sometimes sparse).
mk_file() {
	local size=$((RANDOM * 64)) seek=$((RANDOM * 16)) sparse=$((RANDOM % 6)) len=$((RANDOM % 100)) str=$RANDOM
	mkdir -p "${1%/*}" 2>/dev/null
	plain "$1" || return 0
	if [ "$sparse" = 0 ]; then
		rm -rf "$1" 2>/dev/null
		truncate -s "$size" "$1" 2>/dev/null &&
			yes "$str" | head -c "$len" | dd of="$1" bs=1 seek="$seek" conv=notrunc status=none 2>/dev/null
	else
		content >"$1" 2>/dev/null
	fi
}

random_op() {
	local p q n1 n2
	pick
	p=$P
	pick
	q=$P
	n1=$RANDOM n2=$RANDOM
	case $((RANDOM % 20)) in
	0 | 1 | 2) mk_file "$p" ;;
	3) plain "$p" && content 3000 >>"$p" ;;
	4) plain "$p" && truncate -s $((n1 % 30000)) "$p" ;;
	5) chmod "$(printf '%o' $((n1 % 07777)))" "$p" && chmod u+rwx "$p" ;;
	6) chown "$((n1 % 5)):$((n2 % 5))" "$p" ;;
	7) setfattr -h -n "user.k$((n1 % 3))" -v "v$n2" "$p" ;;
	8) setfattr -h -x "user.k$((n1 % 3))" "$p" ;;
	9) rm -f "$p" ;;
	10) rm -rf "$p" ;;
	11) mkdir -p "$p" ;;
	12) mv -T "$p" "$q" ;;
	13) ln -fT "$p" "$q" ;;
	14) ln -sfnT "../$n1" "$q" ;;
	15) mkfifo "$p" ;;
	16) touch -h -d "@$((1000000000 + n1 * 1000)).$n2" "$p" ;;
	17) setfacl -m "u:$((n1 % 100 + 1)):rwx" "$p" ;;
	18) rm -rf "$p" && mkdir -p "$p" && content >"$p/inside" ;;
	19) mknod "$p" c 1 3 ;; # /dev/null's numbers: harmless whatever touches it
	esac
}

# ops N: N random operations inside the current directory.
ops() {
	for _ in $(seq 1 "$1"); do random_op; done >/dev/null 2>&1
	return 0
}

