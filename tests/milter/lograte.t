#!/bin/sh
# lograte.t - leafmail-milter's lines that any SMTP client can cause go
# through the rate limit (log-rate-burst 2 per 10 s here): of 12 relay
# refusals 2 are logged (4 should the attempts straddle a window), every
# other one is counted in a note or in the summary that comes, with no
# further traffic, once the window is over; relaying allowed for an
# authenticated client is logged every time.
. "$LEAFMAIL_SRC/tests/lib.sh"

M=$B/leafmail-milter
D=$S/tests/milter
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"
[ -x "$M" ] || { notok "no $M: build it first"; exit 1; }
need_run_user || { notok "create system user leafmail"; exit 1; }

RUN=$T/run
SOCK=$RUN/milter.sock
LOG=$T/milter.log
cat >"$T/leafmail.conf" <<EOF
user = "$RUSER"
state-dir = "$T/state"
run-dir = "$RUN"
log-rate-burst = 2
log-rate-interval = "10s"
relay { table = "$T/relay" }
milter {
  socket = "unix:$SOCK"
  local-domains = { "example.org" }
  trusted-networks = { "192.0.2.0/24" }
}
EOF
"$M" -f -c "$T/leafmail.conf" >"$LOG" 2>&1 &
MPID=$!
track_pid "$MPID"
check "milter starts" wait_for 20 grep -q 'started on' "$LOG"

n=0
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
	r=$(python3 "$D/rcptreply.py" "$SOCK" 203.0.113.$i "<x@remote.example>" 2>&1)
	case $r in "550 5.7.1"*) n=$((n + 1)) ;; esac
done
check "12 relay attempts refused 550 5.7.1 ($n)" [ "$n" -eq 12 ]
for i in 1 2 3 4 5; do
	python3 "$D/rcptreply.py" "$SOCK" 203.0.113.50 "<y@remote.example>" alice >/dev/null 2>&1
done
summary() { grep -q 'more refusals of SMTP clients not logged (at most 2 per 10 s)' "$LOG"; }
check "a summary of the refusals left out comes by itself" wait_for 15 summary
lines=$(grep -c 'relay=denied' "$LOG")
counted=$(sed -n 's/.*(\([0-9]*\) more refusals of SMTP clients not logged before this one).*/\1/p; s/.* \([0-9]*\) more refusals of SMTP clients not logged (at most.*/\1/p' "$LOG" |
	awk '{ n += $1 } END { print n + 0 }')
check "2 of 12 refusals logged (at most 4 over two windows): $lines" [ "$lines" -ge 2 ] && [ "$lines" -le 4 ]
check "every refusal logged or counted: $lines + $counted = 12" [ $((lines + counted)) -eq 12 ]
check "all 5 relays by an authenticated client logged" \
	[ "$(grep -c 'client=203.0.113.50 .*relay=allowed reason=smtp-auth' "$LOG")" -eq 5 ]
kill "$MPID"
wait "$MPID"
check "no sanitizer report" not grep -qE 'Sanitizer|runtime error' "$LOG"
