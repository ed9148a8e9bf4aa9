# milter_bench.sh - issue 2, section 8, third benchmark: leafmail-milter's
# RCPT decisions per second with 50 concurrent sessions, as a ratio to a
# do-nothing libmilter filter (nullmilter.c) measured in the same run.
#
# Both filters listen on unix sockets in $T and are driven by the same
# load driver (milterload.c: the milter protocol spoken directly, 50
# threads, sessions of 50 RCPTs).  leafmail-milter runs as in production
# (as `user`, logging each decision to syslog) with a relay table of
# BENCH_TABLE entries (default 10000 x BENCH_SCALE, written by tablefill.c
# through lib/relaystore.h) that holds the client address 10.9.8.7; every
# recipient is in a non-local domain, so every RCPT is a real table
# lookup.  A one-second check first: the listed client must get only
# "continue", an unlisted one only 550s.
#
# Both filters are placed alike, because placement alone moves the
# result by up to 2x: with Linux's scheduler autogroups (one per session,
# on by default) a filter in the load driver's session answers much
# faster than the same filter in a session of its own.  Two placements:
#   detached  each filter in a session of its own, as a milter daemon
#             runs beside an MTA (leafmail-milter detaches; nullmilter
#             -s calls setsid()).  This is the target's ratio.
#   attached  both in the load driver's session (leafmail-milter -f,
#             its standard error to /dev/null; nullmilter without -s).
# Each placement runs BENCH_MILTER_SECONDS (default 6 x BENCH_SCALE) per
# run, in the order null, leafmail, null, leafmail; the ratio of the
# totals counts.  Target: leafmail/null >= 0.8 detached.  Also printed,
# for whoever works on the milter: the cost of one table lookup alone
# (tablelookup.c), the wall time per RCPT of each filter, and the
# unfair mix (null attached, leafmail detached) that an earlier version
# of this script measured, from the runs already made; and, when
# redis-server is installed (BENCH_MILTER_REDIS=0 skips it), the detached
# ratio again with relay.store = "redis".
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

load() { "$B/bench/milterload" -s "$1" -c "$conc" -t "$2" ${3:+-a "$3"}; }
# field NAME LINE: the value of NAME=VALUE in milterload's output line
field() { echo "$2" | awk -v k="$1" '{ for (i = 1; i <= NF; i++) { split($i, a, "="); if (a[1] == k) print a[2] } }'; }
at_exit '[ -f "$T/run/leafmail-milter.pid" ] && kill "$(cat "$T/run/leafmail-milter.pid")" 2>/dev/null'

# start_filters PLACEMENT: both filters up, NPID and MPID set
start_filters() {
	rm -f "$T/null.sock"
	case $1 in
	detached)
		"$B/bench/nullmilter" -s "unix:$T/null.sock" 2>"$T/null.err" &
		NPID=$!
		"$MILTER" -c "$CFG" 2>"$T/milter.err" ||
			{ echo "leafmail-milter did not start:"; cat "$T/milter.err"; return 1; }
		wait_for 10 test -s "$T/run/leafmail-milter.pid" ||
			{ echo "leafmail-milter pid file missing"; return 1; }
		MPID=$(cat "$T/run/leafmail-milter.pid")
		;;
	attached)
		"$B/bench/nullmilter" "unix:$T/null.sock" 2>"$T/null.err" &
		NPID=$!
		"$MILTER" -c "$CFG" -f 2>/dev/null &
		MPID=$!
		track_pid "$MPID"
		;;
	esac
	track_pid "$NPID"
	wait_for 10 test -S "$T/null.sock" || { echo "nullmilter did not start"; cat "$T/null.err"; return 1; }
	wait_for 10 test -S "$T/run/milter.sock" || { echo "leafmail-milter socket missing"; return 1; }
}

# Stop both and wait, so the next run has the machine to itself.
stop_filters() {
	kill -TERM "$NPID" "$MPID" 2>/dev/null
	# wait reaps whichever is our child (not the detached daemon).
	wait "$NPID" "$MPID" 2>/dev/null
	wait_for 10 sh -c "! kill -0 $MPID 2>/dev/null"
	wait_for 10 sh -c "! kill -0 $NPID 2>/dev/null"
}

