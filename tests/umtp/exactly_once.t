#!/bin/sh
# exactly_once.t - a shadowed message lands exactly once, whatever the
# timing of its two copies (claimstore.h), made to meet on purpose.
#
# Site S shadows b.test and c.test; site b keeps its claims in LMDB, site
# c in Redis (tests/umtp/sites.sh).  Every message goes to both, so each
# case runs on both stores at once.  The proxies in front of each
# receiver's smtpd and injection listener hold the end of DATA of one copy
# while the other one decides:
#
#   in flight     the injection listener has the UMTP copy but its 250 is
#                 held; the SMTP copy's end of message reaches the milter,
#                 which waits (umtp.claim-wait); the 250 goes, the UMTP
#                 claim is recorded, the milter discards the SMTP copy
#   past the wait the same, the 250 held longer than claim-wait: 451, and
#                 the sender's retry is discarded
#   reverse       the milter has decided for the SMTP copy (its 250 held)
#                 while umtp receive is stopped; the datagram comes after
#                 and is dropped
#   same instant  the SMTP copy's "." and the stopped umtp receive
#                 released together, four times
#   SIGKILL       umtp receive killed between claim and injection (its "."
#                 held, so the MTA never gets the message): the SMTP copy
#                 is deferred until the claim's deadline, then delivered
#   4xx, 5xx      the injection listener refuses: the claims are released
#                 and the SMTP copy delivers
#   recipients    one without Message-ID, for several recipients on both
#                 sites, one SMTP-only domain, one elsewhere, one that S
#                 refuses at RCPT (it gets no UMTP copy either)
#   Redis         restarted with its data between two messages; two umtp
#                 receive sharing it get the same datagram: one injects
#   refused       a replayed datagram, and one under a wrong key
# Each case: exactly one copy per recipient at the sinks.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/harness/postfix.sh"
. "$S/tests/harness/leafmail.sh"
. "$S/tests/harness/redis.sh"
. "$S/tests/umtp/common.sh"
. "$S/tests/umtp/sites.sh"
sites_require
watchdog 200

mkkey shared
mkkey other
site_receiver b lmdb || { notok "site b (LMDB) starts"; site_logs; exit 1; }
site_receiver c redis || { notok "site c (Redis) starts"; site_logs; exit 1; }
site_sender b c || { notok "site S starts"; site_logs; exit 1; }
ok "sites S, b (LMDB) and c (Redis) started"

