# umtp_bench.sh - issue 3, section 7: UMTP benchmarks.
#
# (a) Throughput: `umtp receive` datagrams per second (verify, duplicate
#     check, record, inject) as a ratio to the seed's Perl receiver
#     (tests/umtp/umtp-seed.pl) on the same datagrams: BENCH_UMTP_N
#     (default 2000 x BENCH_SCALE) protocol 1 packets, the only protocol
#     the seed speaks, each with its own Message-ID, from a peer
#     configured with protocol = 1.  Both receivers inject into the same
#     sink, umtp_sink.c (a sendmail stand-in that writes the message to a
#     file): the seed as it did ("sendmail -i RCPT" through /bin/sh),
#     ours exec'd directly (inject = "sendmail:...").  Paced in batches of
#     100 (each batch waits for the previous to be injected), so neither
#     loses a datagram and the count is work done, not luck.  Also
#     printed: ours injecting over SMTP into smtp-sink (the production
#     set-up, inject = "smtp://..."), which the seed cannot do.
#     Target: ours/seed >= 50.
# (b) Burst: 5,000 protocol 2 datagrams (BENCH_UMTP_BURST) sent back to
#     back from one socket; how many `umtp receive` accepts (injecting
#     over SMTP into smtp-sink).  The seed, with the same burst of
#     protocol 1 datagrams, for comparison.  Target: all of them.
# (c) Latency: a private Postfix (site A) whose smtpd runs leafmail-milter
#     with milter.umtp-shadow relays to its smtp-sink (the SMTP path);
#     the milter's datagram goes to `umtp receive`, which injects into a
#     second smtp-sink (the UMTP path).  BENCH_UMTP_LAT (default 40 x
#     BENCH_SCALE) messages, 100 ms apart; the time from the end of DATA
#     at site A to the message's first appearance at each sink.
#     Target: UMTP p50 / SMTP p50 < 1 (UMTP arrives first).
# (d) Claims: `umtp receive` datagrams per second with the claim store
#     (put-if-absent before injecting, UMTP recorded after) against the
#     code before it, built here from git (BENCH_UMTP_OLD_REF, default the
#     last commit before the claims) into the scratch directory, on the
#     same protocol 2 datagrams (BENCH_UMTP_CLAIM_N, default 2000 x
#     BENCH_SCALE), paced as in (a), injecting over SMTP into smtp-sink,
#     with the store in LMDB and (when redis-server is installed) in a
#     private Redis.  Rounds alternate old and new, three of each; the
#     best of each counts.  Target: new/old >= 0.9 for each store.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/bench/common.sh"
UMTP=$B/umtp
[ -x "$UMTP" ] || skip_all "$UMTP not built"
command -v smtp-sink >/dev/null 2>&1 || PATH=$PATH:/usr/sbin
command -v smtp-sink >/dev/null 2>&1 || skip_all "smtp-sink (postfix) not installed"
perl -MCompress::Zlib -MDigest::MD5 -e 1 2>/dev/null || skip_all "perl lacks Compress::Zlib/Digest::MD5"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (SO_RCVBUFFORCE, private Postfix)"
umask 022
user=$(bench_user) || { echo "cannot find or create the leafmail user"; exit 1; }
PY="python3 $S/tests/bench/umtp_bench.py"
SEED=$S/tests/umtp/umtp-seed.pl
N=${BENCH_UMTP_N:-$(bench_scale 2000)}
BURST=${BENCH_UMTP_BURST:-5000}
LAT=${BENCH_UMTP_LAT:-$(bench_scale 40)}

mkdir -p "$B/bench"
${CC:-cc} -O2 -Wall -Wextra -Werror -o "$B/bench/umtp_sink" "$S/tests/bench/umtp_sink.c" ||
	{ echo "umtp_sink.c does not build"; exit 1; }
chmod 755 "$B/bench/umtp_sink"

