#!/bin/sh
# smtp_inject.t - protocol 2 end to end: `umtp send` -> `umtp receive` ->
# SMTP injection (libcurl) into Postfix's smtp-sink; a lost injection is
# retried and logged; the daemon's pid file lock, privilege drop, detach
# and -t; the exit codes of `umtp send`.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/umtp/common.sh"

command -v smtp-sink >/dev/null 2>&1 || PATH=$PATH:/usr/sbin
command -v smtp-sink >/dev/null 2>&1 || skip_all "smtp-sink (postfix) not installed"
SPORT=$(free_port)
mkdir -p "$T/sink"
sinkuser=""
if [ "$(id -u)" -eq 0 ]; then sinkuser="-u postfix"; chown postfix "$T/sink"; fi
smtp-sink $sinkuser -d "$T/sink/msg." "127.0.0.1:$SPORT" 10 >"$T/sink.log" 2>&1 &
SINKPID=$!
track_pid $SINKPID
wait_for 10 sh -c "exec 3<>/dev/tcp/127.0.0.1/$SPORT" 2>/dev/null ||
	wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $SPORT))"

mkkey default
write_conf "smtp://127.0.0.1:$SPORT"
start_receive || { notok "umtp receive starts"; cat "$RLOG"; exit 1; }
if [ "$(id -u)" -eq 0 ]; then
	check "runs as $RUSER after binding and reading keys" \
		test "$(ps -o user= -p "$RPID" | tr -d ' ')" = "$RUSER"
fi
check "pid file written" grep -qx "$RPID" "$T/run/umtp.pid"
"$UMTP" receive -f -c "$CFG" >"$T/second.log" 2>&1
check "a second instance refuses to start (exit 69)" test $? -eq 69
check "saying it is already running" grep -q "$RPID" "$T/second.log"

printf 'From: alice@example.org\nTo: bob@example.net\nMessage-ID: <s1@example.org>\nSubject: smtp\n\nline one\n.\n..two dots\nend\n' >"$T/m2.txt"
"$UMTP" send -c "$CFG" -f alice@example.org 127.0.0.1 "$PORT" bob@example.net carol@example.net <"$T/m2.txt"
check "umtp send exits 0" test $? -eq 0
check "accepted" wait_log 'accepted datagram' 1
check "injected over SMTP" wait_log 'injected message <s1@example.org>' 1
f=$(ls "$T"/sink/msg.* 2>/dev/null | head -1)
check "smtp-sink received it" test -n "$f"
check "envelope sender" grep -q 'X-Mail-Args: <alice@example.org>' "$f"
check "both recipients" sh -c "grep -q 'X-Rcpt-Args: <bob@example.net>' '$f' && grep -q 'X-Rcpt-Args: <carol@example.net>' '$f'"
check "X-Via: umtp prepended" grep -q '^X-Via: umtp' "$f"
check "body intact (dot lines survive SMTP)" sh -c "tr -d '\r' <'$f' | grep -A3 '^line one' | tr '\n' '|' | grep -q '^line one|\\.|\\.\\.two dots|end|'"

# Injection fails: bounded retries, then LOST, logged.
kill $SINKPID; wait $SINKPID 2>/dev/null
sed 's/^.*inject-retries.*$/  inject-retries = 2/' "$CFG" >"$CFG.new" && mv "$CFG.new" "$CFG"
kill "$RPID"; wait_for 10 sh -c "! kill -0 $RPID"
start_receive || notok "umtp receive restarts"
sed 's/<s1@/<s2@/' "$T/m2.txt" | "$UMTP" send -c "$CFG" 127.0.0.1 "$PORT" bob@example.net
check "failed injection retried (2 retries)" wait_log 'retry 2 of 2' 1
check "and the loss logged" wait_log 'LOST message <s2@example.org>' 1
check "a lost message is not recorded as delivered" sh -c "! mdb_dump -n -p '$T/state/umtp-dedup.lmdb' | grep -q s2@"
kill "$RPID"; wait_for 10 sh -c "! kill -0 $RPID"

# Detached (no -f): pid file holds the daemon's pid.
"$UMTP" receive -c "$CFG"
check "detaches, exit 0" test $? -eq 0
wait_for 10 test -s "$T/run/umtp.pid"
dpid=$(cat "$T/run/umtp.pid")
[ -n "$dpid" ] && track_pid "$dpid"
check "detached daemon running" kill -0 "$dpid"
kill "$dpid" 2>/dev/null
check "and stops on SIGTERM" wait_for 10 sh -c "! kill -0 $dpid"

# -t and key file permissions.
"$UMTP" receive -t -c "$CFG" >/dev/null 2>&1
check "receive -t: configuration OK (exit 0)" test $? -eq 0
chmod 644 "$T/keys/default"
"$UMTP" receive -t -c "$CFG" >"$T/t.log" 2>&1
check "receive -t refuses a key readable by others (exit 78)" test $? -eq 78
check "saying so" grep -q 'group or others' "$T/t.log"
"$UMTP" send -c "$CFG" 127.0.0.1 "$PORT" bob@example.net <"$T/m2.txt" 2>/dev/null
check "send refuses a key readable by others (exit 78)" test $? -eq 78
chmod 600 "$T/keys/default"
head -c 6000 /dev/urandom | od -An -tx1 | "$UMTP" send -c "$CFG" 127.0.0.1 "$PORT" bob@example.net 2>/dev/null
check "send: too large for one datagram (exit 75)" test $? -eq 75
"$UMTP" send -c "$CFG" 127.0.0.1 "$PORT" </dev/null 2>/dev/null
check "send: usage (exit 64)" test $? -eq 64
"$UMTP" send -c "$T/nonexistent.conf" 127.0.0.1 "$PORT" bob@example.net <"$T/m2.txt" 2>/dev/null
check "send: missing configuration (exit 78)" test $? -eq 78
"$UMTP" send -c "$CFG" 127.0.0.1 "$PORT" 'bob@example.net;id' <"$T/m2.txt" 2>/dev/null
check "send: unsafe recipient (exit 64)" test $? -eq 64
no_sanitizer_reports
