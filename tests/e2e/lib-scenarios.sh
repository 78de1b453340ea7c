#!/bin/bash
# Helpers of the boot tests (test-*-boot.sh): run scenario boots two at a time, then
# turn what the guest reported (guest/e2e-guest.sh, on the second serial port) and
# the disk image into TAP lines. Source after tests/lib/lib.sh and lib-e2e.sh, with
# E2E_RUN set to an empty directory.
# shellcheck disable=SC2154 # _tap_failed comes from tests/lib/lib.sh

# scenarios_build SCRIPT [PREFIX]: runs the (cached) build SCRIPT, then takes the
# manifests of the base image's /etc and /var/log; PREFIX starts the TAP line. Ends
# the test on failure.
scenarios_build() {
	local t0 prefix=${2:-}
	t0=$(date +%s)
	if ! "$1" >"$E2E_RUN/build.log" 2>&1; then
		not_ok "${prefix}build the test system"
		tail -30 "$E2E_RUN/build.log" | sed 's/^/#   /'
		finish
	fi
	ok "${prefix}build the test system ($(($(date +%s) - t0)) s; $(grep -c cached "$E2E_RUN/build.log") cached steps)"
	if ! { image_manifest "$E2E_DIR/base.img" /etc >"$E2E_RUN/base-etc.manifest" &&
		image_manifest "$E2E_DIR/base.img" /var/log >"$E2E_RUN/base-varlog.manifest"; }; then
		not_ok "manifest of the base image"
		finish
	fi
}

# run_scenario NAME CMDLINE [--reboot|--crash|--crash-boot|--shinit]: one boot of a
# fresh copy of base.img; QEMU's exit status and the time go to $E2E_RUN/NAME.rc.
# --crash kills QEMU when the guest says KILLME; --crash-boot then boots the same
# image again as NAME-2 (its console, result and rc under that name).
run_scenario() {
	local name=$1 cmdline=$2 mode=${3:-} img=$E2E_RUN/$1.img start rc i
	if [ "$mode" = --shinit ]; then
		export E2E_INITRD=$E2E_DIR/initrd-shinit.img
		mode=
	fi
	cp --sparse=always "$E2E_DIR/base.img" "$img"
	start=$(date +%s)
	if [ "$mode" = --crash ] || [ "$mode" = --crash-boot ]; then
		e2e_boot "$name" "$img" "$cmdline" 2>"$E2E_RUN/$name.stderr" &
		# Pull the plug as soon as the guest says its changes are made.
		for ((i = 0; i < E2E_BOOT_TIMEOUT; i++)); do
			grep -q '^KILLME' "$E2E_RUN/$name.result" 2>/dev/null && break
			kill -0 $! 2>/dev/null || break
			sleep 1
		done
		[ -f "$E2E_RUN/$name.pid" ] && kill -KILL "$(cat "$E2E_RUN/$name.pid")" 2>/dev/null
		{ wait $!; } 2>/dev/null
		rc=$?
	else
		e2e_boot "$name" "$img" "$cmdline" "$mode" 2>"$E2E_RUN/$name.stderr"
		rc=$?
	fi
	echo "$rc $(($(date +%s) - start))" >"$E2E_RUN/$name.rc"
	if [ "$mode" = --crash-boot ]; then
		start=$(date +%s)
		e2e_boot "$name-2" "$img" "$cmdline" 2>"$E2E_RUN/$name-2.stderr"
		echo "$? $(($(date +%s) - start))" >"$E2E_RUN/$name-2.rc"
	fi
}

# run_scenarios "NAME|CMDLINE|MODE"...: all of them, two at a time.
run_scenarios() {
	local s name cmdline mode t0
	t0=$(date +%s)
	for s in "$@"; do
		IFS='|' read -r name cmdline mode <<<"$s"
		run_scenario "$name" "$cmdline" "$mode" &
		while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n; done
	done
	wait
	diag "all boots took $(($(date +%s) - t0)) s (two at a time)"
}

