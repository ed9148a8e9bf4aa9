#!/bin/sh
# tablefail_catchup.t - the background batch writer (relayd/writer.c,
# flush_async) loses nothing when its write fails: a catch-up of more
# addresses than one batch (WRITER_BATCH, 4096) arrives while the table
# cannot be written; every address is in the table once it can be again,
# and the positions are saved only after that.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$LEAFMAIL_SRC/tests/relayd/common.sh"
N=10000
write_conf 30m
: >"$LOG"
start_relayd || { notok "relayd starts"; exit 1; }
login 198.51.100.41 >>"$LOG"
check "a first login is recorded" within 1000 in_table 198.51.100.41
printf 'not an lmdb file\n' >"$TABLE.lmdb.new"
[ "$(id -u)" -eq 0 ] && chown "$RUSER" "$TABLE.lmdb.new"
mv "$TABLE.lmdb.new" "$TABLE.lmdb"
# N logins from distinct addresses in one append: more than two batches.
ts=$(now_ts)
awk -v n="$N" -v ts="$ts" 'BEGIN { for (i = 0; i < n; i++)
	printf "%s pop3-login: Info: Login: user=<u%d>, method=PLAIN, rip=10.77.%d.%d, lip=127.0.0.1, mpid=1, session=<S%d>\n", ts, i, int(i / 256), i % 256, i }' >"$T/burst"
# One write(2), so that relayd reads the whole burst in one wake-up.
dd if="$T/burst" of="$LOG" bs=4M oflag=append conv=notrunc 2>/dev/null
check "the write error is logged" wait_for 5 grep -q 'retrying' "$ERR"
check "relayd keeps running" kill -0 "$RPID"
check "nothing of the burst is in the (broken) table" not_in_table 10.77.0.0
rm -f "$TABLE.lmdb"
count() { "$RELAYD" -c "$CFG" -l 2>/dev/null | grep -c '^10\.77\.'; }
full() { [ "$(count)" -eq "$N" ]; }
check "after the table is back, all $N addresses are written" wait_for 15 full
check "recovery is logged" grep -q 'written again' "$ERR"
stop_relayd
check "SIGTERM: exit 0" [ $? -eq 0 ]
check "still all $N after exit" full
exit 0