# measure PLACEMENT: sets tot_null and tot_leaf (RCPTs over both rounds)
measure() {
	start_filters "$1" || return 1
	tot_null=0 tot_leaf=0
	for round in 1 2; do
		for which in null leafmail; do
			case $which in
			null) sock=$T/null.sock ;;
			*) sock=$T/run/milter.sock ;;
			esac
			o=$(load "$sock" "$secs") || { echo "load on $which failed: $o"; return 1; }
			n=$(field rcpts "$o")
			rate=$(field rcpt_per_s "$o")
			echo "$1 round $round: $which $o"
			if [ "$which" = leafmail ]; then
				if [ "$(field continue "$o")" -ne "$n" ]; then
					echo "leafmail-milter answered other than continue: $o"; return 1
				fi
				tot_leaf=$((tot_leaf + n))
				echo "$1 round $round: ratio leafmail/null = $(ratio "$rate" "$last_null")"
			else
				tot_null=$((tot_null + n))
				last_null=$rate
			fi
		done
	done
	stop_filters
}

# Sanity, on the detached placement: the listed client is accepted, an
# unlisted one denied.
start_filters detached || exit 1
o=$(load "$T/run/milter.sock" 1) || { echo "load failed: $o"; exit 1; }
if [ "$(field reject "$o")" -ne 0 ] || [ "$(field tempfail "$o")" -ne 0 ] || [ "$(field other "$o")" -ne 0 ]; then
	echo "listed client not accepted: $o"; exit 1
fi
o=$(load "$T/run/milter.sock" 1 10.99.99.99) || { echo "load failed: $o"; exit 1; }
if [ "$(field continue "$o")" -ne 0 ] || [ "$(field reject "$o")" -eq 0 ]; then
	echo "unlisted client not denied: $o"; exit 1
fi
echo "check: listed client accepted, unlisted client denied (550)"
stop_filters

measure attached || exit 1
att_null=$tot_null att_leaf=$tot_leaf
measure detached || exit 1
r=$(ratio "$tot_leaf" "$tot_null")
# Where the time goes (information, no target): one table lookup alone,
# and what the same RCPT costs each filter per second of wall time.
lk=$("$B/bench/tablelookup" "$T/state/relay.lmdb" "$CLIENT" 20000) || lk="failed"
echo "info: one relay table lookup in one thread: $lk"
persec() { awk -v n="$1" -v s="$secs" 'BEGIN { printf "%.0f", n / (2 * s) }'; }
usper() { awk -v n="$1" -v s="$secs" 'BEGIN { printf "%.1f", 2 * s * 1e6 / n }'; }
echo "info: wall time per RCPT at $conc sessions, detached: leafmail $(usper "$tot_leaf") us," \
	"null $(usper "$tot_null") us"
echo "info: attached (both in the driver's session): leafmail $(persec "$att_leaf")/s," \
	"null $(persec "$att_null")/s, ratio $(ratio "$att_leaf" "$att_null")"
echo "info: unfair mix (leafmail detached, null attached): ratio $(ratio "$tot_leaf" "$att_null")"
echo "RCPT decisions/s, detached: leafmail $(persec "$tot_leaf"), null $(persec "$tot_null")"

# relay.store = "redis" (information, no target): the same table in a
# private redis-server on loopback, both filters detached; each RCPT is
# then a GET round trip to Redis instead of a local LMDB read.
if [ "${BENCH_MILTER_REDIS:-1}" = 1 ] && command -v redis-server >/dev/null &&
	command -v redis-cli >/dev/null; then
	. "$S/tests/harness/redis.sh"
	rport=$(free_port)
	if rd_start "$T/redis" "$rport"; then
		awk -v n="$entries" -v c="$CLIENT" -v e="$exp" 'BEGIN {
			printf "SET lmb:relay:%s %s EXAT %s\n", c, e, e
			for (i = 1; i < n; i++)
				printf "SET lmb:relay:10.%d.%d.%d %s EXAT %s\n", 100 + int(i / 65536),
					int(i / 256) % 256, i % 256, e, e
		}' | rd_cli >/dev/null
		sed 's/^relay {/relay {\n  store = "redis"/' "$CFG" >"$T/redis.conf"
		printf 'redis {\n  address = "127.0.0.1:%s"\n  key-prefix = "lmb:"\n}\n' \
			"$rport" >>"$T/redis.conf"
		CFG_LMDB=$CFG CFG=$T/redis.conf
		if measure detached; then
			echo "info: relay.store = redis, detached: leafmail $(persec "$tot_leaf")/s," \
				"null $(persec "$tot_null")/s, ratio $(ratio "$tot_leaf" "$tot_null")" \
				"($(rd_cli DBSIZE) keys; Redis accepted" \
				"$(rd_cli INFO stats | tr -d '\r' | sed -n 's/^total_connections_received://p')" \
				"connections)"
		else
			echo "info: relay.store = redis: could not be measured"
		fi
		CFG=$CFG_LMDB
		rd_stop
	else
		echo "info: relay.store = redis: redis-server did not start"
	fi
fi
echo "ratio leafmail/null = $r"
target "leafmail/null (detached)" "$r" ">=" 0.8
exit 0