mkdir -p "$T/keys" "$T/home/.umtp"
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/keys/secret")
cp "$T/keys/secret" "$T/home/.umtp/secret"
udp_port() {
	python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# conf FILE PORT INJECT: umtp receive on PORT; 127.0.0.1 a protocol 1 peer
conf() {
	cat >"$1" <<EOF
user = "$user"
state-dir = "$T/state-$2"
run-dir = "$T/run-$2"
umtp {
  listen = "127.0.0.1:$2"
  key-file = "$T/keys/secret"
  inject = "$3"
  peer "example.net" { address = "127.0.0.1:1" protocol = 1 }
}
EOF
}
# ours PORT INJECT [PROGRAM [REDISPORT]]: start umtp receive (PROGRAM,
# default ours; with REDISPORT its duplicate store in that Redis); RPID
ours() {
	conf "$T/ours-$1.conf" "$1" "$2"
	if [ -n "${4:-}" ]; then
		sed -i 's/^umtp {/umtp {\n  dedup-store = "redis"/' "$T/ours-$1.conf"
		printf 'redis {\n  address = "127.0.0.1:%s"\n  key-prefix = "bench%s:"\n}\n' \
			"$4" "$1" >>"$T/ours-$1.conf"
	fi
	"${3:-$UMTP}" receive -f -c "$T/ours-$1.conf" >"$T/ours-$1.log" 2>&1 &
	RPID=$!
	track_pid "$RPID"
	wait_for 10 grep -q 'listening on' "$T/ours-$1.log" ||
		{ echo "umtp receive did not start:"; cat "$T/ours-$1.log"; exit 1; }
}
# seed PORT [SENDMAIL]: start the seed's receiver (it daemonises); SPID
seed() {
	rm -f "$T/home/.umtp/log" "$T/home/.umtp"/pid.*
	HOME=$T/home UMTP_SEED_SENDMAIL=$2 perl "$SEED" receive 127.0.0.1 "$1" ||
		{ echo "seed receiver did not start"; exit 1; }
	wait_for 10 grep -q 'listening on' "$T/home/.umtp/log" ||
		{ echo "seed receiver did not start:"; cat "$T/home/.umtp/log"; exit 1; }
	SPID=$(cat "$T/home/.umtp"/pid.* 2>/dev/null)
	track_pid "$SPID"
}
field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s <= 0) print "-"; else printf "%.0f", n / s }'; }

PARTS=${BENCH_UMTP_PARTS:-abcd}  # which of (a) (b) (c) (d) to run
export UMTP_SINK_DIR
SINKP=$(free_port)
smtp-sink -u postfix -c "127.0.0.1:$SINKP" 100 >"$T/smtp-sink.log" 2>&1 &
track_pid $!
wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $SINKP))"

# ---- (a) throughput --------------------------------------------------
case $PARTS in *a*)
# The peer rule needs the source to be the peer's address host: the
# peer's port (1) does not matter, the host (127.0.0.1) does.
$PY gen p1 "$T/keys/secret" "$N" "$T/p1.pkts" || { echo "gen failed"; exit 1; }
UMTP_SINK_DIR=$T/sink-seed; mkdir -p "$UMTP_SINK_DIR"; chmod 1777 "$UMTP_SINK_DIR"
P=$(udp_port)
seed "$P" "$B/bench/umtp_sink"
out_seed=$($PY paced 127.0.0.1 "$P" "$T/p1.pkts" 100 "dir:$UMTP_SINK_DIR" 300)
kill "$SPID" 2>/dev/null

UMTP_SINK_DIR=$T/sink-ours; mkdir -p "$UMTP_SINK_DIR"; chmod 1777 "$UMTP_SINK_DIR"
P=$(udp_port)
ours "$P" "sendmail:$B/bench/umtp_sink"
out_ours=$($PY paced 127.0.0.1 "$P" "$T/p1.pkts" 100 "dir:$UMTP_SINK_DIR" 300)
kill "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null

