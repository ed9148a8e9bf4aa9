#!/bin/sh
# diskfull.t - delivery onto a full file system: maildir-base on a 64 KiB
# tmpfs, 6 KiB messages delivered until one fails.  The failure must be
# exit 75 with a 4.x status (4.3.1, mail system full), no partial file in
# new/ (every file there is a complete message), nothing left in tmp/;
# and once space is freed, delivery works again.  Needs root to mount
# (skipped otherwise); unmounts what it mounted.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/deliver/common.sh"

[ "$(id -u)" -eq 0 ] || skip_all "mounting a tmpfs needs root"
FULL=$T/full
mkdir -p "$FULL"
mount -t tmpfs -o size=64k,mode=0755 tmpfs "$FULL" 2>/dev/null ||
	skip_all "cannot mount a tmpfs here"
at_exit "umount '$FULL' 2>/dev/null || umount -l '$FULL'"
chown "$RUSER" "$FULL"
BASE=$FULL
write_conf
mailbox "full@example.org"
MD=$FULL/example.org/full

# A 6 KiB message: headers and 100 numbered lines of 60 characters.
{
	printf 'From: s@example.net\nSubject: big\n\n'
	i=1
	while [ $i -le 100 ]; do printf 'line %03d ........................................................\n' $i; i=$((i + 1)); done
} >"$T/big"

n=0 last=0
while [ $n -lt 40 ]; do
	dl -f s@example.net full@example.org <"$T/big"
	[ "$rc" -ne 0 ] && break
	n=$((n + 1))
done
check "some deliveries fitted ($n)" [ "$n" -ge 1 ]
expect "full disk: temporary failure, exit 75" 75 "4."
case $out in 4.3.1*) ok "status 4.3.1 (mail system full)" ;; *) notok "status $out" ;; esac
check "new/ holds exactly the $n delivered messages" [ "$(count "$MD/new")" -eq "$n" ]
{ printf 'Return-Path: <s@example.net>\nDelivered-To: full@example.org\n'; cat "$T/big"; } >"$T/want"
bad=0
for f in "$MD"/new/*; do cmp -s "$f" "$T/want" || bad=$((bad + 1)); done
check "no partial file in new/" [ "$bad" -eq 0 ]
check "nothing left in tmp/" [ "$(count "$MD/tmp")" -eq 0 ]

# Again, to be sure a second failure also cleans up.
dl -f s@example.net full@example.org <"$T/big"
expect "still full: exit 75" 75 "4."
check "still nothing in tmp/" [ "$(count "$MD/tmp")" -eq 0 ]

# Free room: delivery resumes.
rm -f "$(find "$MD/new" -type f | head -1)"
dl -f s@example.net full@example.org <"$T/big"
expect "after freeing space: delivered" 0 "2.0.0"
