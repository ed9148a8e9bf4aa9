#!/bin/sh
# checks_postfix.t - the milter's velocity, HELO and required-header checks
# under a real Postfix (smtpd_milters), the same scenarios as
# tests/sendmail/milter_sendmail.t; the relay scenarios under Postfix are
# tests/integration/relay_milter.t.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/harness/postfix.sh"
. "$S/tests/harness/leafmail.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (private Postfix, privilege drop)"
lm_have leafmail-milter || skip_all "leafmail-milter not built"
for p in postfix swaks python3; do
	command -v "$p" >/dev/null || skip_all "$p not installed"
done
lm_ensure_user || skip_all "cannot create user leafmail"
watchdog 90

SMTP=$(free_port)
: >"$T/empty.log"
lm_conf "$T/lm" "$T/empty.log" 10m 1s
sed -i 's|^  trusted-networks = { "127.0.0.1/32" }$|&\
  max-connections-per-minute = 5\
  helo-check = true\
  required-headers = { "From", "Date" }|' "$LM_CONF"
lm_milter_start || { notok "milter starts"; exit 1; }
pf_start "$T/postfix" "$SMTP" checks \
	"smtpd_milters = unix:$LM_SOCK" \
	"milter_default_action = tempfail" \
	"relay_domains = static:ALL" \
	"mynetworks = 127.0.0.1/32" || { notok "postfix starts"; exit 1; }
ok "postfix with the milter answers on 127.0.0.1:$SMTP"

# smtp FROMIP SWAKS-ARGS...: the first error reply, else the last reply
smtp() {
	_f=$1
	shift
	swaks --server 127.0.0.1 --port "$SMTP" --local-interface "$_f" \
		--timeout 15 "$@" 2>&1 | awk '
		/^<\*\* / { if (err == "") { err = $0; sub(/^<\*\* +/, "", err) } }
		/^<-  / { line = $0; sub(/^<- +/, "", line); if (line !~ /^221 /) last = line }
		END { if (err != "") print err; else print last }'
}
rcpt() { smtp "$1" --helo "${3:-client.example.net}" --from sender@client.test \
	--to "$2" --quit-after RCPT; }

# --- velocity ---
i=1 bad=0
while [ $i -le 5 ]; do
	r=$(smtp 127.0.0.20 --quit-after CONNECT)
	[ "${r#220 }" != "$r" ] || { bad=1; echo "# connection $i: $r"; }
	i=$((i + 1))
done
check "velocity: five connections in a minute greeted" test $bad -eq 0
r=$(smtp 127.0.0.20 --quit-after CONNECT)
# Postfix puts its own text on a milter's 421 at connect.
expect "velocity: the 6th gets 421 at connect" "421 " "$r"
check "velocity refusal logged by the milter" \
	grep -q "client=127.0.0.20 velocity=refused connections=6 limit=5" "$LM_DIR/milter.log"
r=$(smtp 127.0.0.21 --quit-after CONNECT)
expect "velocity: another client still greeted" "220 " "$r"

# --- HELO ---
r=$(rcpt 127.0.0.4 postmaster@local.test checks.leafmail.test)
expect "HELO with Postfix's own name ({j}) refused" "550 5.7.1 HELO/EHLO names this host" "$r"
r=$(rcpt 127.0.0.4 postmaster@local.test local.test)
expect "HELO with a local domain refused" "550 5.7.1 HELO/EHLO names a domain of this site" "$r"
r=$(rcpt 127.0.0.4 postmaster@local.test "[127.0.0.9]")
expect "HELO literal of another address refused" "550 5.7.1 HELO/EHLO address literal does not match" "$r"
r=$(rcpt 127.0.0.5 postmaster@local.test "[127.0.0.5]")
expect "HELO literal of the client's own address passes" "250 2.1.5" "$r"
r=$(python3 - "$SMTP" <<'PYEOF'
import smtplib, sys
s = smtplib.SMTP(source_address=("127.0.0.6", 0), timeout=15)
s.connect("127.0.0.1", int(sys.argv[1]))
s.helo("local.test")
code, text = s.docmd("MAIL FROM:<sender@client.test>")
print(code, text.decode(errors="replace"))
s.close()
PYEOF
)
expect "MAIL after a refused HELO refused too" "550 5.7.1 HELO/EHLO names a domain" "$r"

# --- required headers ---
r=$(smtp 127.0.0.7 --helo client.example.net --from sender@client.test \
	--to postmaster@local.test --data 'From: sender@client.test
Subject: no date

body')
expect "message without Date refused at end of data" "550 5.6.0 Message refused: required header Date: is missing" "$r"
r=$(smtp 127.0.0.7 --helo client.example.net --from sender@client.test --to postmaster@local.test)
expect "complete message accepted" "250 2.0.0 Ok: queued" "$r"

# --- the milter stopped: milter_default_action = tempfail ---
lm_milter_stop
r=$(rcpt 127.0.0.8 postmaster@local.test)
expect "milter stopped: 451" "451 4.7.1" "$r"
lm_check_logs
