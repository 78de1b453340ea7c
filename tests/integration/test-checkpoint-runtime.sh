#!/bin/bash
# The files that run checkpoints: `make install` puts the systemd timer and
# service, the OpenRC and runit services and the package-manager hooks (pacman,
# apt, dnf 4 and 5) in place with the real binary path; apt parses its hook and
# the hook's command is harmless where ephemeral is not active; systemd accepts
# the units; every periodic runner uses --if-due (the interval lives in the config).
set -uo pipefail
# shellcheck source=tests/lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
make_scratch
D=$SCRATCH/dest
BIN=$(dirname "$EPHEMERAL")
make -s -C "$TOP" install DESTDIR="$D" PREFIX=/usr BINDIR="$BIN" >"$SCRATCH/install.out" 2>&1
assert_eq "make install exits 0" 0 "$?"
check "installed: /usr/lib/systemd/system/ephemeral-checkpoint.timer" \
	test -f "$D/usr/lib/systemd/system/ephemeral-checkpoint.timer"
for f in usr/lib/systemd/system/ephemeral-checkpoint.service etc/init.d/ephemeral-checkpoint etc/runit/sv/ephemeral-checkpoint/run \
	usr/share/libalpm/hooks/zz-ephemeral-checkpoint.hook etc/apt/apt.conf.d/80ephemeral-checkpoint \
	etc/dnf/plugins/post-transaction-actions.d/ephemeral.action \
	etc/dnf/libdnf5-plugins/actions.d/ephemeral.actions; do
	if [ -f "$D/$f" ] && grep -q "$BIN/ephemeral checkpoint" "$D/$f" && ! grep -q @BINDIR@ "$D/$f"; then
		ok "installed: /$f runs $BIN/ephemeral checkpoint"
	else not_ok "installed: /$f with the binary's path"; fi
done
for f in usr/lib/systemd/system/ephemeral-checkpoint.service etc/init.d/ephemeral-checkpoint \
	etc/runit/sv/ephemeral-checkpoint/run; do
	check "periodic runner /$f uses --if-due" grep -q -- "checkpoint --if-due" "$D/$f"
done
check "the init scripts are executable" test -x "$D/etc/init.d/ephemeral-checkpoint" -a -x "$D/etc/runit/sv/ephemeral-checkpoint/run"
hook=$D/usr/share/libalpm/hooks/zz-ephemeral-checkpoint.hook
check "pacman hook: PostTransaction on every package" \
	grep -qx 'When = PostTransaction' "$hook"
assert_eq "pacman hook: the sections alpm-hooks(5) requires" "[Trigger] [Action]" "$(grep -o '^\[[A-Za-z]*\]' "$hook" | xargs)"
if command -v apt-config >/dev/null; then
	cmd=$(apt-config -c "$D/etc/apt/apt.conf.d/80ephemeral-checkpoint" dump DPkg::Post-Invoke |
		sed -n 's/^DPkg::Post-Invoke:: "\(.*\)";$/\1/p')
	assert_match "apt parses the hook" "checkpoint" "$cmd"
	out=$(sh -c "$cmd" 2>&1)
	assert_eq "the apt hook's command exits 0 where ephemeral is not active" 0 "$?"
	assert_match "... and says so" "not active|nothing" "$out"
else
	diag "no apt-config: apt hook not parsed"
fi
if command -v systemd-analyze >/dev/null; then
	out=$(systemd-analyze verify "$D/usr/lib/systemd/system/ephemeral-checkpoint.timer" \
		"$D/usr/lib/systemd/system/ephemeral-checkpoint.service" 2>&1)
	assert_eq "systemd-analyze verify accepts the timer and the service" "" \
		"$(grep -i ephemeral-checkpoint <<<"$out")"
else
	diag "no systemd-analyze: units not verified"
fi
finish
