#!/bin/sh
# dedup_redis.t - umtp.dedup-store = "redis": two `umtp receive` daemons
# (two MX hosts, each its own state directory) share one duplicate store
# in a private redis-server (requirepass, password file 0600).  A message
# delivered through one host is a duplicate at the other; an SMTP-side
# record (as the milter writes it) counts; each record is the documented
# key with the value "<time> umtp|smtp" and a Redis expiry of dedup-ttl;
# Redis down drops the datagram (the SMTP copy delivers), never injects a
# possible duplicate blind; Redis back, deliveries resume.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/umtp/common.sh"
. "$S/tests/harness/redis.sh"
rd_require

RPORT=$(free_port)
PW=pw-$$-$(date +%s%N)
(umask 077; printf '%s\n' "$PW" >"$T/redis.pw")
rd_start "$T/redis" "$RPORT" "$PW" || { notok "redis-server starts"; exit 1; }

mkkey default
write_conf "sendmail:$CAPTURE" "
  dedup-ttl = \"1h\"
  dedup-store = \"redis\""
cat >>"$CFG" <<EOF
redis {
  address = "127.0.0.1:$RPORT"
  password-file = "$T/redis.pw"
  key-prefix = "mx:"
}
EOF
PORT_A=$PORT CFG_A=$CFG RLOG_A=$RLOG
start_receive || { notok "host A's umtp receive starts"; cat "$RLOG"; exit 1; }
RPID_A=$RPID
check "host A names its duplicate store" \
	grep -q "duplicates in redis 127.0.0.1:$RPORT db 0, keys mx:dedup:\*" "$RLOG_A"
# Host B: the same but for its port, state and run directories.
PORT_B=$(udp_port)
sed -e "s/127.0.0.1:$PORT_A\"/127.0.0.1:$PORT_B\"/" -e "s|\"$T/state\"|\"$T/stateB\"|" \
	-e "s|\"$T/run\"|\"$T/runB\"|" "$CFG_A" >"$T/b.conf"
CFG=$T/b.conf RLOG=$T/receiveB.log
start_receive || { notok "host B's umtp receive starts"; cat "$RLOG"; exit 1; }
RLOG_B=$RLOG
CFG=$CFG_A RLOG=$RLOG_A
check "no duplicate store file on either host" \
	sh -c "! test -e '$T/state/umtp-dedup.lmdb' && ! test -e '$T/stateB/umtp-dedup.lmdb'"

msg() { printf 'From: alice@example.org\nMessage-ID: <%s>\nSubject: dedup\n\nhi\n' "$1"; }
# logged LOG PATTERN: LOG gets a line matching PATTERN within 10 s
logged() { wait_for 10 grep -q "$2" "$1"; }
# rget ID RCPT / rttl ID RCPT: the record's value / TTL (the key holds a NUL)
rget() { rd_cli EVAL "return redis.call('GET', KEYS[1] .. string.char(0) .. ARGV[1])" 1 "mx:dedup:$1" "$2"; }
rttl() { rd_cli EVAL "return redis.call('TTL', KEYS[1] .. string.char(0) .. ARGV[1])" 1 "mx:dedup:$1" "$2"; }

msg m1@example.org | "$UMTP" send -c "$CFG_A" 127.0.0.1 "$PORT_A" bob@example.net
check "host A injects m1" logged "$RLOG_A" 'injected message <m1@example.org>'
v=$(rget m1@example.org bob@example.net)
check "the record is '<time> umtp': $v" sh -c "echo '$v' | grep -qE '^[0-9]+ umtp\$'"
ttl=$(rttl m1@example.org bob@example.net)
check "its Redis TTL is dedup-ttl (1h): $ttl" test "$ttl" -gt 3500 -a "$ttl" -le 3600
msg m1@example.org | "$UMTP" send -c "$CFG_A" 127.0.0.1 "$PORT_B" bob@example.net
check "host B drops m1 as a duplicate of host A's delivery" \
	logged "$RLOG_B" 'dropped duplicate: <m1@example.org> for <bob@example.net> already delivered by umtp'

# The SMTP side (the milter's umtp-dedup) recorded m2 for bob.
rd_cli EVAL "return redis.call('SET', KEYS[1] .. string.char(0) .. ARGV[1], ARGV[2], 'EX', 3600)" \
	1 mx:dedup:m2@example.org bob@example.net "$(date +%s) smtp" >/dev/null
msg m2@example.org | "$UMTP" send -c "$CFG_A" 127.0.0.1 "$PORT_B" bob@example.net carol@example.net
check "host B drops bob's copy of m2, delivered by SMTP" \
	logged "$RLOG_B" 'dropped duplicate: <m2@example.org> for <bob@example.net> already delivered by smtp'
check "and injects carol's" logged "$RLOG_B" 'injected message <m2@example.org> for <carol@example.net>'
check "bob's SMTP record stands (first record wins)" \
	sh -c "echo '$(rget m2@example.org bob@example.net)' | grep -q ' smtp\$'"
check "two messages injected in all" wait_for 5 sh -c "[ \$(ls '$CAP' | grep -c '\.msg\$') -eq 2 ]"

# Redis down: the datagram is dropped, not injected blind.
rd_stop
msg m3@example.org | "$UMTP" send -c "$CFG_A" 127.0.0.1 "$PORT_A" bob@example.net
check "Redis down: host A drops m3 and says why" \
	logged "$RLOG_A" "dropped datagram from .*(<m3@example.org>): duplicate store: redis 127.0.0.1:$RPORT db 0"
sleep 0.3
check "still two messages injected" test "$(captured)" -eq 2
rd_start "$T/redis" "$RPORT" "$PW" || { notok "redis-server restarts"; exit 1; }
msg m4@example.org | "$UMTP" send -c "$CFG_A" 127.0.0.1 "$PORT_A" bob@example.net
check "Redis back: host A injects m4" logged "$RLOG_A" 'injected message <m4@example.org>'
check "and records it" sh -c "echo '$(sleep 0.2; rget m4@example.org bob@example.net)' | grep -q ' umtp\$'"

"$UMTP" receive -t -c "$CFG_A" >"$T/t.out" 2>&1
check "umtp receive -t: configuration OK" grep -q "configuration OK" "$T/t.out"
chmod 644 "$T/redis.pw"
"$UMTP" receive -t -c "$CFG_A" >"$T/t.out" 2>&1
rc=$?
check "umtp receive -t refuses a password file others can read (exit $rc)" \
	test "$rc" -eq 78 -a -n "$(grep 'chmod 600' "$T/t.out")"
chmod 600 "$T/redis.pw"
check "host A still running" kill -0 "$RPID_A"
check "host B still running" kill -0 "$RPID"
cat "$RLOG_B" >>"$RLOG.old"
no_sanitizer_reports
