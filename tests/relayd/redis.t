#!/bin/sh
# redis.t - leafmail-relayd with relay.store = "redis", against a private
# redis-server on loopback: a catch-up larger than one pipelined command
# (1,500 IPv4 and 20 IPv6 logins) lands whole, keys in canonical form;
# relayd -l lists exactly our keys, sorted, even under a key-prefix full of
# glob characters that would match a neighbour's keys if SCAN's pattern
# were not escaped; bad redis settings are configuration errors.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/relayd/common.sh"
. "$S/tests/harness/redis.sh"
rd_require

RPORT=$(free_port)
rd_start "$T/redis" "$RPORT" || { notok "redis-server starts"; exit 1; }
PREFIX='lm*t[1]:'
write_conf 1h 5s "" '"192.0.2.0/24"'
sed -i 's/^relay {/relay {\n  store = "redis"/' "$CFG"
cat >>"$CFG" <<EOF
redis {
  address = "127.0.0.1:$RPORT"
  key-prefix = "$PREFIX"
  database = 3
}
EOF
"$RELAYD" -c "$CFG" -t >"$T/t.out" 2>&1
check "the configuration checks out" grep -q "configuration OK" "$T/t.out"
# A neighbour whose keys the unescaped pattern lm*t[1]:relay:* matches.
rd_cli -n 3 SET 'lmXt1:relay:10.0.0.1' 9999999999 >/dev/null

# 1,500 distinct IPv4 logins and 20 IPv6 ones, in one catch-up.
awk 'BEGIN { for (i = 0; i < 1500; i++) printf "10.20.%d.%d\n", int(i / 250), i % 250 + 1 }' >"$T/v4"
i=0
while [ $i -lt 20 ]; do echo "2001:DB9:0:0::$(printf %x $((i + 1)))"; i=$((i + 1)); done >"$T/v6"
cat "$T/v4" "$T/v6" | while read -r ip; do login "$ip"; done >"$T/batch"
# Written before relayd starts: read from its start, one batch.
cat "$T/batch" >"$LOG"
start_relayd || { notok "relayd starts"; exit 1; }
check "relayd not writing an LMDB file" not test -e "$TABLE.lmdb"
count() { rd_cli -n 3 --scan --pattern 'lm\*t\[1\]:relay:*' | wc -l; }
all_there() { [ "$(count)" -eq 1520 ]; }
check "all 1,520 logins reach Redis" wait_for 20 all_there
check "in one batch (three pipelined commands)" \
	grep -q "relay: 1520 addresses allowed from 1520 logins" "$ERR"
check "an IPv6 key is in canonical form" \
	test "$(rd_cli -n 3 EXISTS 'lm*t[1]:relay:2001:db9::14')" = 1
v=$(rd_cli -n 3 GET 'lm*t[1]:relay:10.20.5.250')
et=$(rd_cli -n 3 EXPIRETIME 'lm*t[1]:relay:10.20.5.250')
check "value = Redis expiry for the last IPv4 login ($v)" test -n "$v" -a "$v" = "$et"
"$RELAYD" -c "$CFG" -l >"$T/list" 2>"$T/list.err"
check "relayd -l lists 1,520 entries" test "$(wc -l <"$T/list")" -eq 1520
check "sorted by address text" sh -c "LC_ALL=C sort -c '$T/list'"
check "not the neighbour's key" not grep -q '^10.0.0.1 ' "$T/list"
check "the neighbour's key untouched" test "$(rd_cli -n 3 GET 'lmXt1:relay:10.0.0.1')" = 9999999999
check "database 0 untouched" test "$(rd_cli -n 0 DBSIZE)" -eq 0
check "relayd -l wrote nothing to stderr" test ! -s "$T/list.err"
stop_relayd
check "relayd stopped cleanly" test $? -eq 0

# A unix-socket address (a second server, socket only).
redis-server --port 0 --unixsocket "$T/r.sock" --save "" --appendonly no \
	--dir "$T" --logfile "$T/unix-redis.log" --daemonize no &
track_pid $!
wait_for 10 test -S "$T/r.sock"
sed "s|address = \"127.0.0.1:$RPORT\"|address = \"unix:$T/r.sock\"|" "$CFG" >"$T/unix.conf"
"$RELAYD" -c "$T/unix.conf" -a 2001:db9::77 2>"$T/unix.err"
check "relayd -a through unix:$T/r.sock" \
	test "$(redis-cli -s "$T/r.sock" -n 3 EXISTS 'lm*t[1]:relay:2001:db9::77')" = 1
