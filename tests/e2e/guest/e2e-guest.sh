#!/bin/bash
# e2e-guest.sh: runs inside the test VM (ephemeral-e2e.service) the scenario named by
# ephemeral_test= on the kernel command line. It reports to the host on the second
# serial port (/dev/ttyS1, a file on the host), one record per line:
#   PASS <check> | FAIL <check> <why>      checks made inside the guest
#   INFO <text>                            context for the log
#   BEGIN <name> ... END <name>            a block of data (e.g. a manifest)
#   KILLME                                 scenarios "crash", "ckpt*": kill QEMU now
#   DONE <action>                          last line before poweroff/reboot
# The host (tests/e2e/test-dracut-boot.sh) asserts on these and on the disk image.
set -uo pipefail
export LC_ALL=C
out() { printf '%s\n' "$*" >/dev/ttyS1; }
stty -F /dev/ttyS1 raw -echo 2>/dev/null || true

# check NAME CMD...: PASS when CMD succeeds, else FAIL with its output.
check() {
	local name=$1 o
	shift
	if o=$("$@" 2>&1); then out "PASS $name"; else out "FAIL $name $(printf '%s' "$o" | head -c 400 | tr '\n\t' '  ')"; fi
}
is_overlay() { [ "$(findmnt -n -o FSTYPE --mountpoint "$1")" = overlay ]; }
not_overlay() { ! findmnt -n --mountpoint "$1" >/dev/null; }
upper_in_store() { findmnt -n -o OPTIONS --mountpoint "$1" | grep 'upperdir=/run/initramfs/ephemeral/' >/dev/null; }
echo_into() { printf '%s\n' "$2" >"$1"; }
booted_cleanly() { # multi-user reached, no unit failed
	local failed
	systemctl is-active -q multi-user.target || { echo "multi-user.target not active"; return 1; }
	failed=$(systemctl list-units --state=failed --no-legend --plain)
	[ -z "$failed" ] || { echo "failed units: $failed"; return 1; }
}
user_reads_passwd() { runuser -u test -- cat /etc/passwd | grep '^root:' >/dev/null; }
status_shows() {
	local s
	s=$(ephemeral status) || { echo "ephemeral status failed: $s"; return 1; }
	for d in "$@"; do printf '%s\n' "$s" | grep -qF -- "$d" || { echo "no $d in: $s"; return 1; }; done
}
block() { # block NAME CMD...: the output of CMD between BEGIN/END
	out "BEGIN $1"
	"${@:2}" 2>&1 | sed 's/^/  /' >/dev/ttyS1
	out "END $1"
}
# power poweroff|reboot [-f]: through systemd, or the init's own command (OpenRC,
# runit), without waiting for it.
power() {
	if [ -d /run/systemd/system ]; then systemctl "$@" --no-block; else "$@" & fi
}
finish() { # finish poweroff|reboot
	sync
	out "DONE $1"
	power "$1"
	exit 0
}

