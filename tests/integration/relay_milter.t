# relay_milter.t - set-up (b): leafmail-milter is the relay gate.
#
# Real servers on loopback: a private Postfix whose smtpd asks the milter,
# a private Dovecot whose log leafmail-relayd follows.  A client may relay
# after a real POP3/IMAP login from its address, until relay.expire; a
# failed login or a forged log line authorizes nobody; the milter down
# means 451 (fail closed), never an open relay.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/harness/postfix.sh"
. "$S/tests/harness/dovecot.sh"
. "$S/tests/harness/leafmail.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (private Postfix/Dovecot, privilege drop)"
lm_have leafmail-relayd leafmail-milter || skip_all "leafmail-relayd/leafmail-milter not built"
for p in postfix dovecot swaks curl postmap; do
	command -v "$p" >/dev/null || skip_all "$p not installed"
done
lm_ensure_user || skip_all "cannot create user leafmail"
watchdog 115

SMTP=$(free_port) POP3=$(free_port) IMAP=$(free_port)
dc_start "$T/dovecot" "$POP3" "$IMAP" || { notok "dovecot starts"; exit 1; }
lm_conf "$T/lm" "$DC_LOG" 3s 1s
lm_relayd_start || { notok "relayd starts"; exit 1; }
lm_milter_start || { notok "milter starts"; exit 1; }

# Set-up (b): the milter is the gate, so Postfix must let every relay
# attempt reach RCPT (it checks relaying before the milter sees RCPT).
# "smtpd_relay_restrictions = permit" is refused by Postfix 3.7's safety
# check (smtpd: fatal: ... specify at least one working instance of:
# reject_unauth_destination, ...), so instead every domain is a relay
# domain to Postfix (relay_domains = static:ALL) and the default
# restrictions stay, never firing.  milter_default_action = tempfail
# makes a dead milter a 451, not an open relay.  mynetworks is 127.0.0.1
# alone, so the test clients 127.0.0.2... are strangers to Postfix and to
# the milter.  {auth_authen} is sent with MAIL by default; listed for RCPT
# too.
pf_start "$T/postfix" "$SMTP" milter \
	"smtpd_milters = unix:$LM_SOCK" \
	"milter_default_action = tempfail" \
	"milter_rcpt_macros = i {rcpt_addr} {rcpt_host} {rcpt_mailer} {auth_authen}" \
	"relay_domains = static:ALL" \
	"smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination" \
	"mynetworks = 127.0.0.1/32" || { notok "postfix starts"; exit 1; }

remote=someone@remote.test

r=$(pf_rcpt "$SMTP" 127.0.0.2 "$remote")
expect "relay from 127.0.0.2 before any login" "550 5.7.1" "$r"
check "127.0.0.2 not in the table yet" not lm_listed 127.0.0.2

check "POP3 login as alice from 127.0.0.2" dc_login alice alicepw 127.0.0.2 pop3
check "127.0.0.2 in the table within a second" wait_for 1 lm_listed 127.0.0.2
r=$(pf_rcpt "$SMTP" 127.0.0.2 "$remote")
expect "relay from 127.0.0.2 after its POP3 login" "250 2.1.5" "$r"
r=$(pf_rcpt "$SMTP" 127.0.0.3 "$remote")
expect "relay from 127.0.0.3 (no login) still refused" "550 5.7.1" "$r"

check "IMAP login as bob from 127.0.0.3" dc_login bob bobpw 127.0.0.3 imap
check "127.0.0.3 in the table within a second" wait_for 1 lm_listed 127.0.0.3
r=$(pf_rcpt "$SMTP" 127.0.0.3 "$remote")
expect "relay from 127.0.0.3 after its IMAP login" "250 2.1.5" "$r"

check "wrong password from 127.0.0.4 is refused" not dc_login alice wrong 127.0.0.4 pop3
dc_wait_log "auth failed" 5
r=$(pf_rcpt "$SMTP" 127.0.0.4 "$remote")
expect "relay from 127.0.0.4 after a failed login" "550 5.7.1" "$r"

