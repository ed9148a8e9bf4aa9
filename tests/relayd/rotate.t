#!/bin/sh
# rotate.t - logins keep coming while the log is rotated: three times by
# rename-and-create (by a rotator running beside the writer), then three
# times by copytruncate (done by the writer between two lines, as the
# copy-then-truncate window loses lines for any reader otherwise).
# 500 logins from distinct addresses: every one must be in the table.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$LEAFMAIL_SRC/tests/relayd/common.sh"
write_conf 30m
: >"$LOG"
start_relayd || { notok "relayd starts"; exit 1; }

ip() { echo "10.$(($1 / 250 + 1)).$(($1 % 250)).$(($1 % 7 + 1))"; }

# Phase 1: lines 0..249 with rename-and-create rotations beside it.
(
	i=0
	while [ $i -lt 250 ]; do
		login "$(ip $i)" >>"$LOG"
		i=$((i + 1))
		[ $((i % 25)) -eq 0 ] && sleep 0.05
	done
) &
wpid=$!
track_pid $wpid
for n in 1 2 3; do
	sleep 0.15
	mv "$LOG" "$LOG.r$n" && touch "$LOG"
done
wait $wpid
check "writer 1 finished" [ $? -eq 0 ]

# Phase 2: lines 250..499 with copytruncate after 300, 350 and 400.
(
	i=250
	while [ $i -lt 500 ]; do
		login "$(ip $i)" >>"$LOG"
		i=$((i + 1))
		case $i in 300 | 350 | 400)
			cp "$LOG" "$LOG.c$i" && truncate -s 0 "$LOG" ;;
		esac
		[ $((i % 25)) -eq 0 ] && sleep 0.05
	done
) &
wpid=$!
track_pid $wpid
wait $wpid
check "writer 2 finished" [ $? -eq 0 ]

# Sanity: the files hold all 500 lines between them.
check "the log files hold 500 logins" [ "$(cat "$LOG"* | grep -c 'Login:')" -ge 500 ]

last=$(ip 499)
wait_for 5 in_table "$last"
"$RELAYD" -c "$CFG" -l >"$T/list" 2>/dev/null
# count_missing FROM TO: logins FROM..TO-1 not in the list
count_missing() {
	_m=0 _i=$1
	while [ $_i -lt $2 ]; do
		grep -q "^$(ip $_i) " "$T/list" || { _m=$((_m + 1)); echo "# missing $(ip $_i) (line $_i)"; }
		_i=$((_i + 1))
	done
	return $_m
}
count_missing 0 250; m1=$?
check "rename-and-create x3 while logins arrive: all 250 in the table ($m1 missing)" [ $m1 -eq 0 ]
count_missing 250 500; m2=$?
check "copytruncate x3 while logins arrive: all 250 in the table ($m2 missing)" [ $m2 -eq 0 ]
check "nothing else is in the table" [ "$(grep -vc '^10\.[12]\.' "$T/list")" -eq 0 ]
check "relayd still runs" kill -0 "$RPID"
stop_relayd
check "SIGTERM: exit 0" [ $? -eq 0 ]
exit 0
