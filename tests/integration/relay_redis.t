# relay_redis.t - relay.store = "redis": the POP/IMAP host and the SMTP
# host share the relay table through Redis.
#
# Real servers on loopback, two leafmail configurations as two hosts
# would have them: "pop" runs a private Dovecot and leafmail-relayd
# following its log; "smtp" runs a private Postfix whose smtpd asks
# leafmail-milter.  Neither shares a file with the other: only a private
# redis-server (requirepass, password file 0600) joins them.  Checked:
# a login on the pop host opens relaying on the smtp host; the record is
# the documented key with a Redis expiry equal to its value; a write never
# shortens a later expiry; Redis down means 451 (fail closed) and relayd
# keeping its logins until Redis answers again; expiry by Redis alone;
# relayd -l/-d and leafmail-relaylock against Redis; a wrong password and
# a readable password file are refused with clear errors.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/harness/postfix.sh"
. "$S/tests/harness/dovecot.sh"
. "$S/tests/harness/leafmail.sh"
. "$S/tests/harness/redis.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (private Postfix/Dovecot, privilege drop)"
lm_have leafmail-relayd leafmail-milter leafmail-relaylock ||
	skip_all "leafmail-relayd/leafmail-milter/leafmail-relaylock not built"
rd_require
for p in postfix dovecot swaks curl; do
	command -v "$p" >/dev/null || skip_all "$p not installed"
done
lm_ensure_user || skip_all "cannot create user leafmail"
watchdog 170

remote=someone@remote.test

RPORT=$(free_port) SMTP=$(free_port) POP3=$(free_port) IMAP=$(free_port)
PW=pw-$$-$(date +%s%N)
printf '%s\n' "$PW" >"$T/redis.pw"
chmod 600 "$T/redis.pw"
rd_start "$T/redis" "$RPORT" "$PW" || { notok "redis-server starts"; exit 1; }

LM_REDIS=127.0.0.1:$RPORT LM_REDIS_PWFILE=$T/redis.pw LM_REDIS_PREFIX=lmt:
LM_REDIS_TIMEOUT=1s
dc_start "$T/dovecot" "$POP3" "$IMAP" || { notok "dovecot starts"; exit 1; }
# The pop host: relayd only.
lm_conf "$T/pop" "$DC_LOG" 4s 1s
POP_CONF=$LM_CONF POP_DIR=$LM_DIR
lm_relayd_start || { notok "relayd starts"; exit 1; }
check "relayd names the Redis store it writes to" \
	grep -q "table redis 127.0.0.1:$RPORT db 0, keys lmt:relay:\*" "$POP_DIR/relayd.log"
# The smtp host: the milter only, its own state directory.
lm_conf "$T/smtp" "$T/no-such.log" 4s 1s
SMTP_CONF=$LM_CONF SMTP_DIR=$LM_DIR
lm_milter_start || { notok "milter starts"; exit 1; }
pf_start "$T/postfix" "$SMTP" milter \
	"smtpd_milters = unix:$LM_SOCK" \
	"milter_default_action = tempfail" \
	"relay_domains = static:ALL" \
	"smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination" \
	"mynetworks = 127.0.0.1/32" || { notok "postfix starts"; exit 1; }
check "the smtp host has no relay table file of its own" not test -e "$SMTP_DIR/state/relay.lmdb"

key() { echo "lmt:relay:$1"; }
exists() { [ "$(rd_cli EXISTS "$(key "$1")")" = 1 ]; }

r=$(pf_rcpt "$SMTP" 127.0.0.2 "$remote")
expect "relay from 127.0.0.2 before any login" "550 5.7.1" "$r"

check "POP3 login as alice from 127.0.0.2 (pop host)" dc_login alice alicepw 127.0.0.2 pop3
check "the login is in Redis within a second" wait_for 1 exists 127.0.0.2
v=$(rd_cli GET "$(key 127.0.0.2)")
et=$(rd_cli EXPIRETIME "$(key 127.0.0.2)")
ttl=$(rd_cli TTL "$(key 127.0.0.2)")
check "the value is the expiry time, and Redis expires the key then ($v, $et)" \
	test -n "$v" -a "$v" = "$et"
