#!/bin/sh
# follow.t - the daemon following a Dovecot log_path file: a login is in
# the table (as Postfix reads it) within a second; failed logins, hostile
# user names, other programs, stale lines and ignore-networks never
# authorize; hostile input (1 MB line, binary garbage, a last line without
# newline, the log deleted and recreated) is survived; a second instance
# is refused; SIGTERM exits 0 and leaves table and log alone.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$LEAFMAIL_SRC/tests/relayd/common.sh"
have_postmap || skip_all "postmap with lmdb support is needed"
write_conf 30m

# A login already in the log before the first start: read from the start.
login 198.51.100.1 >"$LOG"
start_relayd || { notok "relayd starts"; exit 1; }
ok "relayd starts"
check "first start reads the log from its beginning" wait_for 2 in_lmdb 198.51.100.1
check "the table file exists" [ -f "$TABLE.lmdb" ]
[ "$(id -u)" -eq 0 ] &&
	check "as root, the table file is owned by $RUSER" [ "$(stat -c %U "$TABLE.lmdb")" = "$RUSER" ]
[ "$(id -u)" -eq 0 ] &&
	check "as root, the daemon runs as $RUSER" [ "$(ps -o user= -p "$RPID")" = "$RUSER" ]

# Latency: appended login -> readable by postmap.
login 198.51.100.2 >>"$LOG"
check "a login is in the table within 1 s" within 1000 in_lmdb 198.51.100.2
echo "# latency (including postmap start-up): ${ELAPSED} ms"
exp=$(pmq 198.51.100.2)
now=$(date +%s)
check "its expiry is the login time + 30m" [ -n "$exp" ] && [ "$exp" -gt $((now + 1790)) ] && [ "$exp" -le $((now + 1800)) ]
check "the authorization is logged" grep -q 'relay: 198.51.100.2 allowed until' "$ERR"

# IPv6 and IPv4-mapped clients.
login 2001:DB9::5 >>"$LOG"
login ::ffff:198.51.100.3 >>"$LOG"
check "an IPv6 login is stored in canonical form" wait_for 2 in_lmdb 2001:db9::5
check "an IPv4-mapped login is stored as IPv4" wait_for 2 in_lmdb 198.51.100.3

# Lines that must never authorize, followed by a marker login: once the
# marker is in, every line before it has been read.
ts=$(now_ts)
{
	printf '%s pop3-login: Info: Disconnected: Aborted login by logging out (auth failed, 1 attempts in 2 secs): user=<x>: Login: user=<y>, method=PLAIN, rip=6.6.6.1>, method=PLAIN, rip=6.6.6.2, lip=127.0.0.1, session=<a1>\n' "$ts"
	printf '%s imap-login: Info: Disconnected: Connection closed (auth failed, 1 attempts in 2 secs): user=<z>, method=PLAIN, rip=6.6.6.3, lip=127.0.0.1, session=<a2>\n' "$ts"
	printf '%s pop3-login: Info: Login: user=<a, rip=6.6.6.4, b>, method=PLAIN, rip=198.51.100.4, lip=127.0.0.1, mpid=9, session=<a3>\n' "$ts"
	printf '%s postfix/smtpd[123]: Info: Login: user=<q>, method=PLAIN, rip=6.6.6.5, lip=127.0.0.1, mpid=9, session=<a4>\n' "$ts"
	printf '%s myapp: pop3-login: Info: Login: user=<q>, method=PLAIN, rip=6.6.6.6, lip=127.0.0.1, mpid=9, session=<a5>\n' "$ts"
	login 6.6.6.7 alice "-2 hours"
	login 192.0.2.10
	login 2001:db8::10
	login 198.51.100.5 marker
} >>"$LOG"
wait_for 3 in_lmdb 198.51.100.5 || notok "marker login after the hostile lines"
check "failed login with a crafted user name: 6.6.6.1 not authorized" not_in_lmdb 6.6.6.1
check "failed login: its rip 6.6.6.2 not authorized" not_in_lmdb 6.6.6.2
check "'Connection closed (auth failed)': not authorized" not_in_lmdb 6.6.6.3
check "rip= inside a user name is not the client" not_in_lmdb 6.6.6.4
check "... the real client of that login is" in_lmdb 198.51.100.4
check "another program's line does not authorize" not_in_lmdb 6.6.6.5
check "a login tag not at the start of the message does not authorize" not_in_lmdb 6.6.6.6
check "a stale login (2 hours old, expire 30m) does not authorize" not_in_lmdb 6.6.6.7
check "ignore-networks (IPv4) are never recorded" not_in_lmdb 192.0.2.10
check "ignore-networks (IPv6) are never recorded" not_in_lmdb 2001:db8::10

