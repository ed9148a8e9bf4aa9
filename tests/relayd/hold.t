#!/bin/sh
# hold.t - relay.hold-while-connected with a real Dovecot 2.3.19 and a real
# IMAP client that stays logged in (IDLE) past relay.expire (6 s here: a
# held entry is rewritten once half of it is gone, at a 1 s tick, so a
# loaded machine has 2 s and more to spare).
#
# From the log: the address stays allowed while the session is open,
# across a relayd restart (the open sessions are saved, privately), and
# expires `expire` after the client logs out (the entry's expiry is the
# logout's time + 6 s); without the setting the same client loses relaying
# after 6 s although it is still connected; a Dovecot restart ends every
# session it had; a session older than relay.hold-max is no longer held.
# From the event exporter: the same, the session ended by Dovecot's
# mail_user_session_finished event.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$LEAFMAIL_SRC/tests/relayd/common.sh"
. "$S/tests/harness/dovecot.sh"
. "$S/tests/harness/leafmail.sh"
. "$S/tests/relayd/push.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (a private Dovecot)"
for p in dovecot curl openssl python3; do
	command -v "$p" >/dev/null || skip_all "$p not installed"
done
watchdog 300

EP=$(free_port) POP3=$(free_port) IMAP=$(free_port)
push_key "$T/events.key"
DC_EXTRA_CONF=$(dc_events_conf "$EP")
dc_start "$T/dovecot" "$POP3" "$IMAP" || { notok "dovecot starts"; exit 1; }
LOGSRC="source \"$DC_LOG\" { format = \"dovecot\" }"

# conf HOLD [HOLDMAX [SOURCES]]: expire 6s, sweep 1s
conf() {
	write_conf 6s 1s "${3:-$LOGSRC}"
	sed -i "s|^  expire = \"6s\"|  expire = \"6s\"\n  hold-while-connected = $1\n  hold-max = \"${2:-1h}\"|" "$CFG"
}
# held IP SECONDS: IP is in the table at every look during SECONDS
held() {
	_n=$(($2 * 4))
	while [ "$_n" -gt 0 ]; do
		in_table "$1" || { echo "# $1 lapsed with $_n looks to go"; return 1; }
		sleep 0.25; _n=$((_n - 1))
	done
}
# logout_time SRC: the Unix time of the "Logged out" line of bob from SRC
logout_time() {
	_sid=$(sed -n "s/.*Login: user=<bob>.*rip=$1,.*session=<\([^>]*\)>.*/\1/p" "$DC_LOG" | tail -1)
	_ts=$(grep -F "<$_sid>: Info: Disconnected: Logged out" "$DC_LOG" | tail -1 | cut -c1-15)
	[ -n "$_ts" ] && date -d "$_ts" +%s
}
expiry() { "$RELAYD" -c "$CFG" -l | sed -n "s/^$(echo "$1" | sed 's/\./\\./g') //p"; }

conf true
start_relayd || { notok "relayd starts"; exit 1; }
ok "relayd starts with hold-while-connected"

imap_hold 127.0.0.20 60
check "an IMAP client from 127.0.0.20 logs in and idles" wait_for 5 in_table 127.0.0.20
check "127.0.0.20 stays allowed for 14 s while connected (expire 6 s)" held 127.0.0.20 14
check "relayd stops cleanly with a session open" stop_relayd
check "the open session was saved" grep -q ' 127.0.0.20 ' "$T/state/relayd.sessions"
check "the sessions file is private (0600)" [ "$(stat -c %a "$T/state/relayd.sessions")" = 600 ]
check "the sessions file belongs to $RUSER" [ "$(stat -c %U "$T/state/relayd.sessions")" = "$RUSER" ]
start_relayd || notok "relayd starts again"
check "a restarted relayd restored the open session" grep -q '1 open session restored' "$ERR"
check "127.0.0.20 stays allowed for 8 s after the restart" held 127.0.0.20 8
touch "$T/release-127.0.0.20"
wait "$HOLD_PID"
check "the client logged out" wait_for 5 sh -c "grep -q 'Disconnected: Logged out' '$DC_LOG'"
lt=$(logout_time 127.0.0.20)
check "the entry now expires 6 s after the logout (logged out at $lt)" \
	wait_for 3 sh -c "[ \"\$('$RELAYD' -c '$CFG' -l | sed -n 's/^127\.0\.0\.20 //p')\" = $((lt + 6)) ]"
