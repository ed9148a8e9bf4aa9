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

push_login_checks

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

flood_args() { echo "$base/wrong-key-$1"; }
push_flood flood_args "$ev"
check "the flood authorized nothing" not_in_table 198.51.100.60
check "Dovecot logged no exporter error while relayd answered" \
	not grep -q -i 'error.*\(event\|export\|http\)' "$DC_LOG"

push_hung
push_stopped
sed 's/^/# relayd: /' "$ERR" | tail -12
grep -i 'error' "$DC_LOG" | sed 's/^/# dovecot: /' | tail -5