P=$(udp_port)
ours "$P" "smtp://127.0.0.1:$SINKP"
out_smtp=$($PY paced 127.0.0.1 "$P" "$T/p1.pkts" 100 "log:$T/ours-$P.log:injected message" 300)
kill "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null

r_seed=$(rate "$(field done "$out_seed")" "$(field seconds "$out_seed")")
r_ours=$(rate "$(field done "$out_ours")" "$(field seconds "$out_ours")")
r_smtp=$(rate "$(field done "$out_smtp")" "$(field seconds "$out_smtp")")
echo "(a) $N protocol 1 datagrams, paced in batches of 100:"
echo "    seed (sh -c 'sendmail -i RCPT' into umtp_sink): $out_seed -> $r_seed/s"
echo "    umtp receive (sendmail: umtp_sink, exec'd):    $out_ours -> $r_ours/s"
echo "    umtp receive (smtp: into smtp-sink):           $out_smtp -> $r_smtp/s"
echo "    ratio ours/seed, same sink: $(ratio "$r_ours" "$r_seed"); over SMTP: $(ratio "$r_smtp" "$r_seed")"
target "receive_ratio_same_sink" "$(ratio "$r_ours" "$r_seed")" ">=" 50
target "receive_ratio_smtp_inject" "$(ratio "$r_smtp" "$r_seed")" ">=" 50
;; esac

# ---- (b) burst ---------------------------------------------------------
case $PARTS in *b*)
$PY gen p2 "$T/keys/secret" "$BURST" "$T/p2.pkts" || { echo "gen failed"; exit 1; }
P=$(udp_port)
ours "$P" "smtp://127.0.0.1:$SINKP"
out_b=$($PY burst 127.0.0.1 "$P" "$T/p2.pkts")
acc=$($PY settle "log:$T/ours-$P.log:accepted datagram" "$BURST" 3 120)
inj=$($PY settle "log:$T/ours-$P.log:injected message" "$BURST" 3 120)
kill "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null

$PY gen p1 "$T/keys/secret" "$BURST" "$T/p1b.pkts"
UMTP_SINK_DIR=$T/sink-seedb; mkdir -p "$UMTP_SINK_DIR"; chmod 1777 "$UMTP_SINK_DIR"
P=$(udp_port)
seed "$P" "$B/bench/umtp_sink"
out_sb=$($PY burst 127.0.0.1 "$P" "$T/p1b.pkts")
sacc=$($PY settle "dir:$UMTP_SINK_DIR" "$BURST" 3 120)
kill "$SPID" 2>/dev/null
echo "(b) burst of $BURST datagrams from one socket:"
echo "    umtp receive: $out_b; accepted $acc, injected $inj"
echo "    seed:         $out_sb; delivered $sacc"
target "burst_accepted" "$acc" ">=" "$BURST"
;; esac

# ---- (d) claims against the code before them -------------------------
case $PARTS in *d*)
OLDREF=${BENCH_UMTP_OLD_REF:-61c6defa1f80bc17fc7561212dcad8f2920b25ac}
CN=${BENCH_UMTP_CLAIM_N:-$(bench_scale 2000)}
OLD=$T/old
# the history is in the checkout, not in run.sh's staged copy of it
GITDIR=${LEAFMAIL_CHECKOUT:-$S}
if ! command -v git >/dev/null 2>&1 ||
	! git -C "$GITDIR" cat-file -e "$OLDREF^{commit}" 2>/dev/null; then
	echo "(d) skipped: no git history with $OLDREF here"
elif ! { mkdir -p "$OLD" && git -C "$GITDIR" archive "$OLDREF" | tar -x -C "$OLD" &&
	make -C "$OLD" build/umtp >"$T/old-build.log" 2>&1; }; then
	echo "(d) could not build $OLDREF:"; tail -5 "$T/old-build.log"; exit 1