check "127.0.0.20 is denied once that time has passed" wait_for 12 not_in_table 127.0.0.20
check "the session is no longer saved" wait_for 3 not grep -q ' 127.0.0.20 ' "$T/state/relayd.sessions"

# A Dovecot restart: its sessions are over, whatever the log says of them.
# The imap process is killed first (SIGKILL: it writes no end of session),
# so that only the start-up line can end the session.
imap_hold 127.0.0.21 60
check "a client from 127.0.0.21 logs in and idles" wait_for 5 in_table 127.0.0.21
mpid=$(sed -n 's/.*Login: user=<bob>.*rip=127\.0\.0\.21,.*mpid=\([0-9]*\),.*/\1/p' "$DC_LOG" | tail -1)
check "its imap process (mpid $mpid) is killed without a word" kill -9 "$mpid"
check "127.0.0.21 held for 8 s (no end of session was logged)" held 127.0.0.21 8
dc_stop "$T/dovecot"
dc_start "$T/dovecot" "$POP3" "$IMAP" || notok "dovecot starts again"
check "relayd saw Dovecot start: the session ended" wait_for 5 grep -q 'the server restarted; 1 session ended' "$ERR"
check "127.0.0.21 is denied 6 s later" wait_for 12 not_in_table 127.0.0.21

# Without the setting: the connected client loses relaying after 6 s.
stop_relayd
conf false
start_relayd || notok "relayd starts without holding"
imap_hold 127.0.0.22 60
check "a client from 127.0.0.22 logs in and idles" wait_for 5 in_table 127.0.0.22
check "without hold-while-connected 127.0.0.22 is denied after 6 s, still connected" \
	wait_for 12 not_in_table 127.0.0.22
check "(the client is still connected)" kill -0 "$HOLD_PID"
touch "$T/release-127.0.0.22"

# hold-max: a session open for longer is no longer held.
stop_relayd
conf true 4s
start_relayd || notok "relayd starts with hold-max 4s"
imap_hold 127.0.0.23 60
check "a client from 127.0.0.23 logs in and idles" wait_for 5 in_table 127.0.0.23
check "past hold-max (4 s) and expire, 127.0.0.23 is denied" wait_for 20 not_in_table 127.0.0.23
check "relayd said why" grep -q 'open for longer than relay.hold-max' "$ERR"
touch "$T/release-127.0.0.23"

# The event exporter: logins open sessions, mail_user_session_finished
# ends them.  Dovecot is restarted first: its HTTP client backs off from
# a port that refused it for a while (here all the time above).
stop_relayd
dc_stop "$T/dovecot"
dc_start "$T/dovecot" "$POP3" "$IMAP" || notok "dovecot starts again"
conf true 1h "source \"dovecot-events:127.0.0.1:$EP\" { api-key-file = \"$T/events.key\" }"
start_relayd || notok "relayd starts with a dovecot-events source"
imap_hold 127.0.0.24 60
check "a client from 127.0.0.24 logs in and idles" wait_for 5 in_table 127.0.0.24
check "127.0.0.24 stays allowed for 14 s while connected" held 127.0.0.24 14
touch "$T/release-127.0.0.24"
wait "$HOLD_PID"
t0=$(date +%s)
check "after the logout 127.0.0.24 expires within 6 s" \
	wait_for 3 sh -c "e=\$('$RELAYD' -c '$CFG' -l | sed -n 's/^127\.0\.0\.24 //p'); [ -n \"\$e\" ] && [ \"\$e\" -le $((t0 + 7)) ]"
check "127.0.0.24 is denied once that time has passed" wait_for 12 not_in_table 127.0.0.24
stop_relayd
rc=$?
check "relayd exits 0" [ "$rc" -eq 0 ]
if grep -q -E 'Sanitizer|runtime error:' "$ERR"; then
	notok "no sanitizer report from relayd"; sed 's/^/# /' "$ERR" | tail -30
fi
sed 's/^/# relayd: /' "$ERR" | grep -v 'allowed until' | tail -20
