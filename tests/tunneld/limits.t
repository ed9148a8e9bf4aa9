#!/bin/sh
# limits.t - leafmail-tunneld out of file descriptors (ulimit -n 30, 40
# clients at once): the clients beyond what it allows get failure-reply, the
# daemon does not spin on its readable listener, and serves again after.
# The refusals are logged through the rate limit (log-rate-burst 3 per
# 2 s): every one written or counted, the summary after the flood.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/tunneld/common.sh"
tn_require
tn_keys || { notok "test keys"; exit 1; }
tn_sshd_start || { notok "private sshd starts"; exit 1; }
tn_sink_start || { notok "smtp-sink starts"; exit 1; }
tn_conf "$T/e.conf" 'idle = "5s"' 'connect-timeout = "15s"'
printf 'log-rate-burst = 3\nlog-rate-interval = "2s"\n' >>"$T/e.conf"
# ulimit -n sets the hard limit too, so the daemon cannot raise it.
( ulimit -n 30 && exec "$B/leafmail-tunneld" -f -c "$T/e.conf" 2>>"$T/tunneld.log" ) &
TUNNELD_PID=$!
track_pid $TUNNELD_PID
wait_for 10 grep -q "started as" "$T/tunneld.log" || { notok "tunneld starts"; exit 1; }

out=$(python3 "$S/tests/tunneld/many.py" "$LISTEN_PORT" 40 30)
okn=$(echo "$out" | sed -n 's/^ok \([0-9]*\) failed.*/\1/p')
refused=$(echo "$out" | sed -n 's/^ok .*(421: \([0-9]*\)).*/\1/p')
check "some clients served ($okn of 40)" [ "${okn:-0}" -ge 3 ]
check "the others told 421, not left hanging ($refused)" [ $((okn + ${refused:-0})) -eq 40 ]
check "logged: descriptor limit" grep -q "all the descriptor limit allows" "$T/tunneld.log"
summarised() { grep -q 'more refused or failed client connections not logged (at most 3 per 2 s)' "$T/tunneld.log"; }
if [ "${refused:-0}" -gt 3 ]; then
	check "the refusals left out are summed up after the flood" wait_for 8 summarised
fi
lines=$(grep -c 'refusing a client' "$T/tunneld.log")
counted=$(sed -n 's/.*(\([0-9]*\) more refused or failed client connections not logged before this one).*/\1/p; s/.* \([0-9]*\) more refused or failed client connections not logged (at most.*/\1/p' "$T/tunneld.log" |
	awk '{ n += $1 } END { print n + 0 }')
check "every refusal written or counted: $lines + $counted = ${refused:-0}" [ $((lines + counted)) -eq "${refused:-0}" ]
cpu() { awk '{ print $14 + $15 }' "/proc/$TUNNELD_PID/stat"; }
c0=$(cpu)
sleep 1
c1=$(cpu)
check "no busy loop afterwards ($((c1 - c0)) ticks in 1 s)" [ $((c1 - c0)) -lt 10 ]
out=$(tn_smtp "$LISTEN_PORT")
case $out in 220*221*) ok "serves again afterwards" ;; *) notok "serves again afterwards: $out" ;; esac
grep -q 'Sanitizer\|runtime error' "$T/tunneld.log" && notok "sanitizer report"
exit 0
