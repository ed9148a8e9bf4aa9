#!/bin/sh
# sweep.t - expired entries are deleted from the LMDB file within seconds
# (Postfix never looks at the expiry), unexpired ones are kept, -l never
# lists an expired entry even before the sweep, and relayd sweeps at start
# before anything else.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$LEAFMAIL_SRC/tests/relayd/common.sh"
have_postmap || skip_all "postmap with lmdb support is needed"
write_conf 2s 1s
: >"$LOG"
start_relayd || { notok "relayd starts"; exit 1; }
"$RELAYD" -c "$CFG" -a 198.51.100.31 2>/dev/null
login 198.51.100.32 >>"$LOG"
check "a login with expire 2s is recorded" within 1000 in_lmdb 198.51.100.32
check "an -a entry is in the file" in_lmdb 198.51.100.31
# A long-lived entry written straight into the table: not swept.
sed 's/expire = "2s"/expire = "1h"/' "$CFG" >"$T/long.conf"
"$RELAYD" -c "$T/long.conf" -a 198.51.100.33 2>/dev/null
t0=$(ms)
wait_for 6 not_in_lmdb 198.51.100.32
check "the expired login is deleted from the file within 4 s ($(($(ms) - t0)) ms)" [ $(($(ms) - t0)) -le 4000 ] && not_in_lmdb 198.51.100.32
check "the expired -a entry is deleted too" wait_for 2 not_in_lmdb 198.51.100.31
check "an unexpired entry is kept" in_lmdb 198.51.100.33
check "the sweep is logged" grep -q 'sweep: .* deleted' "$ERR"
stop_relayd
check "SIGTERM: exit 0" [ $? -eq 0 ]

# -l hides an expired entry that no sweep has removed yet.
"$RELAYD" -c "$CFG" -a 198.51.100.34 2>/dev/null
sleep 3
check "the expired entry is still in the file (no daemon)" in_lmdb 198.51.100.34
check "-l does not list it" not_in_table 198.51.100.34

# The table is swept at start, before anything else: an entry that
# expired while relayd was down does not wait for the first tick (an hour
# here), since Postfix reading the table itself never looks at the time.
"$RELAYD" -c "$CFG" -a 198.51.100.35 2>/dev/null
sed 's/sweep-interval = "1s"/sweep-interval = "1h"/' "$CFG" >"$T/hour.conf"
sleep 3
check "an entry that expired while relayd was down is in the file" in_lmdb 198.51.100.35
CFG=$T/hour.conf
start_relayd || notok "relayd starts (sweep-interval 1h)"
check "the expired entry is gone right after the start" wait_for 2 not_in_lmdb 198.51.100.35
stop_relayd
exit 0
