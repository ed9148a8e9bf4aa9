#!/bin/sh
# restart.t - stopping and starting relayd keeps the table and the log
# position: lines written while it was down are read, lines read before
# are not read again (an entry deleted with -d does not come back).
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$LEAFMAIL_SRC/tests/relayd/common.sh"
write_conf 30m
: >"$LOG"
start_relayd || { notok "relayd starts"; exit 1; }
login 198.51.100.11 >>"$LOG"
login 198.51.100.12 >>"$LOG"
check "two logins read" wait_for 2 in_table 198.51.100.12
"$RELAYD" -c "$CFG" -a 198.51.100.13 2>/dev/null
"$RELAYD" -c "$CFG" -d 198.51.100.11 2>/dev/null
check "-d while the daemon runs" not_in_table 198.51.100.11
stop_relayd
check "SIGTERM: exit 0" [ $? -eq 0 ]

# While it is down: one more login.
login 198.51.100.14 >>"$LOG"
start_relayd || { notok "relayd starts again"; exit 1; }
check "a login written while relayd was down is read after restart" wait_for 2 in_table 198.51.100.14
check "the table survived the restart (daemon entry)" in_table 198.51.100.12
check "the table survived the restart (-a entry)" in_table 198.51.100.13
check "lines read before the restart are not read again" not_in_table 198.51.100.11
grep -c 'relay: 198.51.100.12 allowed' "$ERR" >"$T/n"
check "the earlier login was authorized once, not re-read" [ "$(cat "$T/n")" -eq 1 ]

# Rotated while down: the rest of the old file and the new file are read.
stop_relayd
login 198.51.100.15 >>"$LOG"
mv "$LOG" "$LOG.1"
login 198.51.100.16 >"$LOG"
start_relayd || { notok "relayd starts a third time"; exit 1; }
check "after rotation while down: the old file's tail is read" wait_for 2 in_table 198.51.100.15
check "after rotation while down: the new file is read" wait_for 2 in_table 198.51.100.16
check "... still without re-reading" not_in_table 198.51.100.11
login 198.51.100.17 >>"$LOG"
check "and the new file is followed" within 1000 in_table 198.51.100.17
stop_relayd
check "SIGTERM: exit 0 again" [ $? -eq 0 ]

check "the pid file is removed at a clean exit" [ ! -e "$T/run/leafmail-relayd.pid" ]

# Without -f: detaches (the command returns 0), writes its pid file, and
# still follows the log; SIGTERM to that pid stops it.
"$RELAYD" -c "$CFG" 2>>"$ERR"
check "without -f: the command returns 0" [ $? -eq 0 ]
check "the pid file names the daemon" wait_for 3 sh -c "[ -s '$T/run/leafmail-relayd.pid' ]"
dpid=$(cat "$T/run/leafmail-relayd.pid" 2>/dev/null)
case $dpid in '' | *[!0-9]*) dpid=999999999 ;; esac
track_pid "$dpid"
check "the daemon is running" kill -0 "$dpid"
login 198.51.100.18 >>"$LOG"
check "the detached daemon follows the log" wait_for 2 in_table 198.51.100.18
kill -TERM "$dpid"
check "SIGTERM stops the detached daemon" wait_for 3 sh -c "! kill -0 $dpid"
check "its table is kept" in_table 198.51.100.18
exit 0