# The changes scenario 1 (and 6) make through the overlays.
change_etc() {
	echo new >/etc/e2e-new && chmod 640 /etc/e2e-new && chown 1000:1000 /etc/e2e-new &&
		setfattr -n trusted.e2e -v hello /etc/e2e-new && setfacl -m u:test:r /etc/e2e-new &&
		echo "#!/bin/sh" >/etc/e2e-cap && setcap cap_net_raw+ep /etc/e2e-cap &&
		echo changed >>/etc/e2e-fixture/modify &&
		touch -d '2001-02-03 04:05:06.123456789' /etc/e2e-fixture/modify &&
		chmod 600 /etc/e2e-fixture/keep &&
		rm /etc/e2e-fixture/delete && rm -r /etc/e2e-gone-dir &&
		rm -r /etc/e2e-fixture/sub && mkdir /etc/e2e-fixture/sub && echo other >/etc/e2e-fixture/sub/other &&
		mkdir -p /etc/e2e-newdir/a && echo x >/etc/e2e-newdir/a/f && ln /etc/e2e-newdir/a/f /etc/e2e-newdir/hard &&
		ln -s ../e2e-new /etc/e2e-newdir/sym && mkfifo /etc/e2e-newdir/fifo &&
		mv /etc/e2e-fixture/keep /etc/e2e-fixture/kept
}
# A lower file carrying a user.* xattr is modified. On Linux >= 6.6 the merged view
# keeps the xattr. Before 6.6 tmpfs (the store) has no user.* xattrs: overlayfs's
# copy-up drops them, so the merged view shows none; the flush keeps the disk
# copy's, which the host checks after poweroff.
modify_user_xattr_file() {
	echo more >>/etc/e2e-fixture/user-xattr || return 1
	if getfattr -n user.e2e /etc/e2e-fixture/user-xattr >/dev/null 2>&1; then
		out "INFO user-xattr kept in the merged view"
		return 0
	fi
	out "INFO user-xattr not in the merged view (kernel $(uname -r))"
	case $(uname -r) in
	[0-5].* | 6.[0-5].*) return 0 ;; # the known copy-up loss; the disk keeps it
	*) return 1 ;;
	esac
}
# write_big_logs MB: MB of new logs in /var/log/e2e-big (10 MB files; a different
# line per file so no two are alike).
write_big_logs() {
	mkdir -p /var/log/e2e-big || return 1
	for i in $(seq 1 $(($1 / 10))); do
		# (not a pipe: with pipefail, yes's SIGPIPE would count as a failure)
		head -c 10485760 <(yes "e2e big log $i: the quick brown fox jumps over the lazy dog") \
			>"/var/log/e2e-big/log$i" || return 1
	done
}
change_varlog() {
	echo 'new log' >/var/log/e2e-new.log && echo 'appended' >>/var/log/e2e-old.log &&
		rm /var/log/e2e-delete.log
}

