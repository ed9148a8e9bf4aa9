# relay_policyd.t - the fail-closed set-up: Postfix asks leafmail-policyd
# (check_policy_service) instead of reading lmdb: itself.
#
# A private Postfix with
#   smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated,
#       permit_auth_destination, check_policy_service unix:leafmail/policy.sock,
#       reject_unauth_destination
#   smtpd_policy_service_default_action = 451 4.3.5 ...
# the socket in DIR/queue/leafmail/ (the path relative to the queue
# directory, as a chrooted smtpd on Debian must name it; that directory
# leafmail:postfix 2750), group postfix (policyd.socket-group).  Checks:
# with policyd not running, relaying gets 451 4.3.5 (never "allowed")
# while mail for the local domain still flows; the socket's owner, group
# and mode; before a login 554; after a real Dovecot POP3 login followed
# by relayd, and after `relayd -a`, 250; after the entry expired (relayd's
# sweep is an hour away, so the key is still in the table and
# `postmap -q` still finds it: set-up (a) would relay) 554; policyd
# stopped: 451 4.3.5 for an address whose entry is valid; the same over
# inet: on loopback; an smtpd in a chroot (master.cf chroot = y) reaching
# the socket by the relative path.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/harness/postfix.sh"
. "$S/tests/harness/dovecot.sh"
. "$S/tests/harness/leafmail.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (private Postfix/Dovecot, privilege drop)"
lm_have leafmail-relayd leafmail-policyd || skip_all "leafmail-relayd/leafmail-policyd not built"
for p in postfix dovecot swaks curl postmap; do
	command -v "$p" >/dev/null || skip_all "$p not installed"
done
mkdir -p "$T/pc" && : >"$T/pc/main.cf"
postconf -c "$T/pc" -m 2>/dev/null | grep -qx lmdb || skip_all "Postfix has no lmdb (postfix-lmdb)"
lm_ensure_user || skip_all "cannot create user leafmail"
watchdog 200

SMTP=$(free_port) POP3=$(free_port) IMAP=$(free_port) PPORT=$(free_port)
remote=someone@remote.test
dc_start "$T/dovecot" "$POP3" "$IMAP" || { notok "dovecot starts"; exit 1; }
# expire 4 s; relayd sweeps only once an hour: what closes the door after
# expiry here is policyd looking at the time, not relayd deleting the key
lm_conf "$T/lm" "$DC_LOG" 4s 1h
lm_relayd_start || { notok "relayd starts"; exit 1; }

pf_start "$T/postfix" "$SMTP" policygate \
	"mynetworks = 127.0.0.1/32" \
	"smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, permit_auth_destination, check_policy_service unix:leafmail/policy.sock, reject_unauth_destination" \
	"smtpd_policy_service_default_action = 451 4.3.5 Relay check unavailable, try again later" \
	"smtpd_policy_service_retry_delay = 1s" ||
	{ notok "postfix starts"; exit 1; }
Q=$(readlink -f "$T/postfix/queue")
PDIR=$Q/leafmail
install -d -o leafmail -g postfix -m 2750 "$PDIR"

policyd_conf() { # SOCKET
	{
		sed '/^policyd {/,$d' "$LM_CONF"
		printf 'policyd {\n  socket = "%s"\n  socket-mode = "0660"\n}\n' "$1"
	} >"$LM_CONF.new" && mv "$LM_CONF.new" "$LM_CONF"
}
PD_PID=""
policyd_start() {
	"$B/leafmail-policyd" -c "$LM_CONF" -f >>"$LM_DIR/policyd.log" 2>&1 &
	PD_PID=$!
	track_pid "$PD_PID"
	wait_for 10 grep -q "listening on" "$LM_DIR/policyd.log"
}
policyd_stop() { _lm_stop "$PD_PID"; }
relay_from() { pf_rcpt "$SMTP" "$1" "${2:-$remote}"; }

policyd_conf "unix:$PDIR/policy.sock"
check "policyd -t accepts the configuration" "$B/leafmail-policyd" -c "$LM_CONF" -t

# Nothing listening yet: Postfix's default action, never "allowed".
"$B/leafmail-relayd" -c "$LM_CONF" -a 127.0.0.6 2>/dev/null
r=$(relay_from 127.0.0.6)
expect "policyd not running: relay from a valid table entry gets 451 4.3.5" "451 4.3.5" "$r"
r=$(relay_from 127.0.0.9 postmaster@local.test)
expect "policyd not running: mail for the local domain still accepted" "250 2.1.5" "$r"

policyd_start || { notok "policyd starts"; cat "$LM_DIR/policyd.log"; exit 1; }
ok "policyd started"
check "policyd runs as leafmail" [ "$(awk '/^Uid:/ { print $2 }' /proc/"$PD_PID"/status)" = "$(id -u leafmail)" ]
check "socket is leafmail:postfix 0660 (policyd.socket-group)" \
	[ "$(stat -c '%U:%G %a' "$PDIR/policy.sock")" = "leafmail:postfix 660" ]

