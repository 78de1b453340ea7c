#!/bin/bash
# ephemeral flush creates each new file with the owner and permissions it will have
# where it can tell them in advance, and then leaves out the chown and chmod that
# would change nothing (issue 12). What it must still get exactly right, whatever the
# flush's umask: new and rewritten files and new dirs with their files in a plain dir,
# in a setgid dir of another group (the new file would take that group), in a dir with
# a minimal default ACL (the umask does not apply there; no access ACL shows it) and
# in a dir with a full default ACL; files owned by root and by others, with setuid
# bits, read-only. The lower must equal the merged view, under umask 077 and 000.
set -uo pipefail
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
# shellcheck source=tests/integration/flush-common.sh
. "$(dirname "$0")/flush-common.sh"
need_root
in_private_mount_ns "$@"
need_manifest
command -v setfacl >/dev/null || { echo "# skipped: needs setfacl"; exit 77; }
flush_scratch
cd "$SCRATCH" || exit 1

R=$SCRATCH/root
E=$R/etc
S=$SCRATCH/store
make_store "$S"

lower() {
	rm -rf "$E"
	mkdir -p "$E/plain" "$E/sgid" "$E/aclmin" "$E/aclfull" "$R/var/log"
	chgrp 42 "$E/sgid" && chmod 2775 "$E/sgid"
	setfacl -d -m u::rwx,g::---,o::--- "$E/aclmin"
	setfacl -d -m u:1234:rwx "$E/aclfull"
	for d in plain sgid aclmin aclfull; do printf 'old\n' >"$E/$d/rewritten"; done
}

changes() { # the merged view M, as root with umask 022
	local d
	for d in plain sgid aclmin aclfull; do
		(
			umask 022
			cd "$1/$d" || exit 1
			printf 'new\n' >rewritten
			printf 'a\n' >f644 && chgrp 0 f644 && chmod 0644 f644
			printf 'b\n' >f600 && chmod 0600 f600
			printf 'c\n' >suid && chmod 04755 suid
			printf 'd\n' >ro && chmod 0444 ro
			printf 'e\n' >grp && chgrp 42 grp && chmod 0640 grp
			printf 'f\n' >user && chown 1234:1234 user && chmod 0644 user
			mkdir -p newdir/sub && printf 'g\n' >newdir/sub/f && printf 'h\n' >newdir/f
			chmod 0755 newdir newdir/sub && chmod 0640 newdir/f
		) || return 1
	done
}

for mask in 077 000; do
	lower
	rm -rf "${S:?}/etc"
	write_state "$S" "$(state_line "$R" /etc etc)"
	overlay_up "$R" /etc "$S" etc
	changes "$E" || not_ok "umask $mask: changes made"
	"$MANIFEST" --links-via "$S/etc/upper" "$E" >"$SCRATCH/merged"
	umount "$E"
	out=$(umask "$mask" && "$EPHEMERAL" flush --root "$R" --store "$S" 2>&1)
	assert_eq "umask $mask: exit 0" 0 "$?"
	[ -n "$out" ] && diag "$out"
	"$MANIFEST" "$E" >"$SCRATCH/after"
	same_manifest "umask $mask: the lower equals the merged view" "$SCRATCH/merged" "$SCRATCH/after"
	assert_eq "umask $mask: a new root file in the setgid dir keeps group root" "0:0 644" \
		"$(stat -c '%u:%g %a' "$E/sgid/f644")"
	assert_eq "umask $mask: a new file under the minimal default ACL keeps its mode" "644" \
		"$(stat -c '%a' "$E/aclmin/f644")"
done

finish
