#!/bin/sh
# table.t - leafmail-relayd -a / -l / -d on the relay table, as Postfix
# reads it; bad addresses exit 65; as root the table is left owned by user.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$LEAFMAIL_SRC/tests/relayd/common.sh"
write_conf 30m

"$RELAYD" -c "$CFG" -l >"$T/out" 2>"$T/err"; rc=$?
check "-l on a missing table: exit 0, nothing listed" [ $rc -eq 0 -a ! -s "$T/out" ]

before=$(date +%s)
"$RELAYD" -c "$CFG" -a 198.51.100.7 2>"$T/err"; rc=$?
after=$(date +%s)
check "-a 198.51.100.7 exits 0" [ $rc -eq 0 ]
check "-a created the table file" [ -f "$TABLE.lmdb" ]
exp=$("$RELAYD" -c "$CFG" -l | sed -n 's/^198\.51\.100\.7 \([0-9]*\)$/\1/p')
check "-l shows it with expiry now + 30m" [ -n "$exp" ] && [ "$exp" -ge $((before + 1800)) ] && [ "$exp" -le $((after + 1800)) ]
if have_postmap; then
	v=$(pmq 198.51.100.7)
	check "postmap reads the entry as the expiry time" [ "$v" = "$exp" ]
fi
if [ "$(id -u)" -eq 0 ]; then
	check "as root, the table file is owned by $RUSER" [ "$(stat -c %U "$TABLE.lmdb")" = "$RUSER" ]
fi

# IPv6 and IPv4-mapped addresses are stored in canonical form.
"$RELAYD" -c "$CFG" -a 2001:DB8:0:0:1:0:0:1 2>/dev/null
"$RELAYD" -c "$CFG" -a ::ffff:203.0.113.9 2>/dev/null
"$RELAYD" -c "$CFG" -l >"$T/out"
check "IPv6 stored in RFC 5952 form" grep -q '^2001:db8::1:0:0:1 ' "$T/out"
check "IPv4-mapped stored as IPv4" grep -q '^203\.0\.113\.9 ' "$T/out"
check "-l lists three entries" [ "$(wc -l <"$T/out")" -eq 3 ]
check "-l output is sorted" sh -c "LC_ALL=C sort -c '$T/out'"

# Refresh: -a again moves the expiry forward (or keeps it).
sleep 1
"$RELAYD" -c "$CFG" -a 198.51.100.7
exp2=$("$RELAYD" -c "$CFG" -l | sed -n 's/^198\.51\.100\.7 \([0-9]*\)$/\1/p')
check "-a refreshes the expiry" [ -n "$exp2" ] && [ "$exp2" -gt "$exp" ]

# Bad input.
"$RELAYD" -c "$CFG" -a 300.1.2.3 2>"$T/err"; rc=$?
check "-a 300.1.2.3 exits 65" [ $rc -eq 65 ]
check "... with a message" grep -q '300.1.2.3' "$T/err"
"$RELAYD" -c "$CFG" -a 'alice' 2>/dev/null
check "-a alice exits 65" [ $? -eq 65 ]
"$RELAYD" -c "$CFG" -d '1.2.3.4/8' 2>/dev/null
check "-d 1.2.3.4/8 exits 65" [ $? -eq 65 ]

# An address in ignore-networks is added when asked, with a warning.
"$RELAYD" -c "$CFG" -a 192.0.2.55 2>"$T/err"; rc=$?
check "-a in ignore-networks: added (exit 0)" [ $rc -eq 0 ] && in_table 192.0.2.55
check "-a in ignore-networks: warns" grep -q 'ignore-networks' "$T/err"

# Delete.
"$RELAYD" -c "$CFG" -d 198.51.100.7 2>"$T/err"; rc=$?
check "-d exits 0" [ $rc -eq 0 ]
check "-d removed it" not_in_table 198.51.100.7
have_postmap && check "-d removed the key itself" not_in_lmdb 198.51.100.7
check "-d left the others" in_table 203.0.113.9
"$RELAYD" -c "$CFG" -d 198.51.100.7 2>"$T/err"; rc=$?
check "-d of an absent address exits 0" [ $rc -eq 0 ]
check "... with a note" grep -q 'not in the relay table' "$T/err"
"$RELAYD" -c "$CFG" -d 2001:db8::1:0:0:1 2>/dev/null
check "-d takes any spelling of an IPv6 address" not_in_table 2001:db8::1:0:0:1

# The table's directory is created when missing (owned by user as root).
sed "s|table = .*|table = \"$T/new/dir/relay\"|" "$CFG" >"$T/newdir.conf"
"$RELAYD" -c "$T/newdir.conf" -a 198.51.100.8 2>"$T/err"; rc=$?
check "-a creates a missing table directory" [ $rc -eq 0 -a -f "$T/new/dir/relay.lmdb" ]
if [ "$(id -u)" -eq 0 ]; then
	check "... owned by $RUSER" [ "$(stat -c %U "$T/new/dir")" = "$RUSER" ]
fi

# A table that is not an LMDB file: I/O error, exit 75.
printf 'this is not lmdb\n' >"$T/bad.lmdb"
sed "s|table = .*|table = \"$T/bad\"|" "$CFG" >"$T/bad.conf"
"$RELAYD" -c "$T/bad.conf" -l >/dev/null 2>"$T/err"; rc=$?
check "-l on a corrupt table exits 75" [ $rc -eq 75 ]
"$RELAYD" -c "$T/bad.conf" -a 198.51.100.9 >/dev/null 2>"$T/err"; rc=$?
check "-a on a corrupt table exits 75" [ $rc -eq 75 ]
exit 0
