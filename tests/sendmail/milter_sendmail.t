#!/bin/sh
# milter_sendmail.t - leafmail-milter under a real sendmail 8.17, built with
# contrib/sendmail/leafmail.mc (INPUT_MAIL_FILTER F=T, promiscuous_relay):
# the whole policy over real SMTP.
#
# sendmail cannot be installed beside Postfix: its Debian packages are
# downloaded (and cached) and extracted (sendmail.sh).  A private Dovecot
# whose log leafmail-relayd follows supplies real POP3 logins.  Scenarios:
# relay denied -> POP3 login -> relay allowed; velocity 421 at connect;
# HELO checks; a missing required header; the milter stopped -> 451
# (F=T), and back.  Skips (77) only when the packages cannot be had or
# the servers are missing.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/harness/dovecot.sh"
. "$S/tests/harness/leafmail.sh"
. "$S/tests/sendmail/sendmail.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (sendmail daemon, namespaces, Dovecot)"
lm_have leafmail-relayd leafmail-milter || skip_all "leafmail-relayd/leafmail-milter not built"
for p in dovecot swaks curl m4 unshare apt-get dpkg python3; do
	command -v "$p" >/dev/null || skip_all "$p not installed"
done
sm_fetch "$T/sendmail-root" || skip_all "sendmail packages unavailable: $SM_WHY"
lm_ensure_user || skip_all "cannot create user leafmail"
watchdog 100

SMTP=$(free_port) POP3=$(free_port) IMAP=$(free_port)
dc_start "$T/dovecot" "$POP3" "$IMAP" || { notok "dovecot starts"; exit 1; }
lm_conf "$T/lm" "$DC_LOG" 10m 1s
# The checks this test is about, in the milter section lm_conf wrote.
sed -i 's|^  trusted-networks = { "127.0.0.1/32" }$|&\
  max-connections-per-minute = 5\
  helo-check = true\
  required-headers = { "From", "Date" }|' "$LM_CONF"
check "configuration has the checks" grep -q "max-connections-per-minute = 5" "$LM_CONF"
lm_relayd_start || { notok "relayd starts"; exit 1; }
lm_milter_start || { notok "milter starts"; exit 1; }
sm_start "$T/sm" "$SMTP" "$LM_SOCK" || { notok "sendmail starts"; exit 1; }
ok "sendmail -bD answers on 127.0.0.1:$SMTP"
check "the .cf has our filter with F=T" \
	grep -q "^Xleafmail, S=local:$LM_SOCK, F=T" "$T/sm/test.cf"
check "the .cf sends {auth_authen} at RCPT" \
	grep -q "^O Milter.macros.envrcpt=.*{auth_authen}" "$T/sm/test.cf"

remote=someone@remote.test
rcpt() { sm_smtp "$1" --helo "${3:-client.example.net}" --from sender@client.test \
	--to "$2" --quit-after RCPT; }

# --- relay: denied, POP3 login, allowed ---
r=$(rcpt 127.0.0.2 "$remote")
expect "relay from 127.0.0.2 before any login" "550 5.7.1 <$remote>... Relaying denied" "$r"
check "POP3 login as alice from 127.0.0.2" dc_login alice alicepw 127.0.0.2 pop3
check "127.0.0.2 in the table within a second" wait_for 1 lm_listed 127.0.0.2
r=$(rcpt 127.0.0.2 "$remote")
expect "relay from 127.0.0.2 after its POP3 login" "250 2.1.5" "$r"
r=$(rcpt 127.0.0.3 "$remote")
expect "relay from 127.0.0.3 (no login) still refused" "550 5.7.1" "$r"
r=$(rcpt 127.0.0.3 root@local.test)
expect "local domain from 127.0.0.3 accepted" "250 2.1.5" "$r"
r=$(rcpt 127.0.0.1 "$remote")
expect "trusted 127.0.0.1 may relay" "250 2.1.5" "$r"

# --- velocity ---
i=1
while [ $i -le 5 ]; do
	r=$(sm_smtp 127.0.0.20 --quit-after CONNECT)
	[ "${r#220 }" != "$r" ] || notok "velocity: connection $i of 5 greeted: $r"
	i=$((i + 1))
done
r=$(sm_smtp 127.0.0.20 --quit-after CONNECT)
expect "velocity: 6th connection in a minute gets 421 at connect" "421 4.7.0" "$r"
check "velocity refusal logged by the milter" \
	grep -q "client=127.0.0.20 velocity=refused connections=6 limit=5" "$LM_DIR/milter.log"
r=$(sm_smtp 127.0.0.21 --quit-after CONNECT)
expect "velocity: another client still greeted" "220 " "$r"

# --- HELO ---
r=$(rcpt 127.0.0.4 root@local.test mx.sendmail.test)
expect "HELO with sendmail's own name refused" "550 5.7.1 HELO/EHLO names this host" "$r"
r=$(rcpt 127.0.0.4 root@local.test local.test)
expect "HELO with a local domain refused" "550 5.7.1 HELO/EHLO names a domain of this site" "$r"
r=$(rcpt 127.0.0.4 root@local.test "[127.0.0.9]")
expect "HELO literal of another address refused" "550 5.7.1 HELO/EHLO address literal does not match" "$r"
r=$(rcpt 127.0.0.5 root@local.test "[127.0.0.5]")
expect "HELO literal of the client's own address passes" "250 2.1.5" "$r"
# sendmail answers the HELO itself (250) and gives the milter's HELO
# refusal at MAIL; either way no mail may follow a dishonest HELO.  Spoken
# by hand: swaks stops at the first error.
r=$(python3 - "$SMTP" <<'PYEOF'
import smtplib, sys
s = smtplib.SMTP(source_address=("127.0.0.6", 0), timeout=15)
s.connect("127.0.0.1", int(sys.argv[1]))
code, _ = s.helo("local.test")
mcode, mtext = s.docmd("MAIL FROM:<sender@client.test>")
print(mcode, mtext.decode(errors="replace"))
s.close()
PYEOF
)
expect "MAIL after a dishonest HELO refused" "550 5.7.1 HELO/EHLO names a domain" "$r"

# --- required headers ---
r=$(sm_smtp 127.0.0.7 --helo client.example.net --from sender@client.test \
	--to root@local.test --data 'From: sender@client.test
Subject: no date

body')
expect "message without Date refused at end of data" "550 5.6.0 Message refused: required header Date: is missing" "$r"
r=$(sm_smtp 127.0.0.7 --helo client.example.net --from sender@client.test --to root@local.test)
expect "complete message accepted" "250 2.0.0" "$r"
check "accepted message queued by sendmail" sh -c "ls '$T/sm/queue' | grep -q '^qf'"

# --- the milter stopped: F=T tempfails ---
lm_milter_stop
r=$(rcpt 127.0.0.8 "$remote")
expect "milter stopped: 451 (F=T), never an open relay" "451 4.3.2" "$r"
r=$(rcpt 127.0.0.8 root@local.test)
expect "milter stopped: local mail waits too" "451 4.3.2" "$r"
lm_milter_start || notok "milter starts again"
r=$(rcpt 127.0.0.2 "$remote")
expect "milter back: relay after login allowed again" "250 2.1.5" "$r"
r=$(rcpt 127.0.0.8 "$remote")
expect "milter back: relay without login refused" "550 5.7.1" "$r"

lm_check_logs
