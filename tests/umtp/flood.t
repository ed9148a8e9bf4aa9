#!/bin/sh
# flood.t - 5,000 junk datagrams do not become 5,000 log lines (issue 11):
# garbage, packets under a wrong key and packets naming a peer's key from
# other sources (spoofed), sent as fast as a socket takes them, with
# log-rate-burst 5 per 10 s.  The log holds fewer than 50 lines about
# them; every refusal is accounted for, either written or counted in a
# "N more refused datagrams not logged" note, and the counts add up to
# the daemon's own total at exit; the periodic summary comes when the
# flood has stopped, with no datagram to carry it; a valid datagram
# during the flood is still accepted and logged.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/umtp/common.sh"

mkkey default; mkkey peer; mkkey wrong
write_conf "sendmail:$CAPTURE" "
  peer \"example.net\" { address = \"127.0.0.1:2526\"  key-file = \"$T/keys/peer\" }"
cat >>"$CFG" <<EOF
log-rate-burst = 5
log-rate-interval = "10s"
EOF
start_receive || { notok "umtp receive starts"; cat "$RLOG"; exit 1; }

build() { k=$1; shift; perl "$P2" build "$T/keys/$k" "$@" <"$MSG"; }
build wrong --keyid-of="$T/keys/default" bob@example.net >"$T/wrongkey.pkt"
build wrong --keyid-of="$T/keys/peer" bob@example.net >"$T/spoofed.pkt"
build wrong bob@example.net >"$T/unknown.pkt"
printf 'hello, world\n' >"$T/garbage.pkt"
build default --msgid='<during@example.org>' bob@example.net >"$T/good.pkt"

python3 - "$PORT" "$T" <<'PYEOF'
import socket, sys
port, d = int(sys.argv[1]), sys.argv[2]
pkts = [open("%s/%s.pkt" % (d, n), "rb").read()
        for n in ("garbage", "wrongkey", "spoofed", "unknown")]
good = open(d + "/good.pkt", "rb").read()
socks = []
for i in range(2, 6):  # several sources, as spoofed datagrams would have
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.%d" % i, 0))
    socks.append(s)
for i in range(5000):
    socks[i % len(socks)].sendto(pkts[i % len(pkts)], ("127.0.0.1", port))
    if i == 2500:
        socks[0].sendto(good, ("127.0.0.1", port))
PYEOF
echo "# flood sent"

summarised() { grep -q 'more refused datagrams not logged (at most 5 per 10 s)' "$RLOG"; }
check "the periodic summary comes after the flood stops" wait_for 20 summarised
check "the valid datagram sent during the flood was accepted" wait_log 'accepted datagram' 1
kill -TERM "$RPID"
wait "$RPID"
check "umtp receive exits 0 on TERM" [ $? -eq 0 ]

total=$(sed -n 's/.*exiting: [0-9]* accepted, \([0-9]*\) refused.*/\1/p' "$RLOG")
lines=$(grep -c 'refused datagram from' "$RLOG")
notes=$(grep -c 'more refused datagrams not logged' "$RLOG")
counted=$(sed -n 's/.*(\([0-9]*\) more refused datagrams not logged before this one).*/\1/p; s/.* \([0-9]*\) more refused datagrams not logged (at most.*/\1/p' "$RLOG" |
	awk '{ n += $1 } END { print n + 0 }')
echo "# daemon refused ${total:-?}; $lines lines written, $counted counted in $notes notes"
if [ "$(id -u)" -eq 0 ]; then
	# as root the receive buffer is 16 MB (SO_RCVBUFFORCE): nothing dropped
	check "all 5000 datagrams refused" [ "${total:-0}" -eq 5000 ]
else
	check "at least 1000 datagrams reached the daemon" [ "${total:-0}" -ge 1000 ]
fi
check "fewer than 50 log lines about $total refused datagrams ($lines + $notes)" [ $((lines + notes)) -lt 50 ]
check "every refusal written or counted: $lines + $counted = $total" [ $((lines + counted)) -eq "${total:--1}" ]
check "the refusals logged carry their reasons" grep -q 'refused datagram from 127.0.0.[2-5] .*bad magic' "$RLOG"
no_sanitizer_reports