else
	stores="lmdb"
	if command -v redis-server >/dev/null 2>&1; then
		. "$S/tests/harness/redis.sh"
		RP=$(free_port)
		rd_start "$T/redis" "$RP" && stores="lmdb redis"
	fi
	echo "(d) $CN protocol 2 datagrams, paced in batches of 100, injected over"
	echo "    SMTP into smtp-sink; the code before the claims is $OLDREF:"
	for st in $stores; do
		rp=""
		[ "$st" = redis ] && rp=$RP
		best_old=0 best_new=0
		for round in 1 2 3; do
			for who in old new; do
				prog=$UMTP
				[ "$who" = old ] && prog=$OLD/build/umtp
				# fresh datagrams (their timestamps) and a fresh store
				$PY gen p2 "$T/keys/secret" "$CN" "$T/claims.pkts" || { echo "gen failed"; exit 1; }
				P=$(udp_port)
				ours "$P" "smtp://127.0.0.1:$SINKP" "$prog" "$rp"
				out=$($PY paced 127.0.0.1 "$P" "$T/claims.pkts" 100 "log:$T/ours-$P.log:injected message" 300)
				kill "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null
				r=$(rate "$(field done "$out")" "$(field seconds "$out")")
				echo "    $st round $round, $who: $out -> $r/s"
				if [ "$who" = old ]; then
					best_old=$(awk -v a="$best_old" -v b="$r" 'BEGIN { print (b > a ? b : a) }')
				else
					best_new=$(awk -v a="$best_new" -v b="$r" 'BEGIN { print (b > a ? b : a) }')
				fi
			done
		done
		echo "    $st: best with claims $best_new/s, before $best_old/s, ratio $(ratio "$best_new" "$best_old")"
		target "claims_over_before_$st" "$(ratio "$best_new" "$best_old")" ">=" 0.9
	done
fi
;; esac

# ---- (c) latency -------------------------------------------------------
case $PARTS in *c*) ;; *) exit 0 ;; esac
if ! command -v postfix >/dev/null 2>&1 || ! [ -x "$B/leafmail-milter" ]; then
	echo "(c) skipped: postfix or leafmail-milter missing"
	exit 0
fi
. "$S/tests/harness/postfix.sh"
. "$S/tests/harness/leafmail.sh"
LSINKP=$(free_port)
mkdir -p "$T/lsink"; chown postfix "$T/lsink"
smtp-sink -u postfix -d "$T/lsink/m." "127.0.0.1:$LSINKP" 16 >"$T/lsink.log" 2>&1 &
track_pid $!
wait_for 10 python3 -c "import socket; socket.create_connection(('127.0.0.1', $LSINKP))"
P=$(udp_port)
ours "$P" "smtp://127.0.0.1:$LSINKP"
LM_LOCAL_DOMAINS='"example.org"' lm_conf "$T/a" /dev/null 30m
sed -i 's/^milter {/milter {\n  umtp-shadow = true/' "$LM_CONF"
cat >>"$LM_CONF" <<EOF
umtp {
  key-file = "$T/keys/secret"
  peer "example.net" { address = "127.0.0.1:$P" }
}
EOF
lm_milter_start || { echo "milter did not start"; cat "$T/a/milter.log"; exit 1; }
SA=$(free_port)
pf_start "$T/pa" "$SA" benchsite "smtpd_milters = unix:$LM_SOCK" \
	"milter_default_action = accept" || { echo "postfix did not start"; exit 1; }
out_l=$($PY latency "$SA" "$LAT" 0.1 "$T/lsink" "$T/pa/sink")
echo "(c) end of DATA at site A -> message at the sink, $LAT messages:"
echo "$out_l" | sed 's/^/    /'
u50=$(echo "$out_l" | sed -n 's/^umtp .*p50_ms=\([0-9.]*\).*/\1/p')
s50=$(echo "$out_l" | sed -n 's/^smtp .*p50_ms=\([0-9.]*\).*/\1/p')
lr=-
[ -n "$u50" ] && [ -n "$s50" ] && lr=$(ratio "$u50" "$s50")
echo "    UMTP p50 / SMTP p50 = $lr"
target "latency_umtp_over_smtp_p50" "$lr" "<" 1
exit 0
