#!/bin/sh
# push_policy.t - logins pushed by a real Dovecot 2.3.19 through its auth
# policy client in report-only mode (source "dovecot-policy:ADDR").
#
# POP3, IMAP and IPv6 logins reach the table within a second (the time
# printed); a failed login, a master user's login, SMTP AUTH through
# Dovecot SASL, a wrong key, a wrong method, malformed and oversized
# bodies, a report without the "master" attribute and a flood of all of
# them authorize nothing and leave relayd running, with the log lines
# they cause bounded; Dovecot logs no policy error while relayd answers;
# with relayd hung (SIGSTOP) or stopped, logins still succeed at once.
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

PP=$(free_port) POP3=$(free_port) IMAP=$(free_port)
URL=http://127.0.0.1:$PP/?command=report
push_key "$T/policy.key"
write_conf 30m 1s "source \"dovecot-policy:127.0.0.1:$PP\" { api-key-file = \"$T/policy.key\" }"
start_relayd || { notok "relayd starts"; exit 1; }
ok "relayd starts with a dovecot-policy source"
mkdir -p "$T/dovecot"
DC_EXTRA_CONF="$(dc_policy_conf "$PP")
$(dc_master_conf "$T/dovecot")"
dc_start "$T/dovecot" "$POP3" "$IMAP" || { notok "dovecot starts"; exit 1; }

push_login_checks

# Requests nobody sends but an attacker (or a misconfigured Dovecot).
good='{"login":"x","master":"","protocol":"imap","remote":"198.51.100.50","session_id":"","success":true,"policy_reject":false}'
expect "a report without the key" 403 "$(push_post "$URL" "$good")"
expect "a report with a wrong key" 403 "$(push_post "$URL" "$good" "x$PUSH_KEY")"
expect "a key one character short" 403 "$(push_post "$URL" "$good" "${PUSH_KEY%?}")"
r=$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $PUSH_KEY" "$URL")
expect "GET with the key" 405 "$r"
expect "malformed JSON with the key" 400 "$(push_post "$URL" '{"success":true,' "$PUSH_KEY")"
expect "a JSON array with the key" 400 "$(push_post "$URL" '[1,2]' "$PUSH_KEY")"
nomaster='{"login":"x","protocol":"imap","remote":"198.51.100.51","success":true}'
expect "a report without the master attribute" 400 "$(push_post "$URL" "$nomaster" "$PUSH_KEY")"
head -c 20000 /dev/zero | tr '\0' ' ' >"$T/big"
r=$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $PUSH_KEY" --data-binary @"$T/big" "$URL")
expect "a 20000-byte body" 413 "$r"
r=$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $PUSH_KEY" -H 'Transfer-Encoding: chunked' --data-binary @"$T/big" "$URL")
expect "a 20000-byte chunked body: connection closed" 000 "$r"
zoned='{"login":"x","master":"","protocol":"imap","remote":"fe80::1%eth0","session_id":"","success":true}'
expect "a link-local address with a zone is answered" 200 "$(push_post "$URL" "$zoned" "$PUSH_KEY")"
check "marker login from 127.0.0.11" marker 127.0.0.11
for ip in 198.51.100.50 198.51.100.51 fe80::1; do
	check "$ip not in the table" not_in_table "$ip"
done

# A flood: 600 requests, 8 at a time, none with the key.
flood_args() { echo "-H X-API-Key:wrong-key-$1 $URL"; }
push_flood flood_args "$good"
check "the flood authorized nothing" not_in_table 198.51.100.50
check "Dovecot logged no policy error while relayd answered" \
	not grep -q -i 'policy.*error\|error.*policy' "$DC_LOG"

# Report only: Dovecot never waits for us.
push_hung
check "the hung time's login arrives once relayd runs again" wait_for 5 in_table 127.0.0.13
push_stopped
sed 's/^/# relayd: /' "$ERR" | tail -15
grep -i policy "$DC_LOG" | sed 's/^/# dovecot: /' | tail -5