check "its TTL is within relay.expire (4 s): $ttl" test "$ttl" -ge 1 -a "$ttl" -le 4
r=$(pf_rcpt "$SMTP" 127.0.0.2 "$remote")
expect "relay from 127.0.0.2 on the smtp host after the login" "250 2.1.5" "$r"
r=$(pf_rcpt "$SMTP" 127.0.0.3 "$remote")
expect "relay from 127.0.0.3 (no login) still refused" "550 5.7.1" "$r"
check "relayd -l on the smtp host lists 127.0.0.2 from Redis" lm_listed 127.0.0.2

# A later expiry (another relayd host's newer login) is never shortened.
far=$(($(date +%s) + 3600))
rd_cli SET "$(key 127.0.0.3)" "$far" EXAT "$far" >/dev/null
check "IMAP login as bob from 127.0.0.3" dc_login bob bobpw 127.0.0.3 imap
check "relayd wrote 127.0.0.3" wait_for 3 grep -q "relay: 127.0.0.3 allowed" "$POP_DIR/relayd.log"
check "the later expiry of 127.0.0.3 is kept" [ "$(rd_cli GET "$(key 127.0.0.3)")" = "$far" ]
check "and so is its Redis expiry" [ "$(rd_cli EXPIRETIME "$(key 127.0.0.3)")" = "$far" ]

# Something else's junk under our prefix reads as "not allowed".
rd_cli SET "$(key 127.0.0.8)" "soon" EX 60 >/dev/null
r=$(pf_rcpt "$SMTP" 127.0.0.8 "$remote")
expect "a malformed value does not allow relaying" "550 5.7.1" "$r"
check "relayd -l skips the malformed record" not lm_listed 127.0.0.8

# A key of another type under our name: the milter fails closed on it,
# relayd's next login replaces it (and the rest of its batch lands).
rd_cli HSET "$(key 127.0.0.10)" junk 1 >/dev/null
r=$(pf_rcpt "$SMTP" 127.0.0.10 "$remote")
expect "relay from 127.0.0.10 while its key is a hash" "451 4.3.0" "$r"
check "POP3 login as alice from 127.0.0.10" dc_login alice alicepw 127.0.0.10 pop3
check "relayd replaced the hash with a record" \
	wait_for 3 sh -c "[ \"\$(REDISCLI_AUTH='$PW' redis-cli -p $RPORT TYPE $(key 127.0.0.10) 2>/dev/null)\" = string ]"
r=$(pf_rcpt "$SMTP" 127.0.0.10 "$remote")
expect "relay from 127.0.0.10 after its login" "250 2.1.5" "$r"

# Redis stalled (SIGSTOP): 451 after one deadline, and no second try on
# a fresh connection (that would double the wait for every recipient).
conns() { rd_cli INFO stats | tr -d '\r' | sed -n 's/^total_connections_received://p'; }
n0=$(conns)
kill -STOP "$RD_PID"
t0=$(date +%s%N)
r=$(pf_rcpt "$SMTP" 127.0.0.3 "$remote")
t1=$(date +%s%N)
kill -CONT "$RD_PID"
expect "relay with Redis stalled (127.0.0.3 allowed)" "451 4.3.0" "$r"
echo "# answered after $(((t1 - t0) / 1000000)) ms (redis.timeout 1s)"
check "the milter says Redis did not answer in time" \
	wait_for 2 grep -q "redis 127.0.0.1:$RPORT db 0: no answer within 1 s" "$SMTP_DIR/milter.log"
n1=$(conns)
check "no fresh connection was tried during the stall ($n0 -> $n1, the second INFO's own)" \
	test "$n1" -eq $((n0 + 1))
r=$(pf_rcpt "$SMTP" 127.0.0.3 "$remote")
expect "relay from 127.0.0.3 once Redis runs again" "250 2.1.5" "$r"

# Redis down: the milter fails closed, relayd keeps its logins.
rd_stop
r=$(pf_rcpt "$SMTP" 127.0.0.3 "$remote")
expect "relay with Redis down (127.0.0.3 was allowed)" "451 4.3.0" "$r"
r=$(pf_rcpt "$SMTP" 127.0.0.9 postmaster@local.test)
expect "local recipient with Redis down" "250 2.1.5" "$r"
check "the milter logged why" wait_for 2 grep -q "redis 127.0.0.1:$RPORT db 0" "$SMTP_DIR/milter.log"
check "POP3 login as alice from 127.0.0.4 while Redis is down" dc_login alice alicepw 127.0.0.4 pop3
check "relayd says it keeps the login and retries" \
	wait_for 3 grep -q "addresses kept, retrying" "$POP_DIR/relayd.log"
