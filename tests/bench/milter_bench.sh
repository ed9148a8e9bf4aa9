# milter_bench.sh - issue 2, section 8, third benchmark: leafmail-milter's
# RCPT decisions per second with 50 concurrent sessions, as a ratio to a
# do-nothing libmilter filter (nullmilter.c) measured in the same run.
#
# Both filters listen on unix sockets in $T and are driven by the same
# load driver (milterload.c: the milter protocol spoken directly, 50
# threads, sessions of 50 RCPTs).  leafmail-milter runs as in production
# (detached, as `user`, logging each decision to syslog) with a relay
# table of BENCH_TABLE entries (default 10000 x BENCH_SCALE, written by
# tablefill.c through lib/relaytable.h) that holds the client address
# 10.9.8.7; every recipient is in a non-local domain, so every
# RCPT is a real table lookup.  A one-second check first: the listed
# client must get only "continue", an unlisted one only 550s.
# Then BENCH_MILTER_SECONDS (default 6 x BENCH_SCALE) per run, in the
# order null, leafmail, null, leafmail; the ratio of the totals counts.
# Target: leafmail/null >= 0.8.  Also printed, for whoever works on the
# milter: the cost of one table lookup alone (tablelookup.c) and the
# wall time per RCPT of each filter.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/bench/common.sh"
MILTER=$B/leafmail-milter
[ -x "$MILTER" ] || skip_all "$MILTER not built"
[ -f "$B/libleafmail.a" ] || skip_all "$B/libleafmail.a not built"
pkg-config --exists milter 2>/dev/null || [ -f /usr/include/libmilter/mfapi.h ] ||
	skip_all "libmilter headers missing"
umask 022

secs=${BENCH_MILTER_SECONDS:-$(awk -v s="$BENCH_SCALE" 'BEGIN { v = 6 * s; if (v < 1) v = 1; print v }')}
conc=${BENCH_SESSIONS:-50}
entries=${BENCH_TABLE:-$(bench_scale 10000)}
user=$(bench_user) || { echo "cannot find or create the leafmail user"; exit 1; }
bench_cc milterload "$S/tests/bench/milterload.c" || { echo "milterload.c does not build"; exit 1; }
bench_cc tablefill "$S/tests/bench/tablefill.c" || { echo "tablefill.c does not build"; exit 1; }
bench_cc tablelookup "$S/tests/bench/tablelookup.c" || { echo "tablelookup.c does not build"; exit 1; }
bench_cc nullmilter "$S/tests/bench/nullmilter.c" -lmilter || { echo "nullmilter.c does not build"; exit 1; }

CLIENT=10.9.8.7
CFG=$T/leafmail.conf
mkdir -p "$T/state" "$T/run"
chown "$user" "$T/state" "$T/run" 2>/dev/null
cat >"$CFG" <<EOF
user = "$user"
state-dir = "$T/state"
run-dir = "$T/run"
relay {
  table = "$T/state/relay"
  expire = "1d"
}
milter {
  socket = "unix:$T/run/milter.sock"
  local-domains = { "bench.example" }
  trusted-networks = { }
}
EOF

# The relay table: $entries addresses, the client among them.
exp=$(($(date +%s) + 86400))
got=$(awk -v n="$entries" -v c="$CLIENT" 'BEGIN {
	print c
	for (i = 1; i < n; i++)
		printf "10.%d.%d.%d\n", 100 + int(i / 65536), int(i / 256) % 256, i % 256
}' | "$B/bench/tablefill" "$T/state/relay.lmdb" "$exp") || { echo "tablefill failed"; exit 1; }
chown "$user" "$T/state/relay.lmdb" 2>/dev/null
"$B/leafmail-relayd" -c "$CFG" -l 2>/dev/null | grep -q "^$CLIENT " ||
	{ echo "$CLIENT is not in the relay table"; exit 1; }
echo "relay table: $got entries; $conc sessions, 50 RCPTs each, ${secs}s per run"