# once SUBJECT RCPT...: every RCPT (user@X.test, user@X2.test) has
# exactly one copy at its site's sink, once every queue is empty
once() {
	_s=$1; shift
	wait_for 40 queues_empty || { notok "$_s: queues drained"; return 1; }
	for _r in "$@"; do
		_x=${_r#*@}; _x=${_x%%.test}; _x=${_x%2}
		_n=$(copies "$_x" "$_s" "$_r")
		check "$_s: exactly one copy for $_r (got $_n)" test "$_n" -eq 1
	done
}
# mlog X PATTERN: X's milter logs it within 10 s
mlog() { wait_for 10 grep -q "$2" "$(_sv "$1" DIR)/milter.log"; }
# rlog X PATTERN: X's umtp receive logs it within 10 s
rlog() { wait_for 10 grep -q "$2" "$(_sv "$1" RLOG)"; }
# next X smtp|inj: the number the next end of DATA at that proxy gets
next() { echo $(($(proxy_dots "$1" "$2") + 1)); }

# --- in flight: the SMTP copy ends while the UMTP injection waits for 250
id="<fl.$$@a.test>"
mkmsg "$T/m1" "inflight-$$" "$id"
for x in b c; do
	proxy $x inj hold-reply
	proxy $x smtp hold-dot
	eval "ni_$x=$(next $x inj) ns_$x=$(next $x smtp)"
done
check "in flight: queued at S" sendmsg "$T/m1" bob@b.test,bob@c.test
for x in b c; do
	eval "ni=\$ni_$x ns=\$ns_$x"
	check "in flight, $x: injected, the MTA's 250 held" proxy_wait $x inj "reply $ni held"
	check "in flight, $x: the SMTP copy's end of DATA held" proxy_wait $x smtp "dot $ns hold-dot"
	proxy $x smtp pass
	proxy_release $x smtp "$ns"
done
for x in b c; do
	check "in flight, $x: the milter waits for the UMTP claim" \
		mlog $x "$id: rcpt=<bob@$x.test> being delivered by UMTP"
	proxy $x inj pass
	eval "proxy_release $x inj \$ni_$x"
done
for x in b c; do
	check "in flight, $x: the milter discards the SMTP copy" \
		mlog $x "$id: every recipient already delivered by UMTP; message discarded"
done
once "inflight-$$" bob@b.test bob@c.test

# --- past the wait: 451, then the sender's retry is discarded
id="<pw.$$@a.test>"
mkmsg "$T/m2" "pastwait-$$" "$id"
for x in b c; do proxy $x inj hold-reply; eval "ni_$x=$(next $x inj)"; done
check "past the wait: queued at S" sendmsg "$T/m2" bob@b.test,bob@c.test
for x in b c; do
	eval "ni=\$ni_$x"
	check "past the wait, $x: 250 held" proxy_wait $x inj "reply $ni held"
done
for x in b c; do
	check "past the wait, $x: 451 after claim-wait" \
		mlog $x "$id: rcpt=<bob@$x.test> still being delivered by UMTP after 1000 ms; deferred (451)"
	proxy $x inj pass
	eval "proxy_release $x inj \$ni_$x"
done
for x in b c; do
	check "past the wait, $x: the retry is discarded" \
		mlog $x "$id: every recipient already delivered by UMTP; message discarded"
done
once "pastwait-$$" bob@b.test bob@c.test

# --- reverse: the milter decided for SMTP; the datagram comes after
id="<rv.$$@a.test>"
mkmsg "$T/m3" "reverse-$$" "$id"
for x in b c; do
	kill -STOP "$(_sv $x RPID)"
	proxy $x smtp hold-reply
	eval "ns_$x=$(next $x smtp)"
done
check "reverse: queued at S" sendmsg "$T/m3" bob@b.test,bob@c.test
check "reverse: S shadowed it" \
	wait_for 10 grep -q "umtp shadow .*$id: 1 protocol 2 datagram.* to peer c.test" "$S_DIR/milter.log"
for x in b c; do
	eval "ns=\$ns_$x"
	check "reverse, $x: the milter passed the SMTP copy (its 250 held)" \
		proxy_wait $x smtp "reply $ns held"
	kill -CONT "$(_sv $x RPID)"
	check "reverse, $x: umtp receive drops the datagram" \
		rlog $x "dropped duplicate: $id for <bob@$x.test> already delivered by smtp"
	proxy $x smtp pass
	proxy_release $x smtp "$ns"
done
once "reverse-$$" bob@b.test bob@c.test

# --- the same instant, four times
for i in 1 2 3 4; do
	id="<si$i.$$@a.test>"
	mkmsg "$T/m4" "instant$i-$$" "$id"
	for x in b c; do
		kill -STOP "$(_sv $x RPID)"
		proxy $x smtp hold-dot
		eval "ns_$x=$(next $x smtp)"
	done
	sendmsg "$T/m4" bob@b.test,bob@c.test || notok "instant $i: queued at S"
	wait_for 10 grep -q "umtp shadow .*$id: 1 protocol 2 datagram.* to peer c.test" "$S_DIR/milter.log"
	proxy_wait b smtp "dot $ns_b hold-dot" && proxy_wait c smtp "dot $ns_c hold-dot" ||
		notok "instant $i: both SMTP copies held"
	proxy b smtp pass
	proxy c smtp pass
	# the datagram and the SMTP copy's end of message go together
	proxy_release b smtp "$ns_b"; kill -CONT "$b_RPID"
	proxy_release c smtp "$ns_c"; kill -CONT "$c_RPID"
	for x in b c; do
		wait_for 10 grep -qE "(injected message|dropped duplicate:) $id" "$(_sv $x RLOG)" ||
			notok "instant $i, $x: umtp receive took its datagram"
	done
	once "instant$i-$$" bob@b.test bob@c.test
done

# --- SIGKILL between claim and injection: the MTA never gets the "."
id="<kl.$$@a.test>"
mkmsg "$T/m5" "killed-$$" "$id"
for x in b c; do
	proxy $x inj hold-dot
	proxy $x smtp hold-dot
	eval "ni_$x=$(next $x inj) ns_$x=$(next $x smtp)"
done
check "SIGKILL: queued at S" sendmsg "$T/m5" bob@b.test,bob@c.test
for x in b c; do
	eval "ni=\$ni_$x ns=\$ns_$x"
	check "SIGKILL, $x: claimed, the injection's end of DATA held" proxy_wait $x inj "dot $ni hold-dot"
	check "SIGKILL, $x: the SMTP copy held" proxy_wait $x smtp "dot $ns hold-dot"
	kill -KILL "$(_sv $x RPID)"
	check "SIGKILL, $x: the injection aborted" proxy_wait $x inj "aborted $ni"
	proxy $x inj pass
	proxy $x smtp pass
	proxy_release $x smtp "$ns"
done
for x in b c; do
	check "SIGKILL, $x: the SMTP copy deferred while the dead claim lives" \
		mlog $x "$id: rcpt=<bob@$x.test> still being delivered by UMTP after 1000 ms; deferred (451)"
	site_receive_start $x || notok "SIGKILL, $x: umtp receive restarts"
done
once "killed-$$" bob@b.test bob@c.test
for x in b c; do
	f=$(grep -l "^Subject: killed-$$\$" "$(_sv $x PF)"/sink/m.* | head -1)
	check "SIGKILL, $x: the copy delivered is the SMTP one" not grep -q '^X-Via: umtp' "$f"
done

# --- the injection listener answers 4xx, then 5xx
for reply in "451 4.3.0 test: try later" "554 5.7.1 test: refused"; do
	code=${reply%% *}
	id="<r$code.$$@a.test>"
	mkmsg "$T/m6" "refused$code-$$" "$id"
	for x in b c; do
		proxy $x inj reply "$reply"
		proxy $x smtp hold-dot
		eval "ns_$x=$(next $x smtp)"
	done
	check "$code: queued at S" sendmsg "$T/m6" bob@b.test,bob@c.test
	for x in b c; do
		check "$code, $x: umtp receive gives up (claims released)" \
			rlog $x "LOST message $id .*$code"
		proxy $x inj pass
		proxy $x smtp pass
		eval "proxy_release $x smtp \$ns_$x"
	done
	once "refused$code-$$" bob@b.test bob@c.test
done

# --- several recipients, no Message-ID, one refused by S at RCPT
mkmsg "$T/m7" "many-$$"
swaks --server 127.0.0.1 --port "$S_PORT" --helo client.a.test --from alice@a.test \
	--to bob@b.test,carol@b.test,refused@b.test,dave@b2.test,bob@c.test,eve@d.test \
	--data "@$T/m7" --timeout 10 >"$T/swaks7.out" 2>&1
check "many: S refuses refused@b.test at RCPT, queues the rest" \
	sh -c "grep -q '^<\*\* *554.*refused@b.test' '$T/swaks7.out' && grep -q '^<-  250.*queued' '$T/swaks7.out'"
check "many: S's milter added a Message-ID" \
	wait_for 10 sh -c "grep -q 'added Message-ID' '$S_DIR/milter.log'"
mid=$(sed -n 's/.*added Message-ID \(<[^>]*>\).*/\1/p' "$S_DIR/milter.log" | tail -1)
once "many-$$" bob@b.test carol@b.test dave@b2.test bob@c.test
check "many: eve@d.test (no peer, not a receiver's) once at S's sink" \
	test "$(s_copies "many-$$" eve@d.test)" -eq 1
check "many: nothing anywhere for the refused recipient" \
	test "$(copies b "many-$$" refused@b.test)" -eq 0
check "many: b's datagram named the two accepted b.test recipients only" \
	grep -q "accepted datagram .* 2 recipient(s), first <bob@b.test>, $mid" "$b_RLOG"

# --- Redis restarted with its data; two receivers sharing it
id="<rs.$$@a.test>"
mkmsg "$T/m8" "restart-$$" "$id"
RD_PORT=$c_REDIS_PORT RD_PID=$c_REDIS_PID RD_PASS= rd_stop
RD_PERSIST=1 rd_start "$c_DIR/redis" "$c_REDIS_PORT" || notok "Redis restarts"
check "after a Redis restart: queued at S" sendmsg "$T/m8" bob@b.test,bob@c.test
once "restart-$$" bob@b.test bob@c.test
check "the claims of messages before the restart are still there" \
	test -n "$(rd_cli --scan --pattern 'sc:dedup:*' | head -1)"
c2conf=$T/c2.conf
UP2=$(udp_port)
sed -e "s/127.0.0.1:$c_UDP\"/127.0.0.1:$UP2\"/" -e "s|\"$c_DIR/state\"|\"$T/c2state\"|" \
	-e "s|\"$c_DIR/run\"|\"$T/c2run\"|" "$c_CONF" >"$c2conf"
"$UMTP" receive -f -c "$c2conf" >"$T/c2.log" 2>&1 &
track_pid $!
wait_for 10 grep -q 'listening on' "$T/c2.log" || notok "a second umtp receive on c's Redis starts"
printf 'From: alice@a.test\nSubject: shared-%s\nMessage-ID: <sh.%s@a.test>\n\nhi\n' $$ $$ >"$T/m9"
perl "$P2" build "$T/keys/shared" --sender=alice@a.test --msgid="<sh.$$@a.test>" \
	bob@c.test <"$T/m9" >"$T/m9.pkt"
perl "$P2" sendfile 127.0.0.1 "$c_UDP" "$T/m9.pkt" &
perl "$P2" sendfile 127.0.0.1 "$UP2" "$T/m9.pkt"
wait $!
wait_for 10 sh -c "grep -q 'sh.$$@a.test' '$c_RLOG' && grep -q 'sh.$$@a.test' '$T/c2.log'"
wait_for 20 queues_empty
n=$(copies c "shared-$$" bob@c.test)
check "one datagram to two receivers sharing Redis: injected once (got $n)" test "$n" -eq 1
check "and the other receiver says why it dropped it" \
	sh -c "cat '$c_RLOG' '$T/c2.log' | grep -q 'dropped duplicate: <sh.$$@a.test> for <bob@c.test> being delivered by another receiver\|dropped duplicate: <sh.$$@a.test> for <bob@c.test> already delivered by umtp'"

# --- a replayed datagram and one under a wrong key inject nothing
printf 'From: alice@a.test\nSubject: replayed-%s\nMessage-ID: <rp.%s@a.test>\n\nhi\n' $$ $$ >"$T/m10"
perl "$P2" build "$T/keys/shared" --sender=alice@a.test --msgid="<rp.$$@a.test>" \
	bob@b.test <"$T/m10" >"$T/m10.pkt"
perl "$P2" build "$T/keys/other" --keyid-of="$T/keys/shared" bob@b.test \
	<"$T/m10" >"$T/wrong.pkt"
perl "$P2" sendfile 127.0.0.1 "$b_UDP" "$T/m10.pkt"
check "a fresh datagram is injected" rlog b "injected message <rp.$$@a.test>"
perl "$P2" sendfile 127.0.0.1 "$b_UDP" "$T/m10.pkt" "$T/wrong.pkt"
check "its replay is refused" rlog b "replayed packet"
check "the wrong-key datagram is refused" rlog b "bad digest/MAC"
wait_for 20 queues_empty
check "the replayed message is there once, by UMTP" \
	sh -c "[ \$(grep -l '^X-Via: umtp' '$b_DIR'/pf/sink/m.* | xargs grep -l '^Subject: replayed-$$' | wc -l) -eq 1 ]"

# --- a reload keeps one handle on the claim store (one LMDB environment
# on the file, whatever the configurations in use)
kill -USR1 "$b_MILTER"
check "b's milter reloaded" \
	wait_for 10 grep -q "configuration reloaded" "$b_DIR/milter.log"
mkmsg "$T/m11" "reloaded-$$" "<rl.$$@a.test>"
check "after the reload: queued at S" sendmsg "$T/m11" bob@b.test
once "reloaded-$$" bob@b.test
maps=$(grep -c 'umtp-dedup.lmdb' "/proc/$b_MILTER/maps")
check "b's milter maps the claim file once after the reload (got $maps)" test "$maps" -eq 1

# --- where the claims are kept
check "b's claim file is private (0600)" \
	test "$(stat -c %a "$b_DIR/state/umtp-dedup.lmdb")" = 600
check "c keeps no claim file (Redis)" not test -e "$c_DIR/state/umtp-dedup.lmdb"
check "nothing LOST but the refused injections" \
	test "$(cat "$b_RLOG" "$c_RLOG" | grep -c LOST)" -eq 4
if cat "$S_DIR/milter.log" "$b_DIR/milter.log" "$c_DIR/milter.log" "$b_RLOG" \
	"$b_RLOG.old" "$c_RLOG" "$c_RLOG.old" "$T/c2.log" 2>/dev/null |
	grep -qE 'Sanitizer|runtime error'; then
	notok "no sanitizer reports in the daemons' logs"
else
	ok "no sanitizer reports in the daemons' logs"
fi
site_logs 4