# guest_checks NAME: one TAP line per PASS/FAIL the guest reported.
guest_checks() {
	local name=$1 kind check why
	while read -r kind check why; do
		case "$kind" in
		PASS) ok "$name: guest: $check" ;;
		FAIL) not_ok "$name: guest: $check"; diag "$why" ;;
		esac
	done < <(tr -d '\r' <"$E2E_RUN/$name.result")
}
# block NAME BLOCK: a BEGIN/END block of the guest's report, indentation removed.
block() {
	tr -d '\r' <"$E2E_RUN/$1.result" | sed -n "/^BEGIN $2\$/,/^END $2\$/p" | sed '1d;$d;s/^  //'
}
# boot_status NAME EXPECTED_RC: QEMU's exit status and the boot time.
boot_status() {
	local name=$1 want=$2 rc secs
	read -r rc secs <"$E2E_RUN/$name.rc"
	assert_eq "$name: QEMU exit status ($secs s)" "$want" "$rc"
}
fsck_clean() { check "$1: e2fsck -fn clean" e2fsck -fn "$E2E_RUN/$1.img"; }
same_manifest() { # DESC EXPECTED_FILE ACTUAL_FILE
	if diff -u "$2" "$3" >"$E2E_RUN/manifest.diff"; then ok "$1"; else
		not_ok "$1"
		head -40 "$E2E_RUN/manifest.diff" | sed 's/^/#   /'
	fi
}
# scenario_done NAME: on any failure in this scenario, show the console's tail.
failed_before=0
scenario_done() {
	if [ "$_tap_failed" -gt "$failed_before" ]; then
		diag "---- $1: last lines of the guest console ($E2E_RUN/$1.console)"
		tail -40 "$E2E_RUN/$1.console" | tr -d '\r' | sed 's/^/#   /'
		sed 's/^/#   qemu: /' "$E2E_RUN/$1.stderr"
		if [ -f "$E2E_RUN/$1-2.console" ]; then
			diag "---- $1: last lines of the console of its second boot"
			tail -40 "$E2E_RUN/$1-2.console" | tr -d '\r' | sed 's/^/#   /'
			sed 's/^/#   qemu: /' "$E2E_RUN/$1-2.stderr"
		fi
	fi
	failed_before=$_tap_failed
}
# shellcheck disable=SC2317 # called through check
in_console() { tr -d "\r" <"$E2E_RUN/$1.console" | grep -a -F -- "$2" >/dev/null; }

# default_on_disk NAME: after the "default" scenario (guest/e2e-guest.sh) powered
# off: the filesystem is clean, the disk's /etc equals the manifest of the merged /etc
# the guest took just before poweroff, the /var/log changes are there, and the flush
# summary was appended to /var/log/ephemeral.log.
default_on_disk() {
	local name=$1 summary
	fsck_clean "$name"
	block "$name" manifest-etc >"$E2E_RUN/$name-guest-etc.manifest"
	image_manifest "$E2E_RUN/$name.img" /etc >"$E2E_RUN/$name-disk-etc.manifest"
	check "$name: guest reported a manifest of the merged /etc" test -s "$E2E_RUN/$name-guest-etc.manifest"
	# The user.* xattr of the modified fixture: on disk it must survive. Where the guest
	# kernel's tmpfs could not hold it (Linux < 6.6), the merged view lacked it while
	# the flush kept the disk copy's: compare the manifests without that one field.
	assert_eq "$name: modified file kept its user.* xattr on disk" lower \
		"$(image_xattr "$E2E_RUN/$name.img" /etc/e2e-fixture/user-xattr user.e2e)"
	if ! grep -q '^e2e-fixture/user-xattr .* user\.e2e=' "$E2E_RUN/$name-guest-etc.manifest"; then
		sed -i 's|^\(e2e-fixture/user-xattr .*\) user\.e2e=6c6f776572 |\1 - |' "$E2E_RUN/$name-disk-etc.manifest"
	fi
	same_manifest "$name: disk /etc equals the merged /etc before poweroff" \
		"$E2E_RUN/$name-guest-etc.manifest" "$E2E_RUN/$name-disk-etc.manifest"
	assert_eq "$name: new /var/log file on disk" "new log" "$(image_cat "$E2E_RUN/$name.img" /var/log/e2e-new.log)"
	assert_eq "$name: appended /var/log file on disk" "old log line
appended" "$(image_cat "$E2E_RUN/$name.img" /var/log/e2e-old.log)"
	check_fails "$name: deleted /var/log file gone from disk" image_cat "$E2E_RUN/$name.img" /var/log/e2e-delete.log
	summary=$(image_cat "$E2E_RUN/$name.img" /var/log/ephemeral.log 2>/dev/null | tail -1)
	assert_match "$name: flush summary appended to /var/log/ephemeral.log" 'flush: /etc: [0-9]+ written' "$summary"
}

# build_test_system: E2E_RUN=$E2E_DIR/run made empty, the guest of $E2E_VARIANT built
# (cached steps say so), manifests of the base image's /etc and /var/log taken; one
# TAP line, and the test ends when the build fails.
build_test_system() {
	E2E_RUN=$E2E_DIR/run
	rm -rf "$E2E_RUN"
	mkdir -p "$E2E_RUN"
	scenarios_build "$E2E_SRC/build-image.sh" "$E2E_VARIANT: "
}

# Reboot: the changes of boot 1 are merged at reboot, boot 2 sees them.
assert_reboot() {
	local name=$1
	boot_status "$name" 0
	guest_checks "$name"
	assert_match "$name: two boots" "INFO boot 2" "$(cat "$E2E_RUN/$name.result")"
	fsck_clean "$name"
	assert_eq "$name: boot 2's change on disk" "boot 2 was here" "$(image_cat "$E2E_RUN/$name.img" /etc/e2e-reboot)"
	assert_eq "$name: boot 1's log on disk" "boot 1 log" "$(image_cat "$E2E_RUN/$name.img" /var/log/e2e-reboot.log)"
}