# Hostile input: a 1 MB line (a login with a huge user name), binary
# garbage, then a good login.
{
	printf '%s pop3-login: Info: Login: user=<' "$(now_ts)"
	head -c 1048576 /dev/zero | tr '\0' A
	printf '>, method=PLAIN, rip=6.6.6.8, lip=127.0.0.1, mpid=1, session=<b1>\n'
	head -c 65536 /dev/urandom
	printf '\n'
	login 198.51.100.6
} >>"$LOG"
check "a login after a 1 MB line and binary garbage is read" wait_for 3 in_lmdb 198.51.100.6
check "the 1 MB line is skipped whole" not_in_lmdb 6.6.6.8
check "the skipped line is reported" grep -q 'skipped 1 line' "$ERR"
check "relayd survived the hostile input" kill -0 "$RPID"

# A last line without its newline is held until the line is complete.
login 198.51.100.7 | tr -d '\n' >>"$LOG"
sleep 0.5
check "a line without newline is not used yet" not_in_lmdb 198.51.100.7
printf '\n' >>"$LOG"
check "... and is once its newline arrives" within 1000 in_lmdb 198.51.100.7

# The log deleted and recreated.
rm -f "$LOG"
sleep 0.2
login 198.51.100.8 >"$LOG"
check "a deleted and recreated log is followed" wait_for 2 in_lmdb 198.51.100.8
login 198.51.100.9 >>"$LOG"
check "... and appended to" within 1000 in_lmdb 198.51.100.9

# SIGHUP re-checks the sources and is logged; relayd keeps running.
kill -HUP "$RPID"
check "SIGHUP is logged" wait_for 2 grep -q 'SIGHUP' "$ERR"
login 198.51.100.10 >>"$LOG"
check "after SIGHUP logins are still read" within 1000 in_lmdb 198.51.100.10

# Over-long lines are what a hostile client makes (a 64 KB user name):
# 30 of them, each read on its own, cost a bounded number of log lines.
n0=$(grep -c 'longer than' "$ERR")
i=0
while [ $i -lt 30 ]; do
	head -c 70000 /dev/zero | tr '\0' 'x' >>"$LOG"
	printf '\n' >>"$LOG"
	login "198.51.100.$((100 + i))" >>"$LOG"
	wait_for 2 in_lmdb "198.51.100.$((100 + i))" || break
	i=$((i + 1))
done
check "30 over-long lines, each read on its own, all skipped" [ $i -eq 30 ]
n1=$(grep -c 'longer than' "$ERR")
check "... logged at most 10 times ($((n1 - n0)))" [ $((n1 - n0)) -le 10 ]

# A second instance is refused with a clear message.
"$RELAYD" -f -c "$CFG" >"$T/second.out" 2>&1; rc=$?
check "a second instance exits 69" [ $rc -eq 69 ]
check "... saying it is already running" grep -q "already running as pid $RPID" "$T/second.out"
check "the first instance still runs" kill -0 "$RPID"

# SIGTERM: exit 0, table and log kept, positions saved.
stop_relayd; rc=$?
check "SIGTERM: exit 0" [ $rc -eq 0 ]
check "the table is kept" in_lmdb 198.51.100.9
check "the log is kept" [ -f "$LOG" ]
check "positions are saved in state-dir" grep -q "$LOG" "$T/state/relayd.positions"
exit 0
