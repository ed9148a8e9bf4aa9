#!/bin/sh
# milter_sites.t - two leafmail sites on loopback deliver a message once,
# whichever copy (UMTP datagram or SMTP) arrives first.
#
# Site A (sender): a private Postfix whose smtpd runs leafmail-milter with
# milter.umtp-shadow; b.test and b2.test are routed by SMTP to site B, and
# b.test has a umtp.peer (B's `umtp receive`).  Site B (receiver): a
# private Postfix whose main smtpd runs leafmail-milter with
# milter.umtp-dedup, plus the injection listener of
# contrib/postfix/master.cf.umtp (a second smtpd without milters), which
# `umtp receive` injects into; B relays everything to its smtp-sink, where
# messages are counted.
#
#   UMTP first   A's smtp transport is deferred: the datagram is injected
#                at B; then A's queue is flushed and B's milter discards
#                the SMTP copy (one recipient) or removes the recipient
#                UMTP delivered (smfi_delrcpt; the other still delivers).
#   SMTP first   B's umtp receive is stopped (SIGSTOP: the datagram waits
#                in its socket); the SMTP copy, of a message without
#                Message-ID (the milter adds one), is delivered and
#                recorded; then receive continues and drops the datagram.
#   A replayed datagram and one under a wrong key inject nothing (the
#   other refusals are in refuse.t, against a sendmail stand-in).
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/harness/postfix.sh"
. "$S/tests/harness/leafmail.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (private Postfix, privilege drop)"
lm_have leafmail-milter umtp || skip_all "leafmail-milter/umtp not built"
for p in postfix postqueue swaks smtp-sink; do
	command -v "$p" >/dev/null || skip_all "$p not installed"
done
lm_ensure_user || skip_all "cannot create user leafmail"
. "$S/tests/umtp/common.sh"
watchdog 100

SA=$(free_port) SB=$(free_port) INJ=$(free_port) UP=$(udp_port)
mkkey shared
mkkey other

# Site A: the milter shadows b.test to B's umtp receive.  Its Postfix
# adds no Message-ID to mail from 127.0.0.1 (local_header_rewrite_clients
# empty), so that the milter has to.
LM_LOCAL_DOMAINS='"a.test"' lm_conf "$T/a" /dev/null 30m
sed -i 's/^milter {/milter {\n  umtp-shadow = true/' "$LM_CONF"
cat >>"$LM_CONF" <<EOF
umtp {
  key-file = "$T/keys/shared"
  peer "b.test" { address = "127.0.0.1:$UP" }
}
EOF
A_CONF=$LM_CONF A_DIR=$LM_DIR A_SOCK=$LM_SOCK
lm_milter_start || { notok "site A milter starts"; exit 1; }
A_MILTER=$LM_MILTER_PID

# Site B: the milter drops SMTP copies UMTP already delivered.  With
# MS_REDIS=1 (milter_sites_redis.t) B's milter and umtp receive keep the
# duplicate store in a private Redis instead of the LMDB file.
store="" redis_sec=""
if [ -n "${MS_REDIS:-}" ]; then
	. "$S/tests/harness/redis.sh"
	rd_require
	RPORT=$(free_port)
	rd_start "$T/redis" "$RPORT" || { notok "redis-server starts"; exit 1; }
	store='dedup-store = "redis"'
	redis_sec="redis {
  address = \"127.0.0.1:$RPORT\"
  key-prefix = \"sb:\"
}"
fi
LM_LOCAL_DOMAINS='"b.test", "b2.test"' lm_conf "$T/b" /dev/null 30m
sed -i 's/^milter {/milter {\n  umtp-dedup = true/' "$LM_CONF"
cat >>"$LM_CONF" <<EOF
umtp {
  listen = "127.0.0.1:$UP"
  key-file = "$T/keys/shared"
  inject = "smtp://127.0.0.1:$INJ"
  inject-retries = 2
  $store
}
$redis_sec
EOF
B_CONF=$LM_CONF B_DIR=$LM_DIR B_SOCK=$LM_SOCK
lm_milter_start || { notok "site B milter starts"; exit 1; }
B_MILTER=$LM_MILTER_PID

pf_start "$T/pa" "$SA" asite \
	"smtpd_milters = unix:$A_SOCK" \
	"milter_default_action = tempfail" \
	"transport_maps = inline:{ b.test=smtp:[127.0.0.1]:$SB, b2.test=smtp:[127.0.0.1]:$SB }" \
	"defer_transports = smtp" \
	"local_header_rewrite_clients =" || { notok "site A postfix starts"; exit 1; }