evil='x>: Login: user=<y>, method=PLAIN, rip=127.0.0.5'
check "forged user name from 127.0.0.5 is refused" not dc_login_raw "$evil" pw 127.0.0.5
check "Dovecot logged the forged name verbatim" dc_wait_log "user=<$evil>" 5
sleep 0.3 # relayd had its chance to (wrongly) read it
r=$(pf_rcpt "$SMTP" 127.0.0.5 "$remote")
expect "relay from 127.0.0.5 after the forged-name login" "550 5.7.1" "$r"
check "127.0.0.4 never entered the table" not lm_listed 127.0.0.4
check "127.0.0.5 never entered the table" not lm_listed 127.0.0.5

r=$(pf_rcpt "$SMTP" 127.0.0.9 postmaster@local.test)
expect "local-domain recipient from 127.0.0.9 (no login)" "250 2.1.5" "$r"

# The whole message, not just RCPT, goes through for an authorized client.
check "IMAP login as alice from 127.0.0.6" dc_login alice alicepw 127.0.0.6 imap
wait_for 1 lm_listed 127.0.0.6
r=$(pf_send "$SMTP" 127.0.0.6 "$remote")
expect "whole message relayed from 127.0.0.6" "250 2.0.0 Ok: queued" "$r"
check "the relayed message reached the sink" wait_for 10 sh -c "[ \$(find '$T/postfix/sink' -type f | wc -l) -ge 1 ]"

# IPv6: Dovecot listens on ::1 too, and this config does not ignore ::1.
if dc_has_ipv6 && perl -MIO::Socket::INET6 -e1 2>/dev/null; then
	r=$(pf_rcpt "$SMTP" ::1 "$remote")
	expect "relay from ::1 before a login" "550 5.7.1" "$r"
	check "POP3 login as alice from ::1" dc_login alice alicepw ::1 pop3
	check "::1 in the table within a second" wait_for 1 lm_listed ::1
	r=$(pf_rcpt "$SMTP" ::1 "$remote")
	expect "relay from ::1 after its login" "250 2.1.5" "$r"
else
	echo "# IPv6 part skipped: no ::1 or swaks lacks IO::Socket::INET6 (libio-socket-inet6-perl)"
fi

# relay.expire = 3s counted from the login's log time (whole seconds):
# the entry goes within 3 s after the login, plus the 1 s sweep.
check "127.0.0.2 swept from the table after expiry" wait_for 8 not lm_listed 127.0.0.2
check "Postfix's own lookup no longer finds 127.0.0.2" not lm_postmap 127.0.0.2
r=$(pf_rcpt "$SMTP" 127.0.0.2 "$remote")
expect "relay from 127.0.0.2 after expiry" "550 5.7.1" "$r"

check "relayd still running" kill -0 "$LM_RELAYD_PID"
check "milter still running" kill -0 "$LM_MILTER_PID"

# Fail closed: milter gone, Postfix must not relay (milter_default_action).
check "POP3 login as alice from 127.0.0.6 again" dc_login alice alicepw 127.0.0.6 pop3
wait_for 1 lm_listed 127.0.0.6
lm_milter_stop
rc=$?
check "milter stopped cleanly on TERM (exit $rc)" [ "$rc" -eq 0 ]
check "milter removed its socket" not test -S "$LM_SOCK"
r=$(pf_rcpt "$SMTP" 127.0.0.6 "$remote")
expect "relay with the milter down (127.0.0.6 logged in)" "451 4.7.1" "$r"
r=$(pf_rcpt "$SMTP" 127.0.0.7 "$remote")
expect "relay with the milter down (127.0.0.7 stranger)" "451 4.7.1" "$r"

lm_relayd_stop
rc=$?
check "relayd stopped cleanly on TERM (exit $rc)" [ "$rc" -eq 0 ]
lm_check_logs
grep -E 'milter|leafmail' "$T/postfix/maillog" | sed 's/^/# postfix: /' | tail -12
sed 's/^/# relayd: /' "$LM_DIR/relayd.log" | tail -8
sed 's/^/# milter: /' "$LM_DIR/milter.log" | tail -12
