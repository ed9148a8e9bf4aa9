# relay_push.t - logins pushed by Dovecot open relaying through the milter:
# real Postfix (smtpd asking leafmail-milter), real Dovecot pushing through
# its auth policy client (report only) and its event exporter, two
# leafmail-relayd sources and no log source.  A POP3 and an IMAP login
# make a stranger's RCPT to a remote domain go from 550 to 250, each
# within a second; a failed login does not; relayd stopped, logins still
# succeed and the milter keeps deciding from the table.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/harness/postfix.sh"
. "$S/tests/harness/dovecot.sh"
. "$S/tests/harness/leafmail.sh"
. "$S/tests/relayd/push.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (private Postfix/Dovecot, privilege drop)"
lm_have leafmail-relayd leafmail-milter || skip_all "leafmail-relayd/leafmail-milter not built"
for p in postfix dovecot swaks curl openssl; do
	command -v "$p" >/dev/null || skip_all "$p not installed"
done
lm_ensure_user || skip_all "cannot create user leafmail"
watchdog 150

SMTP=$(free_port) POP3=$(free_port) IMAP=$(free_port) PP=$(free_port) EP=$(free_port)
push_key "$T/dovecot.key"
DC_EXTRA_CONF="$(dc_policy_conf "$PP")
$(dc_events_conf "$EP")"
dc_start "$T/dovecot" "$POP3" "$IMAP" || { notok "dovecot starts"; exit 1; }
lm_conf "$T/lm" "$DC_LOG" 30m 1s
# Push sources only: the log is not followed at all.
sed -i "s|^  source \"$DC_LOG\" { format = \"dovecot\" }|  source \"dovecot-policy:127.0.0.1:$PP\" { api-key-file = \"$T/dovecot.key\" }\\
  source \"dovecot-events:127.0.0.1:$EP\" { api-key-file = \"$T/dovecot.key\" }|" "$LM_CONF"
check "the relayd section names the two push sources and no log" \
	sh -c "grep -q dovecot-policy '$LM_CONF' && grep -q dovecot-events '$LM_CONF' && ! grep -q 'format = ' '$LM_CONF'"
lm_relayd_start || { notok "relayd starts"; exit 1; }
lm_milter_start || { notok "milter starts"; exit 1; }
pf_start "$T/postfix" "$SMTP" milter \
	"smtpd_milters = unix:$LM_SOCK" \
	"milter_default_action = tempfail" \
	"milter_rcpt_macros = i {rcpt_addr} {rcpt_host} {rcpt_mailer} {auth_authen}" \
	"relay_domains = static:ALL" \
	"smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination" \
	"mynetworks = 127.0.0.1/32" || { notok "postfix starts"; exit 1; }

remote=someone@remote.test
ms() { echo $(($(date +%s%N) / 1000000)); }
# relays IP: a RCPT to a remote domain from IP is accepted
relays() { case $(pf_rcpt "$SMTP" "$1" "$remote") in 250*) return 0 ;; *) return 1 ;; esac; }

r=$(pf_rcpt "$SMTP" 127.0.0.2 "$remote")
expect "relay from 127.0.0.2 before any login" "550 5.7.1" "$r"
check "POP3 login as alice from 127.0.0.2" dc_login alice alicepw 127.0.0.2 pop3
t0=$(ms)
check "127.0.0.2 may relay through the milter within a second" wait_for 1 relays 127.0.0.2
echo "# login -> Postfix accepts the RCPT: $(($(ms) - t0)) ms (swaks included)"
check "IMAP login as bob from 127.0.0.3" dc_login bob bobpw 127.0.0.3 imap
check "127.0.0.3 may relay within a second" wait_for 1 relays 127.0.0.3
check "a wrong password from 127.0.0.4 is refused" not dc_login alice wrong 127.0.0.4 pop3
check "marker login from 127.0.0.5" dc_login bob bobpw 127.0.0.5 pop3
check "127.0.0.5 may relay" wait_for 2 relays 127.0.0.5
r=$(pf_rcpt "$SMTP" 127.0.0.4 "$remote")
expect "relay from 127.0.0.4 after a failed login" "550 5.7.1" "$r"

lm_relayd_stop
rc=$?
check "relayd stops cleanly (exit $rc)" [ "$rc" -eq 0 ]
t0=$(ms)
check "with relayd stopped, a login still succeeds" dc_login alice alicepw 127.0.0.6 imap
t=$(($(ms) - t0))
check "... within a second ($t ms)" [ "$t" -lt 1000 ]
check "the milter still lets 127.0.0.2 relay (the table stays)" relays 127.0.0.2
r=$(pf_rcpt "$SMTP" 127.0.0.6 "$remote")
expect "the login made while relayd was down authorizes nothing" "550 5.7.1" "$r"
lm_check_logs
sed 's/^/# relayd: /' "$LM_DIR/relayd.log" | tail -8