pf_start "$T/pb" "$SB" bsite \
	"smtpd_milters = unix:$B_SOCK" \
	"milter_default_action = tempfail" \
	"relay_domains = b.test, b2.test" || { notok "site B postfix starts"; exit 1; }
# B's injection listener: the contrib lines, on a free port.
grep -v '^#' "$S/contrib/postfix/master.cf.umtp" | grep -v '^$' |
	sed "s/^127.0.0.1:10026 /127.0.0.1:$INJ /" >>"$T/pb/etc/master.cf"
postfix -c "$T/pb/etc" reload >/dev/null 2>&1
check "site B injection listener (contrib/postfix/master.cf.umtp) answers" \
	wait_for 10 _pf_answers "$INJ"

RLOG=$T/b/receive.log
"$UMTP" receive -f -c "$B_CONF" >>"$RLOG" 2>&1 &
RPID=$!
track_pid "$RPID"
wait_for 10 grep -q 'listening on' "$RLOG" || { notok "umtp receive starts"; cat "$RLOG"; exit 1; }

# sendmsg FILE RCPT[,RCPT]: submit FILE through site A; ok when queued
sendmsg() {
	swaks --server 127.0.0.1 --port "$SA" --helo client.a.test \
		--from alice@a.test --to "$2" --data "@$1" --timeout 10 \
		>"$T/swaks.out" 2>&1 && grep -q '^<-  250.*queued' "$T/swaks.out"
}
# sunk TOKEN [RCPT]: messages at B's sink whose Subject has TOKEN (and
# whose envelope has RCPT)
sunk() {
	for _f in "$T"/pb/sink/m.*; do
		[ -f "$_f" ] || continue
		grep -q "^Subject: $1\$" "$_f" || continue
		[ -z "$2" ] || grep -q "^X-Rcpt-Args: <$2>" "$_f" || continue
		echo "$_f"
	done | wc -l
}
sunk_is() { [ "$(sunk "$1" "$3")" -eq "$2" ]; }
mkmsg() { # mkmsg FILE SUBJECT [MESSAGE-ID]
	{
		echo "From: alice@a.test"
		echo "To: bob@b.test"
		echo "Subject: $2"
		[ -z "$3" ] || echo "Message-ID: $3"
		echo
		echo "body of $2"
	} >"$1"
}
q_empty() { postqueue -c "$T/pa/etc" -p 2>/dev/null | grep -q 'Mail queue is empty'; }

# --- UMTP first (A's SMTP path held by defer_transports) ---
mkmsg "$T/m1" "umtp-first-$$" "<m1.$$@a.test>"
mkmsg "$T/m3" "two-rcpts-$$" "<m3.$$@a.test>"
check "message 1 (bob@b.test) queued at site A" sendmsg "$T/m1" bob@b.test
check "message 3 (bob@b.test, dave@b2.test) queued at site A" \
	sendmsg "$T/m3" bob@b.test,dave@b2.test
check "site A's milter shadowed message 1" \
	wait_for 10 grep -q "umtp shadow .*<m1.$$@a.test>: 1 protocol 2" "$A_DIR/milter.log"
check "umtp receive injected message 1" \
	wait_for 10 grep -q "injected message <m1.$$@a.test>" "$RLOG"
check "message 1 at B's sink by UMTP (X-Via: umtp)" \
	wait_for 10 sh -c "grep -l '^X-Via: umtp' '$T'/pb/sink/m.* 2>/dev/null | xargs grep -l 'umtp-first-$$' >/dev/null"
check "message 3 for bob at B's sink by UMTP" wait_for 10 sunk_is "two-rcpts-$$" 1 bob@b.test
check "message 3 for dave (no peer for b2.test) not yet" sunk_is "two-rcpts-$$" 0 dave@b2.test
check "SMTP copies still held at site A" test "$(postqueue -c "$T/pa/etc" -p | grep -c '^[0-9A-F]')" -eq 2

pf_postconf "$T/pa" -e "defer_transports =" && postfix -c "$T/pa/etc" reload >/dev/null 2>&1
postqueue -c "$T/pa/etc" -f
check "site A delivered its SMTP copies to site B" wait_for 20 q_empty
check "B's milter discarded the SMTP copy of message 1" \
	wait_for 10 grep -q "<m1.$$@a.test>: every recipient already delivered by UMTP" "$B_DIR/milter.log"
