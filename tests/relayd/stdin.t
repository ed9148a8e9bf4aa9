#!/bin/sh
# stdin.t - the "-" source (journalctl -f -o cat | leafmail-relayd ...)
# and a "fifo:" source that a syslog daemon writes and must never block on.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$LEAFMAIL_SRC/tests/relayd/common.sh"

# stdin: the only source; EOF flushes and exits 0.
write_conf 30m 5s 'source "-" { format = "dovecot" }'
{ login 198.51.100.21; login 198.51.100.22; login 192.0.2.23; printf 'garbage\n'; } |
	timeout 10 "$RELAYD" -f -c "$CFG" 2>>"$ERR"
rc=$?
check "stdin source: exits 0 at EOF" [ $rc -eq 0 ]
check "stdin source: logins recorded" in_table 198.51.100.21
check "stdin source: all of them" in_table 198.51.100.22
check "stdin source: ignore-networks honoured" not_in_table 192.0.2.23

# stdin redirected from a regular file (epoll cannot watch it).
{ login 198.51.100.24; login 198.51.100.25; } >"$T/lines"
timeout 10 "$RELAYD" -f -c "$CFG" <"$T/lines" 2>>"$ERR"
check "stdin from a regular file: exits 0" [ $? -eq 0 ]
check "stdin from a regular file: logins recorded" in_table 198.51.100.25

# stdin that stays open: logins go in as they come, not at EOF.
mkfifo "$T/feed"
write_conf 30m 5s 'source "-" { format = "dovecot" }'
"$RELAYD" -f -c "$CFG" <"$T/feed" 2>>"$ERR" &
RPID=$!
track_pid $RPID
exec 7>"$T/feed"
login 198.51.100.26 >&7
check "a login on an open stdin is recorded at once" within 1000 in_table 198.51.100.26
exec 7>&-
wait $RPID
check "... and relayd exits 0 when stdin closes" [ $? -eq 0 ]

# stdin beside a file: EOF on stdin stops only that source.
write_conf 30m 5s "source \"-\" { format = \"dovecot\" }  source \"$LOG\" { format = \"dovecot\" }"
: >"$LOG"
login 198.51.100.29 | "$RELAYD" -f -c "$CFG" 2>>"$ERR" &
RPID=$!
track_pid $RPID
check "stdin + file: the stdin login is recorded" wait_for 3 in_table 198.51.100.29
check "stdin + file: stdin's end is logged" wait_for 2 grep -q 'source -: end of input' "$ERR"
login 198.51.100.30 >>"$LOG"
check "stdin + file: after stdin's EOF the file is still followed" within 1000 in_table 198.51.100.30
stop_relayd
check "stdin + file: SIGTERM exits 0" [ $? -eq 0 ]

# FIFO source: relayd creates nothing we need; the writer never blocks.
FIFO=$T/syslog.fifo
mkfifo -m 0600 "$FIFO"
[ "$(id -u)" -eq 0 ] && chown "$RUSER" "$FIFO"
write_conf 30m 5s "source \"fifo:$FIFO\" { format = \"dovecot\" }"
start_relayd || { notok "relayd starts with a FIFO source"; exit 1; }
i=0
while [ $i -lt 2000 ]; do
	login "10.9.$((i / 250)).$((i % 250))"
	i=$((i + 1))
done >"$T/many"
t0=$(ms)
timeout 5 sh -c "cat '$T/many' >'$FIFO'"
rc=$?
check "a writer of 2000 lines to the FIFO finishes (never blocks)" [ $rc -eq 0 ]
echo "# writer took $(($(ms) - t0)) ms"
check "the last FIFO login is recorded" wait_for 3 in_table 10.9.7.249
check "all 2000 FIFO logins are recorded" [ "$("$RELAYD" -c "$CFG" -l | grep -c '^10\.9\.')" -eq 2000 ]
# A writer that opens, writes one line and closes, many times over: the
# reader never sees EOF and keeps going.
login 198.51.100.27 >"$FIFO"
login 198.51.100.28 >"$FIFO"
check "a FIFO reopened by writers keeps being read" within 1000 in_table 198.51.100.28
stop_relayd
check "SIGTERM: exit 0" [ $? -eq 0 ]
check "the FIFO is left in place" [ -p "$FIFO" ]
exit 0