# ephemeral.dirs=/etc:discard: nothing reaches the disk.
assert_discard() {
	local name=$1
	boot_status "$name" 0
	guest_checks "$name"
	fsck_clean "$name"
	image_manifest "$E2E_RUN/$name.img" /etc >"$E2E_RUN/$name-disk-etc.manifest"
	same_manifest "$name: disk /etc unchanged" "$E2E_RUN/base-etc.manifest" "$E2E_RUN/$name-disk-etc.manifest"
}

# ephemeral=off: no overlay, writes go straight to disk, boot is normal.
assert_off() {
	local name=$1
	boot_status "$name" 0
	guest_checks "$name"
	fsck_clean "$name"
	assert_eq "$name: write to /etc went straight to disk" "written with ephemeral=off" \
		"$(image_cat "$E2E_RUN/$name.img" /etc/e2e-off)"
}

# Bad entries on the command line: each reported once, the good one mounted.
assert_badcmdline() {
	local name=$1 kmsg entry n
	boot_status "$name" 0
	guest_checks "$name"
	fsck_clean "$name"
	kmsg=$(block "$name" kmsg)
	for entry in relative /nonexistent /; do
		n=$(printf '%s\n' "$kmsg" | grep -cE "['\"]${entry}['\"]")
		assert_eq "$name: exactly one kernel log line about '$entry'" 1 "$n"
	done
	if [ "$_tap_failed" -gt "$failed_before" ]; then printf '%s\n' "$kmsg" | sed 's/^/#   kmsg: /'; fi
}

# Power cut after changes: the disk is exactly as before the boot.
assert_crash() {
	local name=$1 rc
	read -r rc _ <"$E2E_RUN/$name.rc"
	assert_eq "$name: QEMU killed after the guest made its changes" "137" "$rc"
	check "$name: guest signalled its changes were made" grep -q '^KILLME' "$E2E_RUN/$name.result"
	guest_checks "$name"
	check "$name: journal replay" e2fsck -E journal_only -p "$E2E_RUN/$name.img"
	fsck_clean "$name"
	image_manifest "$E2E_RUN/$name.img" /etc >"$E2E_RUN/$name-disk-etc.manifest"
	image_manifest "$E2E_RUN/$name.img" /var/log >"$E2E_RUN/$name-disk-varlog.manifest"
	same_manifest "$name: disk /etc exactly as before the boot" "$E2E_RUN/base-etc.manifest" "$E2E_RUN/$name-disk-etc.manifest"
	same_manifest "$name: disk /var/log exactly as before the boot" "$E2E_RUN/base-varlog.manifest" "$E2E_RUN/$name-disk-varlog.manifest"
}

# The checkpoint scenarios (--crash-boot): boot 1 made changes, checkpointed and lost
# its power; boot 2 replayed the checkpoint, said so on the console, and powered off.
assert_cut_then_replay() {
	local name=$1 rc secs
	read -r rc secs <"$E2E_RUN/$name.rc"
	assert_eq "$name: boot 1 killed after the guest's changes ($secs s)" 137 "$rc"
	check "$name: boot 1 signalled its changes were made" grep -q '^KILLME' "$E2E_RUN/$name.result"
	guest_checks "$name"
	boot_status "$name-2" 0
	guest_checks "$name-2"
	check "$name: boot 2's console says the checkpoint was replayed" \
		in_console "$name-2" "last shutdown did not complete: replayed the checkpoint of"
	fsck_clean "$name"
}

# Write A, checkpoint, write B, power cut: A on the disk, B not.
assert_ckpt() {
	local name=$1
	assert_cut_then_replay "$name"
	assert_eq "$name: the checkpointed content on disk" A "$(image_cat "$E2E_RUN/$name.img" /etc/e2e-ckpt)"
	check_fails "$name: the file made after the checkpoint is not" image_cat "$E2E_RUN/$name.img" /etc/e2e-ckpt-b
	assert_eq "$name: the checkpointed log on disk" "log A" "$(image_cat "$E2E_RUN/$name.img" /var/log/e2e-ckpt.log)"
	check_fails "$name: the checkpointed deletion on disk" image_cat "$E2E_RUN/$name.img" /etc/e2e-fixture/delete
}

# apt-get install of a package with a conffile, power cut: the conffile on disk.
assert_ckpt_apt() {
	local name=$1
	assert_cut_then_replay "$name"
	assert_eq "$name: the package's conffile on disk" "shipped by e2e-conffile 1.0" \
		"$(image_cat "$E2E_RUN/$name.img" /etc/e2e-conffile.conf)"
}

# Power cut in the middle of a checkpoint: the previous one was replayed.
assert_ckpt_torn() {
	local name=$1
	assert_cut_then_replay "$name"
	assert_eq "$name: the previous checkpoint's content on disk" A "$(image_cat "$E2E_RUN/$name.img" /etc/e2e-ckpt)"
	check_fails "$name: nothing of the interrupted checkpoint on disk" image_cat "$E2E_RUN/$name.img" /var/log/e2e-big/log1
}
