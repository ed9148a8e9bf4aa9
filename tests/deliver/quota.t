#!/bin/sh
# quota.t - Maildir++ quota through the real binary: the count limit and
# the size limit, over quota => 4.2.2 exit 75 (quota-action "tempfail",
# the default) or 5.2.2 exit 69 ("bounce") with nothing delivered;
# maildirsize holds the definition line and one line per delivery; a
# missing maildirsize is rebuilt from the messages (",S=" sizes), and a
# changed quota rewrites the definition line.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/deliver/common.sh"

mailbox "count@example.org 1000000S,3C" "size@example.org 600S"
msg_file 1 >"$T/m"
sz=$(( $(wc -c <"$T/m") + $(printf 'Return-Path: <s@x.net>\nDelivered-To: size@example.org\n' | wc -c) ))

for i in 1 2 3; do
	dl -f s@x.net count@example.org <"$T/m"
	expect "count quota: message $i fits" 0 "2.0.0"
done
dl -f s@x.net count@example.org <"$T/m"
expect "count quota: 4th over, 4.2.2 exit 75" 75 "4.2.2"
CD=$BASE/example.org/count
check "count quota: 3 messages in new/" [ "$(count "$CD/new")" -eq 3 ]
check "count quota: tmp/ empty" [ "$(count "$CD/tmp")" -eq 0 ]
check "maildirsize definition line" [ "$(head -1 "$CD/maildirsize")" = "1000000S,3C" ]
total=$(cat "$CD"/new/* | wc -c)
sum=$(awk 'NR > 1 { b += $1; c += $2 } END { print b, c }' "$CD/maildirsize")
check "maildirsize sums to the messages ($sum, $total 3)" [ "$sum" = "$total 3" ]

# Size limit: 600 bytes; each message is $sz bytes.
fit=$((600 / sz))
i=0
while [ $i -lt "$fit" ]; do
	dl -f s@x.net size@example.org <"$T/m"
	expect "size quota: message $((i + 1)) of $sz bytes fits" 0 "2.0.0"
	i=$((i + 1))
done
dl -f s@x.net size@example.org <"$T/m"
expect "size quota: next one over, 4.2.2" 75 "4.2.2"
check "size quota: $fit messages in new/" [ "$(count "$BASE/example.org/size/new")" -eq "$fit" ]

# quota-action bounce.
write_conf 'quota-action = "bounce"'
dl -f s@x.net size@example.org <"$T/m"
expect "quota-action bounce: 5.2.2 exit 69" 69 "5.2.2"
check "bounce: nothing delivered" [ "$(count "$BASE/example.org/size/new")" -eq "$fit" ]

# The user deletes a message (moved out, maildirsize not told) and the
# file goes missing: the next delivery recounts from the names and fits.
rm -f "$(find "$CD/new" -type f | head -1)"
rm -f "$CD/maildirsize"
dl -f s@x.net count@example.org <"$T/m"
expect "after a recount there is room again" 0 "2.0.0"
check "recount: 2 + this one in the file" [ "$(awk 'NR > 1 { c += $2 } END { print c }' "$CD/maildirsize")" = 3 ]

# Quota raised in the mailboxes file: definition line rewritten.
sed -i 's/^count@example.org .*/count@example.org 1000000S,5C/' "$MBOX"
dl -f s@x.net count@example.org <"$T/m"
expect "raised count quota: fits" 0 "2.0.0"
check "definition line follows the new quota" [ "$(head -1 "$CD/maildirsize")" = "1000000S,5C" ]
check "usage kept across the rewrite" [ "$(awk 'NR > 1 { c += $2 } END { print c }' "$CD/maildirsize")" = 4 ]