# Scenarios of two boots with a power cut between them (ckpt*): a counter outside the
# overlays, on the disk, tells the boots apart.
next_boot() {
	local n
	n=$(($(cat /var/lib/e2e-boots 2>/dev/null || echo 0) + 1))
	echo "$n" >/var/lib/e2e-boots && sync /var/lib/e2e-boots
	out "INFO boot $n"
	echo "$n"
}
# Only the scenario's own checkpoints: no periodic one in between (if the timer is on).
no_timer_checkpoints() { systemctl stop ephemeral-checkpoint.timer 2>/dev/null || :; }
# power_cut: the host kills QEMU now; what the guest wrote to its disk stays, its
# page cache and the RAM store are gone.
power_cut() {
	sync
	out KILLME
	sleep infinity
}
# A boot line `ephemeral mount` appended to /var/log/ephemeral.log.
boot_line_says() { grep -F -- " boot: $1" /var/log/ephemeral.log; }
# A package shipping a conffile, built here (dpkg-deb), installed from the file.
make_conffile_deb() {
	local d=/var/tmp/e2e-pkg
	rm -rf "$d" && mkdir -p "$d/DEBIAN" "$d/etc" || return 1
	printf '%s\n' 'Package: e2e-conffile' 'Version: 1.0' 'Architecture: all' \
		'Maintainer: e2e <e2e@localhost>' 'Description: ephemeral e2e: one conffile' >"$d/DEBIAN/control"
	echo /etc/e2e-conffile.conf >"$d/DEBIAN/conffiles"
	echo "shipped by e2e-conffile 1.0" >"$d/etc/e2e-conffile.conf"
	dpkg-deb --root-owner-group --build "$d" /var/tmp/e2e-conffile.deb
}
apt_install_local() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q /var/tmp/e2e-conffile.deb; }
pkg_installed() { [ "$(dpkg-query -W -f='${Status}' e2e-conffile)" = "install ok installed" ]; }
# checkpoint_stopped_midway: a checkpoint of the big logs is started and frozen
# (SIGSTOP) once its new generation holds some of them, not yet current; then sync,
# so its partial files are on the disk when the power goes.
checkpoint_stopped_midway() {
	local j=/var/lib/ephemeral/journal cur next pid i
	cur=$(readlink "$j/current") || { echo "no current checkpoint"; return 1; }
	next=gen-$((${cur#gen-} + 1))
	ephemeral checkpoint >/dev/null 2>&1 &
	pid=$!
	for ((i = 0; i < 6000; i++)); do
		if [ -n "$(find "$j/$next" -name 'log*' -size +1M 2>/dev/null | head -1)" ]; then
			kill -STOP "$pid"
			sync
			[ "$(readlink "$j/current")" = "$cur" ] || { echo "the checkpoint became current before it was stopped"; return 1; }
			echo "stopped with $(du -sk "$j/$next" | cut -f1) KiB of $next written"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || { echo "the checkpoint ended before it was stopped"; return 1; }
		sleep 0.05
	done
	echo "no sign of $next after 300 s"
	return 1
}

# Never hang the test: whatever happens, power off after a while.
(sleep 240 && out "FAIL guest-watchdog scenario did not finish in 240 s" && power poweroff -f) &

scenario=$(sed -n 's/.*ephemeral_test=\([^ ]*\).*/\1/p' /proc/cmdline)
out "INFO scenario $scenario, kernel $(uname -r)"
if [ -d /run/systemd/system ]; then
	out "INFO system state $(systemctl is-system-running 2>/dev/null)"
else
	out "INFO no systemd: pid 1 is $(cat /proc/1/comm)"
fi
block mounts findmnt -n -o TARGET,FSTYPE,OPTIONS -t overlay,tmpfs

case "$scenario" in
default)
	check etc-is-overlay is_overlay /etc
	check varlog-is-overlay is_overlay /var/log
	check etc-upper-in-store upper_in_store /etc
	check varlog-upper-in-store upper_in_store /var/log
	check status-shows-dirs status_shows /etc /var/log
	block status ephemeral status
	check user-reads-passwd user_reads_passwd
	check change-etc change_etc
	check change-varlog change_varlog
	check modify-file-with-user-xattr modify_user_xattr_file
	block diff ephemeral diff
	sync
	block manifest-etc manifest /etc
	finish poweroff
	;;
reboot)
	# Boot 1 makes changes and reboots; boot 2 (same kernel command line) checks
	# that it sees them. A counter outside the overlays tells the boots apart.
	n=$(($(cat /var/lib/e2e-boots 2>/dev/null || echo 0) + 1))
	echo "$n" >/var/lib/e2e-boots
	out "INFO boot $n"
	if [ "$n" = 1 ]; then
		check boot1-etc-is-overlay is_overlay /etc
		check boot1-change echo_into /etc/e2e-reboot "boot 1 was here"
		check boot1-change-log echo_into /var/log/e2e-reboot.log "boot 1 log"
		finish reboot
	fi
	check boot2-etc-is-overlay is_overlay /etc
	check boot2-sees-etc-change grep -qx "boot 1 was here" /etc/e2e-reboot
	check boot2-sees-log-change grep -qx "boot 1 log" /var/log/e2e-reboot.log
	check boot2-change echo_into /etc/e2e-reboot "boot 2 was here"
	finish poweroff
	;;
discard)
	check etc-is-overlay is_overlay /etc
	check varlog-not-overlay not_overlay /var/log
	check change-etc change_etc
	finish poweroff
	;;
off)
	check etc-not-overlay not_overlay /etc
	check varlog-not-overlay not_overlay /var/log
	check no-store not_overlay /run/initramfs/ephemeral
	check booted-cleanly booted_cleanly
	check write-etc echo_into /etc/e2e-off "written with ephemeral=off"
	finish poweroff
	;;
badcmdline)
	check etc-is-overlay is_overlay /etc
	check varlog-not-overlay not_overlay /var/log
	check booted-cleanly booted_cleanly
	block kmsg journalctl -b -k -o cat --no-pager -g ephemeral
	finish poweroff
	;;
bigupper)
	# A big upper (>= 200 MB of logs) must still reach the disk at poweroff.
	check varlog-is-overlay is_overlay /var/log
	check write-big-logs write_big_logs 220
	block status ephemeral status
	block big-sums sh -c 'cd /var/log/e2e-big && sha256sum log*'
	finish poweroff
	;;
crash)
	check etc-is-overlay is_overlay /etc
	check varlog-is-overlay is_overlay /var/log
	check change-etc change_etc
	check change-varlog change_varlog
	sync
	out KILLME
	sleep infinity
	;;