check "B's milter removed bob from the SMTP copy of message 3" \
	wait_for 10 grep -q "<m3.$$@a.test>: rcpt=<bob@b.test> already delivered by UMTP; removed" "$B_DIR/milter.log"
check "message 3 for dave at B's sink by SMTP" wait_for 10 sunk_is "two-rcpts-$$" 1 dave@b2.test
sleep 1
check "message 1 exactly once at B" sunk_is "umtp-first-$$" 1
check "message 3 exactly once for bob" sunk_is "two-rcpts-$$" 1 bob@b.test
check "message 3 exactly once in all for dave" sunk_is "two-rcpts-$$" 1 dave@b2.test

# --- SMTP first (B's umtp receive stopped until the SMTP copy is in) ---
kill -STOP "$RPID"
mkmsg "$T/m2" "smtp-first-$$"
check "message 2 (no Message-ID) queued at site A" sendmsg "$T/m2" bob@b.test
check "site A's milter added a Message-ID and shadowed message 2" \
	wait_for 10 grep -q "added Message-ID <" "$A_DIR/milter.log"
mid=$(sed -n 's/.*added Message-ID \(<[^>]*>\).*/\1/p' "$A_DIR/milter.log" | tail -1)
check "message 2 at B's sink by SMTP" wait_for 20 sunk_is "smtp-first-$$" 1
f2=$(grep -l "^Subject: smtp-first-$$\$" "$T"/pb/sink/m.* | head -1)
check "the SMTP copy carries the added Message-ID $mid" grep -qF "Message-ID: $mid" "$f2"
kill -CONT "$RPID"
check "umtp receive dropped the later datagram of message 2" \
	wait_for 10 grep -qF "dropped duplicate: $mid for <bob@b.test> already delivered by smtp" "$RLOG"
sleep 1
check "message 2 exactly once at B" sunk_is "smtp-first-$$" 1

# --- refused datagrams inject nothing ---
mkmsg "$T/m4" "replayed-$$" "<m4.$$@a.test>"
perl "$P2" build "$T/keys/shared" --sender=alice@a.test --msgid="<m4.$$@a.test>" \
	bob@b.test <"$T/m4" >"$T/m4.pkt"
perl "$P2" build "$T/keys/other" --keyid-of="$T/keys/shared" bob@b.test \
	<"$T/m4" >"$T/wrong.pkt"
perl "$P2" sendfile 127.0.0.1 "$UP" "$T/m4.pkt"
check "a fresh datagram is injected" wait_for 10 sunk_is "replayed-$$" 1
perl "$P2" sendfile 127.0.0.1 "$UP" "$T/m4.pkt" "$T/wrong.pkt"
check "its replay is refused and logged" wait_for 10 grep -q "replayed packet" "$RLOG"
check "the wrong-key datagram is refused and logged" wait_for 10 grep -q "bad digest/MAC" "$RLOG"
sleep 1
check "nothing more injected" sunk_is "replayed-$$" 1

if [ -n "${MS_REDIS:-}" ]; then
	n=$(rd_cli --scan --pattern 'sb:dedup:*' | wc -l)
	check "the duplicate records are in Redis ($n keys)" test "$n" -ge 3
	check "and no duplicate store file exists" \
		sh -c "! ls '$B_DIR/state/umtp-dedup.lmdb' '$T/state/umtp-dedup.lmdb' 2>/dev/null"
fi
check "nothing LOST by umtp receive" sh -c "! grep -q LOST '$RLOG'"
check "milters and umtp receive still running" \
	sh -c "kill -0 $A_MILTER && kill -0 $B_MILTER && kill -0 $RPID"
if cat "$A_DIR/milter.log" "$B_DIR/milter.log" "$RLOG" | grep -qE 'Sanitizer|runtime error'; then
	notok "no sanitizer reports in the daemons' logs"
else
	ok "no sanitizer reports in the daemons' logs"
fi
sed 's/^/# A milter: /' "$A_DIR/milter.log" | grep umtp | tail -4
sed 's/^/# B milter: /' "$B_DIR/milter.log" | grep umtp | tail -4
sed 's/^/# receive: /' "$RLOG" | tail -6
