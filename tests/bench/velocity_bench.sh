# velocity_bench.sh - issue 6's benchmark: connect-stage decisions per
# second of leafmail-milter with milter.max-connections-per-minute on,
# clients cycling through 10,000 distinct addresses, as a ratio to the
# same milter with velocity off, measured in the same run (target >= 0.9);
# and the milter's resident memory after it has seen 1,000,000 distinct
# client addresses (reported, no target: the velocity table is fixed-size,
# so it must not grow with the addresses).
#
# Two leafmail-milter instances run as in production (detached, as user),
# one with velocity off, one with max-connections-per-minute high enough
# that no client reaches it (both then answer every CONNECT "continue",
# so both do the same protocol work and the difference is the table).
# milterload.c -m connect drives them: 50 threads, each session OPTNEG,
# CONNECT, QUIT.  BENCH_VELOCITY_SECONDS (default 5 x BENCH_SCALE) per
# run, order off, on, off, on; the ratio of the totals counts.  Then
# BENCH_VELOCITY_ADDRS (default 1,000,000 x BENCH_SCALE) connections, each
# from a new address, to the "on" instance, reading VmRSS from /proc
# before and after.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/bench/common.sh"
MILTER=$B/leafmail-milter
[ -x "$MILTER" ] || skip_all "$MILTER not built"
umask 022

secs=${BENCH_VELOCITY_SECONDS:-$(awk -v s="$BENCH_SCALE" 'BEGIN { v = 5 * s; if (v < 1) v = 1; print v }')}
conc=${BENCH_SESSIONS:-50}
addrs=10000
many=${BENCH_VELOCITY_ADDRS:-$(bench_scale 1000000)}
user=$(bench_user) || { echo "cannot find or create the leafmail user"; exit 1; }
bench_cc milterload "$S/tests/bench/milterload.c" || { echo "milterload.c does not build"; exit 1; }

# conf NAME MAX: an instance under $T/NAME
conf() {
	mkdir -p "$T/$1/run" "$T/$1/state"
	chown "$user" "$T/$1/run" "$T/$1/state" 2>/dev/null
	cat >"$T/$1/leafmail.conf" <<EOF2
user = "$user"
state-dir = "$T/$1/state"
run-dir = "$T/$1/run"
relay { table = "$T/$1/state/relay" }
milter {
  socket = "unix:$T/$1/run/milter.sock"
  local-domains = { "bench.example" }
  trusted-networks = { }
  max-connections-per-minute = $2
}
EOF2
}
start() {
	"$MILTER" -c "$T/$1/leafmail.conf" 2>"$T/$1/err" || { echo "$1 did not start:"; cat "$T/$1/err"; exit 1; }
	at_exit "[ -f '$T/$1/run/leafmail-milter.pid' ] && kill \"\$(cat '$T/$1/run/leafmail-milter.pid')\" 2>/dev/null"
	wait_for 10 test -S "$T/$1/run/milter.sock" || { echo "$1: no socket"; exit 1; }
	wait_for 10 test -s "$T/$1/run/leafmail-milter.pid" || { echo "$1: no pid file"; exit 1; }
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
field() { echo "$2" | awk -v k="$1" '{ for (i = 1; i <= NF; i++) { split($i, a, "="); if (a[1] == k) print a[2] } }'; }

conf off 0
conf on 100000000
start off
start on
PON=$(cat "$T/on/run/leafmail-milter.pid")
echo "$conc sessions, $addrs distinct client addresses, ${secs}s per run"

# Sanity: velocity really is on in "on": a low limit refuses.
conf low 3
start low
o=$("$B/bench/milterload" -m connect -s "$T/low/run/milter.sock" -c 1 -n 1 -l 10 -t 10)
if [ "$(field continue "$o")" -ne 3 ] || [ "$(field tempfail "$o")" -ne 7 ]; then
	echo "velocity not enforced with a limit of 3: $o"; exit 1
fi
kill "$(cat "$T/low/run/leafmail-milter.pid")"
echo "check: limit 3, one address, 10 connections: 3 continue, 7 x 421"

tot_off=0 tot_on=0
for round in 1 2; do
	for which in off on; do
		o=$("$B/bench/milterload" -m connect -s "$T/$which/run/milter.sock" \
			-c "$conc" -n "$addrs" -t "$secs") || { echo "load on $which failed: $o"; exit 1; }
		n=$(field rcpts "$o")
		echo "round $round: velocity $which $o"
		[ "$(field continue "$o")" -eq "$n" ] ||
			{ echo "velocity $which answered other than continue: $o"; exit 1; }
		if [ "$which" = on ]; then tot_on=$((tot_on + n)); else tot_off=$((tot_off + n)); fi
	done
done
r=$(ratio "$tot_on" "$tot_off")
echo "connect decisions/s: velocity on" \
	"$(awk -v n="$tot_on" -v s="$secs" 'BEGIN { printf "%.0f", n / (2 * s) }')," \
	"off $(awk -v n="$tot_off" -v s="$secs" 'BEGIN { printf "%.0f", n / (2 * s) }')"
echo "ratio velocity on/off = $r"
kill "$(cat "$T/off/run/leafmail-milter.pid")"

# Memory: a million distinct addresses, each connecting once.
before=$(rss_kb "$PON")
t0=$(now_ns)
o=$("$B/bench/milterload" -m connect -s "$T/on/run/milter.sock" -c "$conc" \
	-n "$many" -l "$many" -t 600)
t1=$(now_ns)
seen=$(field sessions "$o")
after=$(rss_kb "$PON")
echo "memory: $o"
echo "memory: $seen distinct addresses in $(secs "$t0" "$t1") s;" \
	"VmRSS before ${before} kB (after $((2 * tot_on)) connections from $addrs addresses), after ${after} kB"
echo "info: resident memory with $seen distinct addresses seen: ${after} kB"
target "velocity-on/off" "$r" ">=" 0.9
exit 0
