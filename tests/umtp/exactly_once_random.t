#!/bin/sh
# exactly_once_random.t - hundreds of shadowed messages through real
# Postfix sites with random delays on both paths: every recipient gets
# exactly one copy, none is lost, on LMDB (site b) and on Redis (site c)
# at once (tests/umtp/sites.sh).
#
# EO_COUNT messages (default 300), one every 0-250 ms, each to bob@b.test
# and bob@c.test and at random to more recipients on both sites, to
# dave@b2.test (no peer: SMTP only) and to eve@d.test (elsewhere); one in
# four without a Message-ID.  Every end of DATA at the receivers, the
# SMTP copy's at their smtpd and the UMTP copy's at their injection
# listener, waits a random 0-300 ms (smtpproxy.py "delay"), so the two
# copies meet in every order.  Halfway, site c's Redis is restarted (it
# keeps its data: an append-only file), so messages in flight meet a
# store that is gone for a moment.  The seed is printed; EO_SEED=N
# repeats a run's messages (the delays are random each time).
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/harness/postfix.sh"
. "$S/tests/harness/leafmail.sh"
. "$S/tests/harness/redis.sh"
. "$S/tests/umtp/common.sh"
. "$S/tests/umtp/sites.sh"
sites_require
watchdog 300

COUNT=${EO_COUNT:-300}
SEED=${EO_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
LOAD="python3 $S/tests/umtp/random_load.py"
echo "# seed $SEED, $COUNT messages"

mkkey shared
site_receiver b lmdb || { notok "site b (LMDB) starts"; site_logs; exit 1; }
site_receiver c redis || { notok "site c (Redis) starts"; site_logs; exit 1; }
site_sender b c || { notok "site S starts"; site_logs; exit 1; }
for x in b c; do
	proxy $x smtp delay 0 300
	proxy $x inj delay 0 300
done
ok "sites S, b (LMDB) and c (Redis) started, both paths delayed 0-300 ms"

start=$(date +%s)
half=$((COUNT / 2))
$LOAD send "$S_PORT" "$half" "$SEED" "$T/manifest1" 250 >"$T/load1.out" 2>&1
rc1=$?
# Redis away for a moment, with messages still in flight
RD_PORT=$c_REDIS_PORT RD_PID=$c_REDIS_PID RD_PASS= rd_stop
sleep 0.3
RD_PERSIST=1 rd_start "$c_DIR/redis" "$c_REDIS_PORT" || notok "Redis restarts"
$LOAD send "$S_PORT" "$((COUNT - half))" "$((SEED + 1))" "$T/manifest2" 250 >"$T/load2.out" 2>&1
rc2=$?
check "S accepted all $COUNT messages" test "$rc1" -eq 0 -a "$rc2" -eq 0
cat "$T/manifest1" "$T/manifest2" >"$T/manifest"
if wait_for 120 queues_empty; then
	ok "every queue drained"
else
	notok "every queue drained"
	queues_show
fi
sleep 1 # a straggling datagram would show now
echo "# sent and drained in $(($(date +%s) - start)) s"
$LOAD check "$T/manifest" "$b_DIR/pf/sink" "$c_DIR/pf/sink" "$S_DIR/pf/sink" >"$T/check.out"
rc=$?
check "every recipient of every message exactly once: $(tail -1 "$T/check.out")" test "$rc" -eq 0
[ "$rc" -eq 0 ] || sed 's/^/# /' "$T/check.out" | head -20
for x in b c; do
	d=$(_sv $x DIR) r=$(_sv $x RLOG)
	echo "# $x: UMTP delivered $(grep -c 'injected message' "$r"), datagrams" \
		"dropped for SMTP $(grep -c 'already delivered by smtp' "$r"), SMTP copies" \
		"discarded or trimmed $(grep -c 'already delivered by UMTP' "$d/milter.log"), milter" \
		"waits $(grep -c 'waiting up to' "$d/milter.log"), 451s" \
		"$(grep -c 'deferred (451)' "$d/milter.log"), store errors" \
		"$(cat "$r" "$d/milter.log" | grep -c 'duplicate store:')"
done
check "nothing LOST by umtp receive" \
	sh -c "! cat '$b_RLOG' '$c_RLOG' | grep -q LOST"
if cat "$S_DIR/milter.log" "$b_DIR/milter.log" "$c_DIR/milter.log" "$b_RLOG" \
	"$c_RLOG" | grep -qE 'Sanitizer|runtime error'; then
	notok "no sanitizer reports in the daemons' logs"
else
	ok "no sanitizer reports in the daemons' logs"
fi
