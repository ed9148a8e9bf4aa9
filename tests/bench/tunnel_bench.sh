#!/bin/sh
# tunnel_bench.sh [BUILD] - leafmail-tunneld against its targets, measured
# in one run on loopback (private sshd, smtp-sink, a discard sink), as
# same-run ratios:
#
#   warm latency   200 short SMTP sessions (connect, 220, QUIT, 221,
#                  close), through tunneld vs straight to ssh's forwarded
#                  port, alternating, medians: added <= 1 ms.  Both paths
#                  pay ssh's own ~40 ms per round trip (tunnel_bench.py
#                  says why); the difference is what tunneld adds
#   throughput     100 MB to a discard sink, through tunneld vs straight
#                  to ssh's port, 5 alternating pairs, median of the
#                  pair ratios: >= 0.9 (a shared machine's load swings
#                  more between runs than the proxy costs)
#   cold start     connect to 220 banner with the tunnel down, through
#                  tunneld vs a bare `ssh -N -L` (same options) plus a
#                  1 ms connect loop: ratio <= 1.2 (median of 5 each)
#
# Needs root (like tests/tunneld), sshd, smtp-sink, python3.  Not part of
# `make check`.  Prints the numbers and a "target ..." line per target
# (tests/bench/common.sh).
set -u
# Under tests/bench/run.sh: its staged copies (LEAFMAIL_SRC, _BUILD).
src=${LEAFMAIL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${1:-${LEAFMAIL_BUILD:-build}}
case $build in /*) ;; *) build=$src/$build ;; esac
LEAFMAIL_BUILD=$build LEAFMAIL_SRC=$src
LEAFMAIL_TMP=$(mktemp -d /tmp/tunnel-bench.XXXXXX)
chmod 755 "$LEAFMAIL_TMP"
export LEAFMAIL_BUILD LEAFMAIL_SRC LEAFMAIL_TMP
. "$src/tests/lib.sh"
. "$src/tests/tunneld/common.sh"
. "$src/tests/bench/common.sh"
at_exit "rm -rf '$LEAFMAIL_TMP'"
PY="python3 $src/tests/bench/tunnel_bench.py"
[ -x "$B/leafmail-tunneld" ] || { echo "no $B/leafmail-tunneld (make BUILD=...)"; exit 1; }

tn_require
tn_keys && tn_sshd_start && tn_sink_start || { echo "set-up failed"; exit 1; }
DISCARD_PORT=$(free_port)
$PY sink "$DISCARD_PORT" &
track_pid $!
wait_for 10 tn_port_open "$DISCARD_PORT"
P2=$(free_port) P3=$(free_port)
tn_conf "$T/b.conf" 'idle = "10m"' 'idle-jitter = "0s"'
sed -i 's/tunnel "t1"/tunnel "lat"/' "$T/b.conf"
section() { # NAME LISTEN REMOTE IDLE
	cat <<EOF2
tunnel "$1" {
  listen = "127.0.0.1:$2"
  ssh-destination = "root@127.0.0.1"
  ssh-port = $SSHD_PORT
  identity-file = "$TN_ID"
  known-hosts-file = "$T/client/known_hosts"
  remote = "$3"
  idle = "$4"
  idle-jitter = "0s"
}
EOF2
}
{ section tput "$P2" "127.0.0.1:$DISCARD_PORT" 10m; section cold "$P3" "127.0.0.1:$SINK_PORT" 0s; } >>"$T/b.conf"
tn_start "$T/b.conf" || { echo "tunneld did not start"; cat "$T/tunneld.log"; exit 1; }

# Bring the warm tunnels up and find ssh's own ports from the log.
$PY cold "$LISTEN_PORT" >/dev/null
printf 'x' | python3 -c 'import socket,sys;s=socket.create_connection(("127.0.0.1",int(sys.argv[1])));s.sendall(b"x");s.shutdown(1);s.recv(9)' "$P2"
sshport() { sed -n "s/.*tunnel $1: ready after .*(127.0.0.1:\([0-9]*\)).*/\1/p" "$T/tunneld.log" | tail -1; }
LAT_SSH=$(sshport lat) TPUT_SSH=$(sshport tput)
[ -n "$LAT_SSH" ] && [ -n "$TPUT_SSH" ] || { echo "tunnels not ready"; cat "$T/tunneld.log"; exit 1; }

median() { printf '%s\n' "$@" | sort -g | sed -n 3p; }

echo "== warm latency: 200 x (connect, 220, QUIT, 221, close) per path, alternating; medians"
set -- $($PY lat "$LAT_SSH" "$LISTEN_PORT" 200)
echo "direct to ssh's port: $1 us; through tunneld: $2 us"
A=$(awk -v d="$1" -v t="$2" 'BEGIN { printf "%.3f", (t - d) / 1000 }')
echo "added latency $A ms"
target tunnel-added-latency-ms "$A" "<=" 1

echo "== throughput: 100 MB to a discard sink, 5 alternating pairs; median of the pair ratios"
dv="" tv="" rv=""
i=0
while [ $i -lt 5 ]; do
	d=$($PY tput "$TPUT_SSH" 100) t=$($PY tput "$P2" 100)
	dv="$dv $d" tv="$tv $t"
	rv="$rv $(awk -v d="$d" -v t="$t" 'BEGIN { printf "%.3f", t / d }')"
	i=$((i + 1))
done
echo "direct to ssh's port:$dv MB/s; through tunneld:$tv MB/s; ratios:$rv"
# shellcheck disable=SC2086
R=$(median $rv)
echo "throughput ratio $R"
target tunnel-throughput-ratio "$R" ">=" 0.9

echo "== cold start: connect to 220 banner, median of 5 runs each"
tv="" bv=""
i=0
while [ $i -lt 5 ]; do
	n0=$(grep -c 'tunnel cold: stopping ssh' "$T/tunneld.log")
	tv="$tv $($PY cold "$P3")"
	# idle = 0s: the tunnel goes down as soon as the client leaves
	wait_for 10 sh -c "[ \$(grep -c 'tunnel cold: stopping ssh' '$T/tunneld.log') -gt $n0 ]"
	sleep 0.2
	lp=$(free_port)
	bv="$bv $($PY bare /usr/bin/ssh -F none -N -p "$SSHD_PORT" -i "$TN_ID" \
		-o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none \
		-o "UserKnownHostsFile=$T/client/known_hosts" \
		-o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes \
		-o ExitOnForwardFailure=yes -o ControlMaster=no -o ControlPath=none \
		-L "127.0.0.1:$lp:127.0.0.1:$SINK_PORT" -- root@127.0.0.1)"
	sleep 0.2
	i=$((i + 1))
done
# shellcheck disable=SC2086
TM=$(median $tv) BM=$(median $bv)
echo "through tunneld:$tv ms; bare ssh -N -L + connect loop:$bv ms"
R=$(awk -v b="$BM" -v t="$TM" 'BEGIN { printf "%.3f", t / b }')
echo "cold start ratio $R (median $TM vs $BM ms)"
target tunnel-cold-start-ratio "$R" "<=" 1.2
kill "$TUNNELD_PID"