# Filters
"$B/bench/nullmilter" "unix:$T/null.sock" 2>"$T/null.err" &
NPID=$!
track_pid "$NPID"
"$MILTER" -c "$CFG" 2>"$T/milter.err" || { echo "leafmail-milter did not start:"; cat "$T/milter.err"; exit 1; }
at_exit '[ -f "$T/run/leafmail-milter.pid" ] && kill "$(cat "$T/run/leafmail-milter.pid")" 2>/dev/null'
wait_for 10 test -S "$T/null.sock" || { echo "nullmilter did not start"; cat "$T/null.err"; exit 1; }
wait_for 10 test -S "$T/run/milter.sock" || { echo "leafmail-milter socket missing"; cat "$T/milter.err"; exit 1; }
wait_for 10 test -s "$T/run/leafmail-milter.pid" || { echo "leafmail-milter pid file missing"; exit 1; }

load() { "$B/bench/milterload" -s "$1" -c "$conc" -t "$2" ${3:+-a "$3"}; }
# field NAME LINE: the value of NAME=VALUE in milterload's output line
field() { echo "$2" | awk -v k="$1" '{ for (i = 1; i <= NF; i++) { split($i, a, "="); if (a[1] == k) print a[2] } }'; }

# Sanity: the listed client is accepted, an unlisted one denied.
o=$(load "$T/run/milter.sock" 1) || { echo "load failed: $o"; exit 1; }
if [ "$(field reject "$o")" -ne 0 ] || [ "$(field tempfail "$o")" -ne 0 ] || [ "$(field other "$o")" -ne 0 ]; then
	echo "listed client not accepted: $o"; exit 1
fi
o=$(load "$T/run/milter.sock" 1 10.99.99.99) || { echo "load failed: $o"; exit 1; }
if [ "$(field continue "$o")" -ne 0 ] || [ "$(field reject "$o")" -eq 0 ]; then
	echo "unlisted client not denied: $o"; exit 1
fi
echo "check: listed client accepted, unlisted client denied (550)"

tot_null=0 tot_leaf=0
for round in 1 2; do
	for which in null leafmail; do
		case $which in
		null) sock=$T/null.sock ;;
		*) sock=$T/run/milter.sock ;;
		esac
		o=$(load "$sock" "$secs") || { echo "load on $which failed: $o"; exit 1; }
		n=$(field rcpts "$o")
		rate=$(field rcpt_per_s "$o")
		echo "round $round: $which $o"
		if [ "$which" = leafmail ]; then
			if [ "$(field continue "$o")" -ne "$n" ]; then
				echo "leafmail-milter answered other than continue: $o"; exit 1
			fi
			tot_leaf=$((tot_leaf + n))
			echo "round $round: ratio leafmail/null = $(ratio "$rate" "$last_null")"
		else
			tot_null=$((tot_null + n))
			last_null=$rate
		fi
	done
done
# Stop both and wait, so the next benchmark has the machine to itself.
kill -TERM "$NPID" 2>/dev/null
wait "$NPID" 2>/dev/null
MPID=$(cat "$T/run/leafmail-milter.pid" 2>/dev/null)
[ -n "$MPID" ] && kill -TERM "$MPID" 2>/dev/null && wait_for 10 sh -c "! kill -0 $MPID"
r=$(ratio "$tot_leaf" "$tot_null")
# Where the time goes (information, no target): one table lookup alone,
# and what the same RCPT costs each filter per second of wall time.
lk=$("$B/bench/tablelookup" "$T/state/relay.lmdb" "$CLIENT" 20000) || lk="failed"
echo "info: one relay table lookup in one thread: $lk"
echo "info: wall time per RCPT at $conc sessions: leafmail" \
	"$(awk -v n="$tot_leaf" -v s="$secs" 'BEGIN { printf "%.1f", 2 * s * 1e6 / n }') us," \
	"null $(awk -v n="$tot_null" -v s="$secs" 'BEGIN { printf "%.1f", 2 * s * 1e6 / n }') us"
echo "RCPT decisions/s: leafmail $(awk -v n="$tot_leaf" -v s="$secs" 'BEGIN { printf "%.0f", n / (2 * s) }')," \
	"null $(awk -v n="$tot_null" -v s="$secs" 'BEGIN { printf "%.0f", n / (2 * s) }')"
echo "ratio leafmail/null = $r"
target "leafmail/null" "$r" ">=" 0.8
exit 0
