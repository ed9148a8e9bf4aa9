# relay_postfix.t - set-up (a): Postfix consults the relay table itself
# (check_client_access lmdb:), no milter at all.
#
# leafmail-relayd follows a private Dovecot's log and writes the LMDB
# table; Postfix's smtpd reads it while relayd writes.  Checks that
# Postfix's own reader agrees with relayd, that a login becomes visible
# to an smtpd that already has the table open (and to one mid-session),
# and that expiry works although Postfix never looks at the expiry
# time: relayd must delete the key.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/harness/postfix.sh"
. "$S/tests/harness/dovecot.sh"
. "$S/tests/harness/leafmail.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (private Postfix/Dovecot, privilege drop)"
lm_have leafmail-relayd || skip_all "leafmail-relayd not built"
for p in postfix dovecot swaks curl postmap; do
	command -v "$p" >/dev/null || skip_all "$p not installed"
done
mkdir -p "$T/pc" && : >"$T/pc/main.cf"
postconf -c "$T/pc" -m 2>/dev/null | grep -qx lmdb || skip_all "Postfix has no lmdb (postfix-lmdb)"
lm_ensure_user || skip_all "cannot create user leafmail"
watchdog 115


SMTP=$(free_port) POP3=$(free_port) IMAP=$(free_port)
dc_start "$T/dovecot" "$POP3" "$IMAP" || { notok "dovecot starts"; exit 1; }
lm_conf "$T/lm" "$DC_LOG" 3s 1s
# relayd first: it creates the empty table; while an access table does not
# exist Postfix answers 451 4.3.5 to everyone.
lm_relayd_start || { notok "relayd starts"; exit 1; }

pf_start "$T/postfix" "$SMTP" tablegate \
	"mynetworks = 127.0.0.1/32" \
	"smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, check_client_access lmdb:$LM_TABLE, reject_unauth_destination" ||
	{ notok "postfix starts"; exit 1; }
remote=someone@remote.test

r=$(pf_rcpt "$SMTP" 127.0.0.2 "$remote")
expect "relay from 127.0.0.2 before any login (Postfix's own answer)" "554 5.7.1" "$r"
r=$(pf_rcpt "$SMTP" 127.0.0.1 "$remote")
expect "relay from 127.0.0.1 (mynetworks) as a control" "250 2.1.5" "$r"

check "POP3 login as alice from 127.0.0.2" dc_login alice alicepw 127.0.0.2 pop3
check "127.0.0.2 in the table within a second" wait_for 1 lm_listed 127.0.0.2
check "postmap -q finds 127.0.0.2 in lmdb:table" lm_postmap 127.0.0.2
v=$(lm_postmap_q 127.0.0.2)
case $v in
*[!0-9]* | "") notok "value is the decimal expiry time: '$v'" ;;
*) ok "value is the decimal expiry time: $v" ;;
esac
# smtpd processes are reused: this one opened the table before the login
r=$(pf_rcpt "$SMTP" 127.0.0.2 "$remote")
expect "relay from 127.0.0.2 after its POP3 login" "250 2.1.5" "$r"
r=$(pf_rcpt "$SMTP" 127.0.0.3 "$remote")
expect "relay from 127.0.0.3 (no login) still refused" "554 5.7.1" "$r"

# One SMTP session that spans a login: RCPT refused, then the client logs
# in over IMAP, then RSET/MAIL/RCPT on the same connection.
python3 - "$SMTP" 127.0.0.3 "$remote" "$T/go" "$T/session.out" <<'PYEOF' &
import os, smtplib, sys, time
port, src, rcpt, go, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
with open(out, "w") as o:
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.leafmail.test",
                     source_address=(src, 0), timeout=20)
    s.ehlo()
    s.mail("sender@client.test")
    c, m = s.rcpt(rcpt); o.write("first %d %s\n" % (c, m.decode())); o.flush()
    for _ in range(300):
        if os.path.exists(go): break
        time.sleep(0.05)
    s.rset()
    s.mail("sender@client.test")
    c, m = s.rcpt(rcpt); o.write("second %d %s\n" % (c, m.decode())); o.flush()
    s.quit()
PYEOF
sess=$!
track_pid "$sess"
wait_for 10 grep -q '^first' "$T/session.out"
check "IMAP login as bob from 127.0.0.3" dc_login bob bobpw 127.0.0.3 imap
wait_for 1 lm_listed 127.0.0.3
touch "$T/go"
wait "$sess"
r=$(sed -n 's/^first //p' "$T/session.out")
expect "open session from 127.0.0.3, RCPT before the login" "554" "$r"
r=$(sed -n 's/^second //p' "$T/session.out")
expect "same session, RCPT after the login" "250" "$r"

check "wrong password from 127.0.0.4 is refused" not dc_login alice wrong 127.0.0.4 pop3
dc_wait_log "auth failed" 5
r=$(pf_rcpt "$SMTP" 127.0.0.4 "$remote")
expect "relay from 127.0.0.4 after a failed login" "554 5.7.1" "$r"

evil='x>: Login: user=<y>, method=PLAIN, rip=127.0.0.5'
check "forged user name from 127.0.0.5 is refused" not dc_login_raw "$evil" pw 127.0.0.5
dc_wait_log "user=<$evil>" 5
sleep 0.3
check "127.0.0.5 not in lmdb:table" not lm_postmap 127.0.0.5
r=$(pf_rcpt "$SMTP" 127.0.0.5 "$remote")
expect "relay from 127.0.0.5 after the forged-name login" "554 5.7.1" "$r"

r=$(pf_rcpt "$SMTP" 127.0.0.9 postmaster@local.test)
expect "local-domain recipient from 127.0.0.9" "250 2.1.5" "$r"

if dc_has_ipv6 && perl -MIO::Socket::INET6 -e1 2>/dev/null; then
	r=$(pf_rcpt "$SMTP" ::1 "$remote")
	expect "relay from ::1 before a login" "554 5.7.1" "$r"
	check "POP3 login as alice from ::1" dc_login alice alicepw ::1 pop3
	check "::1 in the table within a second" wait_for 1 lm_listed ::1
	check "postmap -q finds ::1" lm_postmap ::1
	r=$(pf_rcpt "$SMTP" ::1 "$remote")
	expect "relay from ::1 after its login" "250 2.1.5" "$r"
else
	echo "# IPv6 part skipped: no ::1 or swaks lacks IO::Socket::INET6 (libio-socket-inet6-perl)"
fi

# Postfix never reads the expiry time: only relayd's sweep closes the door.
check "127.0.0.2 deleted from lmdb:table after expiry" wait_for 8 not lm_postmap 127.0.0.2
r=$(pf_rcpt "$SMTP" 127.0.0.2 "$remote")
expect "relay from 127.0.0.2 after expiry" "554 5.7.1" "$r"

check "relayd still running" kill -0 "$LM_RELAYD_PID"
# The table stays readable with relayd stopped (Postfix keeps going).
lm_relayd_stop
r=$(pf_rcpt "$SMTP" 127.0.0.3 "$remote")
case $r in
4*) notok "table unreadable with relayd stopped: $r" ;;
*) ok "table still usable by Postfix with relayd stopped: $r" ;;
esac
lm_check_logs
grep -E 'reject|warning|error|fatal' "$T/postfix/maillog" | sed 's/^/# postfix: /' | tail -12
sed 's/^/# relayd: /' "$LM_DIR/relayd.log" | tail -8
