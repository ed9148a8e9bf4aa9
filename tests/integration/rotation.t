# rotation.t - relayd follows a real Dovecot log across rotation while
# logins keep coming, and across its own restart.
#
# A background loop makes real POP3/IMAP logins from 127.0.0.10 ...
# 127.0.0.60 (a few per second).  Meanwhile the log is rotated by
# rename-and-create (twice) and by copytruncate (once), and relayd is
# stopped and started again.  At the end every address that logged in
# must be in the table: no login lost.  The restart must keep the table
# (an address whose line was rotated away before the restart is still
# there) and the position (an address deleted while relayd was down, whose
# line relayd had already read, does not come back: the log is not re-read
# from the start).
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/harness/dovecot.sh"
. "$S/tests/harness/leafmail.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (private Dovecot, privilege drop)"
lm_have leafmail-relayd || skip_all "leafmail-relayd not built"
for p in dovecot doveadm curl; do
	command -v "$p" >/dev/null || skip_all "$p not installed"
done
lm_ensure_user || skip_all "cannot create user leafmail"
watchdog 115

POP3=$(free_port) IMAP=$(free_port)
dc_start "$T/dovecot" "$POP3" "$IMAP" || { notok "dovecot starts"; exit 1; }
lm_conf "$T/lm" "$DC_LOG" 10m 5s
lm_relayd_start || { notok "relayd starts"; exit 1; }

OKS=$T/logins.ok BAD=$T/logins.failed
: >"$OKS"; : >"$BAD"
(
	i=10
	while [ "$i" -le 60 ]; do
		ip=127.0.0.$i
		proto=pop3; [ $((i % 3)) -eq 0 ] && proto=imap
		if dc_login alice alicepw "$ip" "$proto"; then
			echo "$ip" >>"$OKS"
		else
			echo "$ip" >>"$BAD"
		fi
		sleep 0.15
		i=$((i + 1))
	done
	echo finished >"$T/loop.done"
) &
loop=$!
track_pid "$loop"

not_listed() { ! lm_listed "$1"; }
count() { wc -l <"$OKS" | tr -d ' '; }
at_least() { [ "$(count)" -ge "$1" ]; }

wait_for 30 at_least 8
check "rotation 1 (rename and create) after $(count) logins" dc_rotate_rename 1
wait_for 30 at_least 18
check "rotation 2 (copytruncate) after $(count) logins" dc_rotate_copytruncate 2

wait_for 30 at_least 26
# The restart: the last address relayd has read before stopping is
# deleted while it is down; re-reading the log would bring it back.
last=$(tail -1 "$OKS")
check "$last recorded before the restart" wait_for 2 lm_listed "$last"
lm_relayd_stop
rc=$?
check "relayd stopped cleanly (exit $rc)" [ "$rc" -eq 0 ]
check "positions saved in state-dir" test -s "$LM_DIR/state/relayd.positions"
sed 's/^/# positions: /' "$LM_DIR/state/relayd.positions"
"$B/leafmail-relayd" -c "$LM_CONF" -d "$last" >/dev/null 2>&1
check "$last deleted while relayd is down" not_listed "$last"
sleep 0.5 # logins keep coming while relayd is down
lm_relayd_start || { notok "relayd restarts"; exit 1; }
ok "relayd restarted after $(count) logins"
check "table kept: 127.0.0.10 (its line rotated away) still listed" lm_listed 127.0.0.10
sleep 0.5
check "position kept: $last not re-read after the restart" not_listed "$last"

wait_for 30 at_least 36
check "rotation 3 (rename and create) after $(count) logins" dc_rotate_rename 3

wait_for 60 test -f "$T/loop.done"
n=$(count)
check "every login succeeded ($n ok, $(wc -l <"$BAD" | tr -d ' ') failed)" [ ! -s "$BAD" ]
sleep 1 # Dovecot logs asynchronously; relayd then has its milliseconds
missing=""
while read -r ip; do
	[ "$ip" = "$last" ] && continue
	lm_listed "$ip" || missing="$missing $ip"
done <"$OKS"
expect_n=$((n - 1))
if [ -z "$missing" ]; then
	ok "all $expect_n logins (besides the deleted $last) are in the table"
else
	notok "logins missing from the table:$missing"
	for ip in $missing; do
		grep -h "rip=$ip," "$DC_LOG"* | sed 's/^/# log: /'
	done
fi
listed=$(lm_list | wc -l | tr -d ' ')
check "the table holds exactly those $expect_n entries (has $listed)" [ "$listed" -eq "$expect_n" ]
check "relayd still running" kill -0 "$LM_RELAYD_PID"
lm_check_logs
grep -c 'Login:' "$DC_LOG"* | sed 's/^/# login lines: /'
grep -v ' relay: ' "$LM_DIR/relayd.log" | sed 's/^/# relayd: /' | tail -15
