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

# marker IP: a login that must arrive; once it is in, every report sent
# before it has been handled
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
n0=$(grep -c 'refused\|right key\|method' "$ERR")
seq 1 600 | xargs -P 8 -I{} curl -s -o /dev/null --max-time 5 \
	-H 'X-API-Key: wrong-key-{}' --data-binary "$good" "$URL"
check "relayd is still running after the flood" kill -0 "$RPID"
check "marker login from 127.0.0.12 after the flood" marker 127.0.0.12
check "the flood authorized nothing" not_in_table 198.51.100.50
n1=$(grep -c 'refused\|right key\|method' "$ERR")
check "the flood's 600 refusals cost at most 12 log lines ($((n1 - n0)))" [ $((n1 - n0)) -le 12 ]
check "Dovecot logged no policy error while relayd answered" \
	not grep -q -i 'policy.*error\|error.*policy' "$DC_LOG"

# Report only: Dovecot never waits for us.
kill -STOP "$RPID"
t0=$(ms)
check "with relayd hung (SIGSTOP), a login still succeeds" dc_login alice alicepw 127.0.0.13 pop3
t=$(($(ms) - t0))
check "... within a second (${t} ms)" [ "$t" -lt 1000 ]
kill -CONT "$RPID"
check "the hung time's login arrives once relayd runs again" wait_for 5 in_table 127.0.0.13
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
sed 's/^/# relayd: /' "$ERR" | tail -15
grep -i policy "$DC_LOG" | sed 's/^/# dovecot: /' | tail -5
