# relay_push_bench.sh - issue 13, section 5: logins pushed by Dovecot's
# auth policy client and event exporter, next to the file source, into one
# relayd, timed to the moment the relay table holds them.
#
# One leafmail-relayd -f with three sources: dovecot-policy and
# dovecot-events on loopback, and a Dovecot log file.  The driver
# (pushload.c, built here against $B/libleafmail.a) sends requests shaped
# like Dovecot 2.3.19's over kept-alive connections (or appends login
# lines to the file) and polls the table with relaystore_check():
#   latency  BENCH_LOGINS (default 300 x BENCH_SCALE) logins one at a time,
#            5 ms apart, through each source; p50/p99 per source, best of
#            BENCH_ROUNDS (default 3) interleaved rounds
#   rate     BENCH_REPORTS (default 20000 x BENCH_SCALE) logins over 4
#            connections (4 writers for the file), each waiting for its
#            answer as Dovecot does; logins per second until the last is
#            in the table, best of the rounds
# Targets: p99 under 5 ms through each push source (printed next to the
# file source's, same run, and their ratio); at least 5,000 reports a
# second through each push source (and the ratio to the file source).
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/bench/common.sh"
RELAYD=$B/leafmail-relayd
[ -x "$RELAYD" ] || skip_all "$RELAYD not built"
[ -f "$B/libleafmail.a" ] || skip_all "$B/libleafmail.a not built"
umask 022

count=${BENCH_LOGINS:-$(bench_scale 300)}
reports=${BENCH_REPORTS:-$(bench_scale 20000)}
rounds=${BENCH_ROUNDS:-3}
user=$(bench_user) || { echo "cannot find or create the leafmail user"; exit 1; }
bench_cc pushload "$S/tests/bench/pushload.c" || { echo "pushload.c does not build"; exit 1; }

LOG=$T/dovecot.log
CFG=$T/leafmail.conf
ERR=$T/relayd.err
PP=$(free_port) EP=$(free_port)
key=$(openssl rand -hex 24)
printf '%s\n' "$key" >"$T/key"
chmod 600 "$T/key"
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
  source "dovecot-policy:127.0.0.1:$PP" { api-key-file = "$T/key" }
  source "dovecot-events:127.0.0.1:$EP" { api-key-file = "$T/key" }
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
TABLE=$T/state/relay.lmdb
target_of() {
	case $1 in
	policy) echo "127.0.0.1:$PP" ;;
	events) echo "127.0.0.1:$EP" ;;
	file) echo "$LOG" ;;
	esac
}
# keep_min VAR VALUE / keep_max VAR VALUE
keep_min() {
	eval "_c=\${$1:-}"
	if [ -z "$_c" ] || awk -v a="$2" -v b="$_c" 'BEGIN { exit !(a < b) }'; then eval "$1=$2"; fi
}
keep_max() {
	eval "_c=\${$1:-}"
	if [ -z "$_c" ] || awk -v a="$2" -v b="$_c" 'BEGIN { exit !(a > b) }'; then eval "$1=$2"; fi
}
field() { echo "$1" | sed -n "s/.*$2=\([0-9.]*\).*/\1/p"; }

r=1
while [ "$r" -le "$rounds" ]; do
	for k in policy events file; do
		out=$("$B/bench/pushload" latency "$k" "$(target_of "$k")" "$key" \
			"$TABLE" "$count" 5) || { echo "pushload latency $k: $out"; tail -5 "$ERR"; exit 1; }
		echo "round $r latency $k: $out"
		[ "$(field "$out" missed)" = 0 ] || { echo "$k: logins missed"; exit 1; }
		keep_min "p99_$k" "$(field "$out" p99_ms)"
		keep_min "p50_$k" "$(field "$out" p50_ms)"
	done
	for k in policy events file; do
		out=$("$B/bench/pushload" rate "$k" "$(target_of "$k")" "$key" \
			"$TABLE" "$reports" 4) || { echo "pushload rate $k: $out"; tail -5 "$ERR"; exit 1; }
		echo "round $r rate $k: $out"
		keep_max "rate_$k" "$(field "$out" per_sec)"
	done
	# The next round's addresses are new again: the driver picks its
	# ranges by pid.
	r=$((r + 1))
done
kill -TERM "$RPID"
wait "$RPID"

echo "best of $rounds, login -> in the table: policy p50 $p50_policy ms p99 $p99_policy ms;" \
	"events p50 $p50_events ms p99 $p99_events ms; file p50 $p50_file ms p99 $p99_file ms"
echo "ratio p99 policy/file = $(ratio "$p99_policy" "$p99_file"), events/file = $(ratio "$p99_events" "$p99_file")"
echo "best of $rounds, logins per second: policy $rate_policy, events $rate_events, file $rate_file"
# The file's writers append without waiting for anything: its rate is the
# ceiling of parsing and table writes, and push/file what HTTP costs.
echo "ratio rate policy/file = $(ratio "$rate_policy" "$rate_file"), events/file = $(ratio "$rate_events" "$rate_file")"
target "p99_ms-policy" "$p99_policy" "<" 5
target "p99_ms-events" "$p99_events" "<" 5
target "per_sec-policy" "$rate_policy" ">=" 5000
target "per_sec-events" "$rate_events" ">=" 5000
exit 0
