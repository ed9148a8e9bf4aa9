#!/bin/sh
# push_events.t - logins pushed by a real Dovecot 2.3.19 through its event
# exporter (source "dovecot-events:ADDR", the key as the URL's path).
#
# POP3, IMAP and IPv6 logins reach the table within a second; a failed
# login, a master user's login, SMTP AUTH through Dovecot SASL, requests
# with a wrong or missing key, malformed bodies and a flood authorize
# nothing and leave relayd running; Dovecot logs no exporter error while
# relayd answers; with relayd hung or stopped, logins still succeed at
# once.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$LEAFMAIL_SRC/tests/relayd/common.sh"
. "$S/tests/harness/dovecot.sh"
. "$S/tests/harness/leafmail.sh"
. "$S/tests/relayd/push.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (a private Dovecot)"
for p in dovecot doveadm curl openssl; do
	command -v "$p" >/dev/null || skip_all "$p not installed"
done
watchdog 200

EP=$(free_port) POP3=$(free_port) IMAP=$(free_port)
push_key "$T/events.key"
URL=http://127.0.0.1:$EP/$PUSH_KEY
write_conf 30m 1s "source \"dovecot-events:127.0.0.1:$EP\" { api-key-file = \"$T/events.key\" }"
start_relayd || { notok "relayd starts"; exit 1; }
ok "relayd starts with a dovecot-events source"
mkdir -p "$T/dovecot"
DC_EXTRA_CONF="$(dc_events_conf "$EP")
$(dc_master_conf "$T/dovecot")"
dc_start "$T/dovecot" "$POP3" "$IMAP" || { notok "dovecot starts"; exit 1; }

marker() {
	dc_login bob bobpw "$1" pop3 && wait_for 3 in_table "$1"
}

check "POP3 login as alice from 127.0.0.2" dc_login alice alicepw 127.0.0.2 pop3
check "127.0.0.2 allowed within a second" within 1000 in_table 127.0.0.2
echo "# login -> relayd -l lists it: ${ELAPSED} ms"
check "IMAP login as bob from 127.0.0.3" dc_login bob bobpw 127.0.0.3 imap
check "127.0.0.3 allowed within a second" within 1000 in_table 127.0.0.3
echo "# login -> relayd -l lists it: ${ELAPSED} ms"
exp=$("$RELAYD" -c "$CFG" -l | sed -n 's/^127\.0\.0\.3 //p')
now=$(date +%s)
check "a pushed login counts from now: expires now + 30m" \
	[ -n "$exp" ] && [ "$exp" -ge $((now + 1795)) ] && [ "$exp" -le $((now + 1800)) ]
if dc_has_ipv6; then
	check "IMAP login as alice from ::1" dc_login alice alicepw ::1 imap
	check "::1 allowed within a second" within 1000 in_table ::1
fi

check "a wrong password from 127.0.0.4 is refused" not dc_login alice wrong 127.0.0.4 pop3
check "a master user's login from 127.0.0.5 succeeds" dc_login 'alice*admin' adminpw 127.0.0.5 imap
check "SMTP AUTH through Dovecot SASL (doveadm auth test, rip 127.0.0.7)" \
	sh -c "doveadm -c '$DC_CONF' auth test -x service=smtp -x rip=127.0.0.7 alice alicepw >/dev/null"
check "marker login from 127.0.0.10" marker 127.0.0.10
check "the failed login authorized nothing" not_in_table 127.0.0.4
check "the master user's login authorized nothing" not_in_table 127.0.0.5
check "SMTP AUTH authorized nothing" not_in_table 127.0.0.7

ev='{"event":"auth_request_finished","fields":{"success":"yes","service":"imap","remote_ip":"198.51.100.60","user":"x"}}'
base=http://127.0.0.1:$EP
expect "an event without the key" 403 "$(push_post "$base/" "$ev")"
expect "an event with a wrong key" 403 "$(push_post "$base/x$PUSH_KEY" "$ev")"
expect "the key in a header instead of the path" 403 "$(push_post "$base/" "$ev" "$PUSH_KEY")"
expect "the key as a longer path" 403 "$(push_post "$base/$PUSH_KEY/x" "$ev")"
expect "malformed JSON with the key" 400 "$(push_post "$URL" '{"event":' )"
expect "an event without fields" 400 "$(push_post "$URL" '{"event":"auth_request_finished"}')"
other='{"event":"imap_command_finished","fields":{"remote_ip":"198.51.100.61"}}'
expect "another event is answered" 200 "$(push_post "$URL" "$other")"
check "marker login from 127.0.0.11" marker 127.0.0.11
for ip in 198.51.100.60 198.51.100.61; do
	check "$ip not in the table" not_in_table "$ip"
done

n0=$(grep -c 'refused\|right key\|method' "$ERR")
seq 1 600 | xargs -P 8 -I{} curl -s -o /dev/null --max-time 5 \
	--data-binary "$ev" "$base/wrong-key-{}"
check "relayd is still running after the flood" kill -0 "$RPID"
check "marker login from 127.0.0.12 after the flood" marker 127.0.0.12
check "the flood authorized nothing" not_in_table 198.51.100.60
n1=$(grep -c 'refused\|right key\|method' "$ERR")
check "the flood's 600 refusals cost at most 12 log lines ($((n1 - n0)))" [ $((n1 - n0)) -le 12 ]
check "Dovecot logged no exporter error while relayd answered" \
	not grep -q -i 'error.*\(event\|export\|http\)' "$DC_LOG"

kill -STOP "$RPID"
t0=$(ms)
check "with relayd hung (SIGSTOP), a login still succeeds" dc_login alice alicepw 127.0.0.13 pop3
t=$(($(ms) - t0))
check "... within a second (${t} ms)" [ "$t" -lt 1000 ]
kill -CONT "$RPID"
stop_relayd
rc=$?
check "relayd exits 0 on TERM" [ "$rc" -eq 0 ]
t0=$(ms)
check "with relayd stopped, a login still succeeds" dc_login alice alicepw 127.0.0.14 imap
t=$(($(ms) - t0))
check "... within a second (${t} ms)" [ "$t" -lt 1000 ]
if grep -q -E 'Sanitizer|runtime error:' "$ERR"; then
	notok "no sanitizer report from relayd"; sed 's/^/# /' "$ERR" | tail -30
fi
sed 's/^/# relayd: /' "$ERR" | tail -12
grep -i 'error' "$DC_LOG" | sed 's/^/# dovecot: /' | tail -5