check "relayd -l through the socket" sh -c "'$RELAYD' -c '$T/unix.conf' -l | grep -q '^2001:db9::77 '"

# Started while Redis is not there: relayd warns, keeps running, keeps
# the logins it reads and writes them once Redis answers.
DPORT=$(free_port)
sed -e "s|address = \"127.0.0.1:$RPORT\"|address = \"127.0.0.1:$DPORT\"|" \
	-e "s|\"$LOG\"|\"$T/late.log\"|" -e "s|\"$T/state\"|\"$T/state2\"|" \
	-e "s|\"$T/run\"|\"$T/run2\"|" "$CFG" >"$T/late.conf"
: >"$T/late.log"
"$RELAYD" -f -c "$T/late.conf" 2>"$T/late.err" &
LPID=$!
track_pid "$LPID"
check "relayd starts with Redis unreachable, and warns" \
	wait_for 10 grep -q "logins are kept and written once it answers" "$T/late.err"
login 10.30.0.1 >>"$T/late.log"
check "a login read while Redis is down is kept" \
	wait_for 5 grep -q "1 addresses kept, retrying" "$T/late.err"
redis-server --bind 127.0.0.1 --port "$DPORT" --save "" --appendonly no \
	--dir "$T" --logfile "$T/late-redis.log" --daemonize no &
track_pid $!
check "and written once Redis is there" \
	wait_for 15 sh -c "[ \"\$(redis-cli -p $DPORT -n 3 EXISTS 'lm*t[1]:relay:10.30.0.1')\" = 1 ]"
check "relayd says so" grep -q "written again" "$T/late.err"
kill -TERM "$LPID"
wait "$LPID"
check "relayd stopped cleanly" test $? -eq 0

# Pointed at a read-only replica: Redis's refusal is the message.
ROPORT=$(free_port)
redis-server --bind 127.0.0.1 --port "$ROPORT" --save "" --appendonly no \
	--dir "$T" --logfile "$T/ro-redis.log" --daemonize no \
	--replicaof 127.0.0.1 "$(free_port)" &
track_pid $!
wait_for 10 sh -c "redis-cli -p $ROPORT PING 2>/dev/null | grep -q PONG"
sed "s|address = \"127.0.0.1:$RPORT\"|address = \"127.0.0.1:$ROPORT\"|" "$CFG" >"$T/ro.conf"
"$RELAYD" -c "$T/ro.conf" -a 10.40.0.1 2>"$T/ro.err"
rc=$?
check "relayd -a against a read-only replica exits 75 (got $rc)" test "$rc" -eq 75
check "and passes on Redis's reason: $(head -1 "$T/ro.err")" grep -q "READONLY" "$T/ro.err"

# Configuration errors, each with its line.
bad() {
	sed "s|$2|$3|" "$CFG" >"$T/bad.conf"
	"$RELAYD" -c "$T/bad.conf" -t >/dev/null 2>"$T/bad.err"
	rc=$?
	check "$1: exit 78 (got $rc)" test "$rc" -eq 78
	check "$1: says $4" grep -q "$4" "$T/bad.err"
}
bad "unknown store" 'store = "redis"' 'store = "memcached"' 'must be "lmdb" or "redis"'
bad "relative unix socket" "address = \"127.0.0.1:$RPORT\"" 'address = "unix:redis.sock"' 'must be absolute'
bad "address without port" "address = \"127.0.0.1:$RPORT\"" 'address = "localhost"' 'is not HOST:PORT'
bad "negative database" 'database = 3' 'database = -1' 'database'
bad "a blank in key-prefix" 'key-prefix = .*' 'key-prefix = "a b"' 'no blanks'
printf 'secret\n' >"$T/open.pw"
chmod 644 "$T/open.pw"
bad "-t reads the password file" 'database = 3' "password-file = \"$T/open.pw\"" 'chmod 600'
if cat "$ERR" "$T/late.err" | grep -qE 'Sanitizer|runtime error'; then
	notok "no sanitizer reports"
else
	ok "no sanitizer reports"
fi
