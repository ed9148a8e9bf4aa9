#!/bin/sh
# race.t - the service account races the daemons' start-up: a process of
# it (swapper.c) watches run-dir and state-dir and, the moment one of the
# names root works on appears, renames a link to root's file over it
# (symbolic or hard, at random); names that are absent it plants, so the
# next start finds a link there.  Meanwhile each daemon is started as root
# and stopped, hundreds of times, at random points of its start-up
# (restarts.py).  Root's file (0600) must keep owner, mode and content.
#
#   relayd     its pid file, its positions file; then its relay table
#   milter     its pid file and its unix socket
#   lmtp       leafmail-deliver -L: its pid file and its unix socket
#   umtp       umtp receive: its pid file; then its duplicate store
#
# The old start-up lost this within a few dozen starts (the socket's
# chmod/chown by name, the pid file through a hard link, the table
# chowned through either link).  SEC_ITER sets the number of starts per
# round (default 200; a round stops after 90 s whatever the number).
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/security/common.sh"
sec_require
build_helpers || { notok "build the test helpers"; exit 1; }
ITER=${SEC_ITER:-200}

MODE=both
hardlinks_open || { MODE=sym; echo "# fs.protected_hardlinks cannot be set here: symbolic links only"; }
CFG=$T/leafmail.conf
conf_all "$CFG"
chmod 755 "$T/swapper"

# round [-k] NAME WHAT RUN-NAMES STATE-NAMES: ITER starts of daemon NAME
# with a swapper in run-dir and one in state-dir (names: "+x" planted
# too); -k stops it with SIGKILL.
round() {
	_k=
	[ "$1" = -k ] && { _k=-k; shift; }
	_d=$1 _what=$2
	make_target "$T/target"
	fresh_dir "$T/run"
	fresh_dir "$T/state"
	rm -f "$T/stop"
	as_svc "$T/swapper" "$T/run" "$T/target" "$MODE" "$T/stop" $3 >"$T/sw-run.out" 2>&1 &
	_p1=$!
	track_pid "$_p1"
	echo "swapped 0 planted 0" >"$T/sw-state.out"
	_p2=
	if [ -n "$4" ]; then
		as_svc "$T/swapper" "$T/state" "$T/target" "$MODE" "$T/stop" $4 >"$T/sw-state.out" 2>&1 &
		_p2=$!
		track_pid "$_p2"
	fi
	_res=$(python3 "$S/tests/security/restarts.py" $_k -u "$T/run/$_d.sock" "$ITER" \
		"$(daemon_ready "$_d")" "$T/$_d.log" $(daemon_cmd "$_d"))
	touch "$T/stop"
	wait $_p1 $_p2
	echo "# $_d ($_what): $_res; run-dir swapper $(cat "$T/sw-run.out"); state-dir swapper $(cat "$T/sw-state.out")"
	check_target "$_d, $ITER starts against a racing $SVC ($_what): root's file untouched" "$T/target"
	swaps=$(cat "$T/sw-run.out" "$T/sw-state.out" | awk '{ s += $2 + $4 } END { print s + 0 }')
	check "... the attacker did act ($swaps links)" [ "$swaps" -gt 0 ]
	STARTED=$(echo "$_res" | awk '{ print $2 }')
}

round relayd "pid file, positions" "+leafmail-relayd.pid" "+relayd.positions"
check "... relayd still started, $STARTED times" [ "${STARTED:-0}" -gt 0 ]
round relayd "relay table" "+leafmail-relayd.pid" "+relay.lmdb"
check "... and refused the table each time" grep -q "relay table: .*Permission denied" "$T/relayd.log"
# libmilter notices SIGTERM only every 5 s: the milter is killed.
round -k milter "pid file, socket" "+leafmail-milter.pid milter.sock" ""
check "... the milter still started, $STARTED times" [ "${STARTED:-0}" -gt 0 ]
round lmtp "pid file, socket" "+leafmail-deliver.pid lmtp.sock" ""
check "... the LMTP server still started, $STARTED times" [ "${STARTED:-0}" -gt 0 ]
round umtp "pid file" "+umtp.pid" ""
check "... umtp receive still started, $STARTED times" [ "${STARTED:-0}" -gt 0 ]
round umtp "duplicate store" "+umtp.pid" "+umtp-dedup.lmdb"
