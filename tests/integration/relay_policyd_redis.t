# relay_policyd_redis.t - leafmail-policyd with the relay table in Redis
# (relay.store = "redis"), as the milter reads it: a private Postfix asks
# policyd on loopback (inet:), a private redis-server with a password
# holds the table.  Checked: an address added with `relayd -a` relays;
# one not added does not; Redis stopped means policyd's own 451 4.3.0
# (a store error is never "allowed"), not Postfix's default action; Redis
# back (empty: nothing persisted) means 554 again; a record expired by
# Redis no longer relays.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/harness/postfix.sh"
. "$S/tests/harness/leafmail.sh"
. "$S/tests/harness/redis.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (private Postfix, privilege drop)"
lm_have leafmail-relayd leafmail-policyd || skip_all "leafmail-relayd/leafmail-policyd not built"
rd_require
for p in postfix swaks; do
	command -v "$p" >/dev/null || skip_all "$p not installed"
done
lm_ensure_user || skip_all "cannot create user leafmail"
watchdog 150

remote=someone@remote.test
RPORT=$(free_port) SMTP=$(free_port) PPORT=$(free_port)
PW=pw-$$-$(date +%s%N)
printf '%s\n' "$PW" >"$T/redis.pw"
chmod 600 "$T/redis.pw"
rd_start "$T/redis" "$RPORT" "$PW" || { notok "redis-server starts"; exit 1; }
LM_REDIS=127.0.0.1:$RPORT LM_REDIS_PWFILE=$T/redis.pw LM_REDIS_PREFIX=lmt:
LM_REDIS_TIMEOUT=1s
lm_conf "$T/lm" "$T/no-such.log" 3s 1s
printf 'policyd {\n  socket = "inet:127.0.0.1:%s"\n}\n' "$PPORT" >>"$LM_CONF"

pf_start "$T/postfix" "$SMTP" policyredis \
	"mynetworks = 127.0.0.1/32" \
	"smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, permit_auth_destination, check_policy_service inet:127.0.0.1:$PPORT, reject_unauth_destination" \
	"smtpd_policy_service_default_action = 451 4.3.5 Relay check unavailable, try again later" ||
	{ notok "postfix starts"; exit 1; }

"$B/leafmail-policyd" -c "$LM_CONF" -f >>"$LM_DIR/policyd.log" 2>&1 &
PD_PID=$!
track_pid "$PD_PID"
check "policyd starts, naming the Redis store" \
	wait_for 10 grep -q "listening on inet:127.0.0.1:$PPORT as leafmail, relay table redis 127.0.0.1:$RPORT" "$LM_DIR/policyd.log"

relay_from() { pf_rcpt "$SMTP" "$1" "$remote"; }
"$B/leafmail-relayd" -c "$LM_CONF" -a 127.0.0.2 2>/dev/null
check "relayd -a wrote the record to Redis" [ -n "$(rd_cli GET lmt:relay:127.0.0.2)" ]
r=$(relay_from 127.0.0.2)
expect "relay from 127.0.0.2 (in Redis)" "250 2.1.5" "$r"
r=$(relay_from 127.0.0.3)
expect "relay from 127.0.0.3 (not in Redis)" "554 5.7.1" "$r"

rd_stop
r=$(relay_from 127.0.0.2)
expect "Redis stopped: policyd answers its own 451 4.3.0" "451 4.3.0" "$r"
check "the failed lookup is logged" grep -q 'client=127.0.0.2 .*relay=tempfail reason=table-error' "$LM_DIR/policyd.log"

rd_start "$T/redis" "$RPORT" "$PW" || { notok "redis-server restarts"; exit 1; }
r=$(relay_from 127.0.0.2)
expect "Redis back, empty: relay from 127.0.0.2 refused again" "554 5.7.1" "$r"
"$B/leafmail-relayd" -c "$LM_CONF" -a 127.0.0.4 2>/dev/null
r=$(relay_from 127.0.0.4)
expect "relay from 127.0.0.4 (added after the restart)" "250 2.1.5" "$r"
gone() { [ -z "$(rd_cli GET lmt:relay:127.0.0.4)" ]; }
check "Redis expires the record by itself" wait_for 8 gone
r=$(relay_from 127.0.0.4)
expect "relay from 127.0.0.4 after Redis expired it" "554 5.7.1" "$r"

_lm_stop "$PD_PID"
check "no sanitizer report from policyd" not grep -qE 'Sanitizer|runtime error' "$LM_DIR/policyd.log"
sed 's/^/# policyd: /' "$LM_DIR/policyd.log" | tail -10