ckpt)
	# Write A, checkpoint, write B, power cut: the next boot replays the checkpoint
	# (A, with its deletion and its log) and says so; B is lost.
	if [ "$(next_boot)" = 1 ]; then
		no_timer_checkpoints
		check etc-is-overlay is_overlay /etc
		check write-a sh -c 'echo A >/etc/e2e-ckpt && echo "log A" >/var/log/e2e-ckpt.log && rm /etc/e2e-fixture/delete'
		check checkpoint ephemeral checkpoint
		check write-b sh -c 'echo B >/etc/e2e-ckpt && echo B >/etc/e2e-ckpt-b && echo "log B" >>/var/log/e2e-ckpt.log'
		power_cut
	fi
	check boot2-etc-is-overlay is_overlay /etc
	check boot2-has-a grep -qx A /etc/e2e-ckpt
	check boot2-log-is-a grep -qx "log A" /var/log/e2e-ckpt.log
	check boot2-no-b test ! -e /etc/e2e-ckpt-b
	check boot2-deletion-replayed test ! -e /etc/e2e-fixture/delete
	check boot2-boot-line boot_line_says "last shutdown did not complete: replayed the checkpoint of"
	block status ephemeral status
	finish poweroff
	;;
ckpt-apt)
	# apt-get install of a local package with a conffile, power cut right after:
	# the apt hook checkpointed the transaction, the next boot has the conffile.
	if [ "$(next_boot)" = 1 ]; then
		no_timer_checkpoints
		check no-checkpoint-yet test ! -e /var/lib/ephemeral/journal/current
		check build-deb make_conffile_deb
		check apt-install apt_install_local
		check apt-hook-checkpointed test -L /var/lib/ephemeral/journal/current
		power_cut
	fi
	check boot2-package-installed pkg_installed
	check boot2-has-conffile grep -qx "shipped by e2e-conffile 1.0" /etc/e2e-conffile.conf
	check boot2-boot-line boot_line_says "last shutdown did not complete: replayed the checkpoint of"
	finish poweroff
	;;
ckpt-torn)
	# A checkpoint, then 100 MB of logs and a second checkpoint frozen half-way, power
	# cut: the next boot replays the first one; a new checkpoint then works.
	if [ "$(next_boot)" = 1 ]; then
		no_timer_checkpoints
		check write-a sh -c 'echo A >/etc/e2e-ckpt'
		check checkpoint ephemeral checkpoint
		check write-big-logs write_big_logs 100
		check write-b sh -c 'echo B >/etc/e2e-ckpt'
		check checkpoint-stopped-midway checkpoint_stopped_midway
		power_cut
	fi
	check boot2-has-a grep -qx A /etc/e2e-ckpt
	check boot2-no-big-logs test ! -e /var/log/e2e-big
	check boot2-boot-line boot_line_says "last shutdown did not complete: replayed the checkpoint of"
	check boot2-checkpoint ephemeral checkpoint
	finish poweroff
	;;
shinit)
	# Booted with the initramfs that uses dracut's shell init instead of systemd.
	check etc-is-overlay is_overlay /etc
	check varlog-is-overlay is_overlay /var/log
	check booted-cleanly booted_cleanly
	check change-etc echo_into /etc/e2e-shinit "written under the shell-init initramfs"
	finish poweroff
	;;
demo)
	# `make demo`: the same steps, shown on the console.
	say() { printf '\n\033[1;32m[guest]$ %s\033[0m\n' "$*" >/dev/console; }
	run() { say "$*"; "$@" >/dev/console 2>&1; }
	token=$(sed -n 's/.*ephemeral_demo=\([^ ]*\).*/\1/p' /proc/cmdline)
	run findmnt -t overlay,tmpfs -o TARGET,FSTYPE,SOURCE,OPTIONS
	run ephemeral status
	say "echo 'written in RAM during the demo ($token)' >/etc/demo-note"
	echo "written in RAM during the demo ($token)" >/etc/demo-note
	run ephemeral diff
	say "poweroff   # watch the shutdown initramfs merge the changes into the disk"
	sleep 2
	finish poweroff
	;;
*)
	out "FAIL scenario unknown scenario '$scenario'"
	finish poweroff
	;;
esac