rd_start "$T/redis" "$RPORT" "$PW" || { notok "redis-server restarts"; exit 1; }
check "relayd wrote 127.0.0.4 once Redis was back" wait_for 10 exists 127.0.0.4
check "relayd said so" wait_for 2 grep -q "written again" "$POP_DIR/relayd.log"
r=$(pf_rcpt "$SMTP" 127.0.0.4 "$remote")
expect "relay from 127.0.0.4 after Redis came back (milter reconnected)" "250 2.1.5" "$r"

# Expiry is Redis's job: no sweep involved.
check "127.0.0.4 expired by Redis within relay.expire" wait_for 6 not exists 127.0.0.4
r=$(pf_rcpt "$SMTP" 127.0.0.4 "$remote")
expect "relay from 127.0.0.4 after expiry" "550 5.7.1" "$r"

# Administration against Redis.
"$B/leafmail-relayd" -c "$POP_CONF" -a 127.0.0.6 2>"$T/a.err"
check "relayd -a 127.0.0.6 (exit $?)" exists 127.0.0.6
out=$(env -i TCPREMOTEIP=127.0.0.6 "$B/leafmail-relaylock" -c "$POP_CONF" /usr/bin/env)
case $out in *RELAYCLIENT=*) ok "relaylock sets RELAYCLIENT for 127.0.0.6 from Redis" ;;
*) notok "relaylock sets RELAYCLIENT for 127.0.0.6 from Redis: $out" ;; esac
out=$(env -i TCPREMOTEIP=127.0.0.7 "$B/leafmail-relaylock" -c "$POP_CONF" /usr/bin/env)
case $out in *RELAYCLIENT=*) notok "relaylock leaves 127.0.0.7 alone: $out" ;;
*) ok "relaylock leaves 127.0.0.7 alone" ;; esac
"$B/leafmail-relayd" -c "$POP_CONF" -d 127.0.0.6 2>"$T/d.err"
check "relayd -d 127.0.0.6 removes the key (exit $?)" not exists 127.0.0.6
"$B/leafmail-relayd" -c "$POP_CONF" -d 127.0.0.6 2>"$T/d.err"
check "relayd -d of an absent address says so" grep -q "was not in the relay table" "$T/d.err"

# Bad credentials and settings.
printf 'wrong\n' >"$T/wrong.pw"
chmod 600 "$T/wrong.pw"
sed "s|$T/redis.pw|$T/wrong.pw|" "$POP_CONF" >"$T/wrong.conf"
"$B/leafmail-relayd" -c "$T/wrong.conf" -l >/dev/null 2>"$T/wrong.err"
rc=$?
check "a wrong password: relayd -l exits 75 (got $rc)" [ "$rc" -eq 75 ]
check "and says AUTH failed: $(head -1 "$T/wrong.err")" grep -q "AUTH: WRONGPASS" "$T/wrong.err"
chmod 644 "$T/wrong.pw"
"$B/leafmail-relayd" -c "$T/wrong.conf" -l >/dev/null 2>"$T/mode.err"
rc=$?
check "a password file others can read is refused (exit $rc)" [ "$rc" -eq 78 ]
check "with the reason: $(head -1 "$T/mode.err")" grep -q "chmod 600" "$T/mode.err"
sed '/^redis {/,/^}/d' "$POP_CONF" >"$T/noaddr.conf"
"$B/leafmail-relayd" -c "$T/noaddr.conf" -t >/dev/null 2>"$T/noaddr.err"
rc=$?
check "store = redis without redis.address: -t fails (exit $rc)" [ "$rc" -ne 0 ]
check "and says so" grep -q 'redis.address is not set' "$T/noaddr.err"

check "relayd still running" kill -0 "$LM_RELAYD_PID"
check "milter still running" kill -0 "$LM_MILTER_PID"
lm_milter_stop
rc=$?
check "milter stopped cleanly on TERM (exit $rc)" [ "$rc" -eq 0 ]
lm_relayd_stop
rc=$?
check "relayd stopped cleanly on TERM (exit $rc)" [ "$rc" -eq 0 ]
rd_stop
lm_check_logs
LM_DIR=$POP_DIR lm_check_logs
sed 's/^/# relayd: /' "$POP_DIR/relayd.log" | tail -8
sed 's/^/# milter: /' "$SMTP_DIR/milter.log" | tail -6
