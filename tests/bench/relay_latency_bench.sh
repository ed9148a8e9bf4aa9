# relay_latency_bench.sh - issue 2, section 8, second benchmark: from a
# login line appended to the log to the address being readable in the
# relay table.
#
# leafmail-relayd -f follows a log file (inotify).  The driver (pushload.c
# in its "latency file" mode, built here against $B/libleafmail.a into
# $B/bench/pushload) appends one
# login line with a fresh address, then polls the table with
# relaystore_check() every ~100 us until the address is there; BENCH_LOGINS
# times (default 500 x BENCH_SCALE), 5 ms apart.  Prints p50, p90, p99 and
# max in ms; target: p99 < 20 ms.  This one is absolute, not a ratio: the
# time a client waits after its POP3 login does not scale with the machine.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/bench/common.sh"
RELAYD=$B/leafmail-relayd
[ -x "$RELAYD" ] || skip_all "$RELAYD not built"
[ -f "$B/libleafmail.a" ] || skip_all "$B/libleafmail.a not built"
umask 022

count=${BENCH_LOGINS:-$(bench_scale 500)}
user=$(bench_user) || { echo "cannot find or create the leafmail user"; exit 1; }
bench_cc pushload "$S/tests/bench/pushload.c" || { echo "pushload.c does not build"; exit 1; }

LOG=$T/dovecot.log
CFG=$T/leafmail.conf
ERR=$T/relayd.err
: >"$LOG"
cat >"$CFG" <<EOF
user = "$user"
state-dir = "$T/state"
run-dir = "$T/run"
relay {
  table = "$T/state/relay"
  expire = "1d"
  ignore-networks = { }
}
relayd {
  source "$LOG" { format = "dovecot" }
}
EOF

"$RELAYD" -f -c "$CFG" 2>"$ERR" &
RPID=$!
track_pid "$RPID"
if ! wait_for 10 grep -q 'started as' "$ERR"; then
	echo "relayd did not start:"; cat "$ERR"; exit 1
fi
sleep 0.3

out=$("$B/bench/pushload" latency file "$LOG" - "$T/state/relay.lmdb" "$count" 5) || {
	echo "latency driver failed: $out"; tail -5 "$ERR"; exit 1; }
kill -TERM "$RPID" 2>/dev/null
wait "$RPID" 2>/dev/null
echo "$count logins, one every ~5 ms: $out"
p50=$(echo "$out" | sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p')
p99=$(echo "$out" | sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p')
missed=$(echo "$out" | sed -n 's/.*missed=\([0-9]*\).*/\1/p')
echo "p50 = $p50 ms, p99 = $p99 ms, missed (not in the table after 2 s) = $missed"
if [ "${missed:-1}" -ne 0 ]; then
	echo "target p99_ms: NOT met ($missed logins never reached the table)"
	exit 0
fi
target "p99_ms" "${p99:--}" "<" 20
exit 0