r=$(relay_from 127.0.0.2)
expect "relay from 127.0.0.2 before any login" "554 5.7.1" "$r"
check "POP3 login as alice from 127.0.0.2" dc_login alice alicepw 127.0.0.2 pop3
check "127.0.0.2 in the table" wait_for 2 lm_listed 127.0.0.2
r=$(relay_from 127.0.0.2)
expect "relay from 127.0.0.2 after its POP3 login" "250 2.1.5" "$r"
r=$(relay_from 127.0.0.6)
expect "relay from 127.0.0.6 (relayd -a)" "250 2.1.5" "$r"
r=$(relay_from 127.0.0.3)
expect "relay from 127.0.0.3 (no login) refused" "554 5.7.1" "$r"
check "policyd logged the allowed relay" grep -q 'client=127.0.0.2 rcpt=someone@remote.test relay=allowed reason=pop-auth' "$LM_DIR/policyd.log"

# After expiry: the key is still there, Postfix's own reader still finds
# it, but policyd looks at the time.
exp=$(lm_postmap_q 127.0.0.2)
now=$(date +%s)
[ -n "$exp" ] && [ "$exp" -ge "$now" ] && sleep $((exp - now + 1))
check "after expiry the key is still in lmdb: (set-up (a) would relay)" lm_postmap 127.0.0.2
r=$(relay_from 127.0.0.2)
expect "relay from 127.0.0.2 after its entry expired" "554 5.7.1" "$r"

# Stopped policyd: 451, even for an address with a valid entry.
"$B/leafmail-relayd" -c "$LM_CONF" -a 127.0.0.7 2>/dev/null
r=$(relay_from 127.0.0.7)
expect "relay from 127.0.0.7 (fresh entry) with policyd running" "250 2.1.5" "$r"
policyd_stop
check "policyd removed its socket" [ ! -e "$PDIR/policy.sock" ]
r=$(relay_from 127.0.0.7)
expect "policyd stopped: relay from 127.0.0.7 gets 451 4.3.5" "451 4.3.5" "$r"

# inet: on loopback.
policyd_conf "inet:127.0.0.1:$PPORT"
pf_postconf "$T/postfix" -e "smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, permit_auth_destination, check_policy_service inet:127.0.0.1:$PPORT, reject_unauth_destination"
postfix -c "$T/postfix/etc" reload >/dev/null 2>&1
policyd_start || { notok "policyd starts on inet:"; cat "$LM_DIR/policyd.log"; exit 1; }
"$B/leafmail-relayd" -c "$LM_CONF" -a 127.0.0.8 2>/dev/null
r=$(relay_from 127.0.0.8)
expect "inet: relay from 127.0.0.8 (relayd -a)" "250 2.1.5" "$r"
r=$(relay_from 127.0.0.3)
expect "inet: relay from 127.0.0.3 refused" "554 5.7.1" "$r"
policyd_stop
r=$(relay_from 127.0.0.8)
expect "inet: policyd stopped, 451 4.3.5" "451 4.3.5" "$r"

# A chrooted smtpd (Debian's master.cf), the socket by its relative path.
policyd_conf "unix:$PDIR/policy.sock"
pf_postconf "$T/postfix" -e "smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, permit_auth_destination, check_policy_service unix:leafmail/policy.sock, reject_unauth_destination"
sed -i "s/^\(127.0.0.1:$SMTP inet  *n  *-  *\)n/\1y/" "$T/postfix/etc/master.cf"
postfix -c "$T/postfix/etc" reload >/dev/null 2>&1
policyd_start || { notok "policyd starts again"; cat "$LM_DIR/policyd.log"; exit 1; }
"$B/leafmail-relayd" -c "$LM_CONF" -a 127.0.0.10 2>/dev/null
sleep 1 # the reload replaces the smtpd processes
if grep -q "^127.0.0.1:$SMTP inet *n *- *y" "$T/postfix/etc/master.cf"; then
	r=$(relay_from 127.0.0.10)
	expect "chrooted smtpd: relay from 127.0.0.10 (relayd -a)" "250 2.1.5" "$r"
	r=$(relay_from 127.0.0.3)
	expect "chrooted smtpd: relay from 127.0.0.3 refused" "554 5.7.1" "$r"
	check "the chrooted smtpd reached policyd (it logged the decision)" \
		grep -q 'client=127.0.0.10 .*relay=allowed' "$LM_DIR/policyd.log"
else
	notok "master.cf: could not turn chroot on for smtpd"
fi
policyd_stop

lm_check_logs
check "no sanitizer report from policyd" not grep -qE 'Sanitizer|runtime error' "$LM_DIR/policyd.log"
grep -E 'policy|reject|warning|fatal' "$T/postfix/maillog" | sed 's/^/# postfix: /' | tail -12
sed 's/^/# policyd: /' "$LM_DIR/policyd.log" | tail -12
