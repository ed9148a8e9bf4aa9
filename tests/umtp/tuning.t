#!/bin/sh
# tuning.t - the umtp section's tuning keys take effect in umtp receive:
# replay-cache-size (a full cache of live entries refuses, failing
# closed), inject-timeout (an MTA that accepts the connection and never
# answers costs that long per attempt, then the message is logged LOST;
# a sendmail that never exits is killed after it, and the claims it held
# are released), and a configuration with all four keys passes `umtp
# receive -t`.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/umtp/common.sh"

# An SMTP "server" that accepts connections and says nothing.
MUTE=$(free_port)
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
held = []
while True:
    c, _ = s.accept(); held.append(c)
' "$MUTE" &
track_pid $!
wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $MUTE))"

mkkey default
write_conf "smtp://127.0.0.1:$MUTE" "
  replay-cache-size = 2
  inject-timeout = \"1s\"
  socket-buffer = 1048576
  dedup-sweep-interval = \"1m\""
check "umtp receive -t accepts the tuning keys" "$UMTP" receive -t -c "$CFG"
start_receive || { notok "umtp receive starts"; cat "$RLOG"; exit 1; }

msg() { printf 'From: alice@example.org\nMessage-ID: <%s>\nSubject: t\n\nhi\n' "$1"; }
start=$(date +%s)
for i in 1 2 3; do
	msg "tu$i@example.org" | "$UMTP" send -c "$CFG" 127.0.0.1 "$PORT" bob@example.net
done
check "two datagrams accepted" wait_log 'accepted datagram' 2
check "the third refused: replay cache full" wait_log 'replay cache full' 1
# inject-retries = 1 (common.sh): two attempts of 1 s each per message
check "injection into a mute MTA gives up after inject-timeout: LOST" \
	wait_for 15 sh -c "[ \$(grep -c 'LOST message' '$RLOG') -ge 2 ]"
took=$(($(date +%s) - start))
check "within the timeouts (2 messages x 2 attempts x 1 s + pauses: ${took}s < 12s)" [ "$took" -lt 12 ]
check "the timeout is what failed" grep -q 'Timeout was reached\|timed out' "$RLOG"

# A sendmail that takes the message and never exits: killed after
# inject-timeout, so the claim's deadline never races a live attempt.
kill "$RPID"
wait "$RPID" 2>/dev/null
write_conf "sendmail:$CAPTURE" "
  inject-timeout = \"1s\"
  inject-retries = 0"
UMTP_CAPTURE_HANG=1 start_receive || { notok "umtp receive (sendmail) starts"; exit 1; }
start=$(date +%s)
msg "hang@example.org" | "$UMTP" send -c "$CFG" 127.0.0.1 "$PORT" bob@example.net
check "a sendmail that never exits is killed after inject-timeout" \
	wait_log 'LOST message <hang@example.org> .*sendmail killed: no exit after 1 s' 1
took=$(($(date +%s) - start))
check "within it (${took}s < 5s)" [ "$took" -lt 5 ]
if command -v mdb_dump >/dev/null 2>&1; then
	check "its claim released: the SMTP copy need not wait for the deadline" \
		sh -c "! mdb_dump -n -p '$T/state/umtp-dedup.lmdb' | grep -q 'hang@example.org'"
fi
no_sanitizer_reports
