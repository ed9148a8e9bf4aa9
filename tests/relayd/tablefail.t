#!/bin/sh
# tablefail.t - a relay table that cannot be written (here: replaced by a
# file that is not LMDB) loses nothing: relayd logs the error, keeps the
# logins, retries with a growing delay, and writes them once the table is
# usable again (a missing table is recreated).
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$LEAFMAIL_SRC/tests/relayd/common.sh"
write_conf 30m
: >"$LOG"
start_relayd || { notok "relayd starts"; exit 1; }
login 198.51.100.41 >>"$LOG"
check "a first login is recorded" within 1000 in_table 198.51.100.41

printf 'not an lmdb file\n' >"$TABLE.lmdb.new"
[ "$(id -u)" -eq 0 ] && chown "$RUSER" "$TABLE.lmdb.new"
mv "$TABLE.lmdb.new" "$TABLE.lmdb"
login 198.51.100.42 >>"$LOG"
check "the write error is logged" wait_for 3 grep -q 'retrying' "$ERR"
check "relayd keeps running" kill -0 "$RPID"
login 198.51.100.43 >>"$LOG"
sleep 0.5
rm -f "$TABLE.lmdb"
check "after the table is back, the kept logins are written" wait_for 8 in_table 198.51.100.42
check "... all of them" in_table 198.51.100.43
check "recovery is logged" grep -q 'written again' "$ERR"
login 198.51.100.44 >>"$LOG"
check "and new logins go in at once again" within 1000 in_table 198.51.100.44
stop_relayd
check "SIGTERM: exit 0" [ $? -eq 0 ]
exit 0
