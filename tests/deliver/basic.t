#!/bin/sh
# basic.t - leafmail-deliver in pipe mode, the real binary: a delivery
# lands whole in <base>/<domain>/<user>/new with Return-Path and
# Delivered-To on top (not twice when the MTA put them there), owned by
# `user` when started as root; +extension and case folding; several
# recipients; unknown user/domain 5.1.1 exit 67; hostile recipients
# refused 5.1.3 exit 65 with nothing created; loop 5.4.6; bad sender;
# usage 64; configuration 78; lookup file missing 4.3.0 exit 75.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/deliver/common.sh"

mailbox "alice@example.org" "Bob@Example.ORG" "carol@example.org - other/carol" "@empty.org"
NEW=$BASE/example.org/alice/new

msg_file 1 >"$T/m1"
dl -f sender@example.net alice@example.org <"$T/m1"
expect "delivered: 2.0.0, exit 0" 0 "2.0.0"
check "one file in alice/new" [ "$(count "$NEW")" -eq 1 ]
f=$(find "$NEW" -type f | head -1)
{ printf 'Return-Path: <sender@example.net>\nDelivered-To: alice@example.org\n'; cat "$T/m1"; } >"$T/want1"
check "content complete, trace headers on top" cmp -s "$f" "$T/want1"
size=$(wc -c <"$f")
case $(basename "$f") in
*",S=$size") ok "unique name ends in ,S=<size>" ;;
*) notok "unique name $(basename "$f") lacks ,S=$size" ;;
esac
check "name has the <sec>.M<usec>P<pid>Q<n>.<host> shape" \
	sh -c "basename '$f' | grep -Eq '^[0-9]+\.M[0-9]{6}P[0-9]+Q[0-9]+\.[^/:]+,S=[0-9]+\$'"
check "tmp/ is empty" [ "$(count "$BASE/example.org/alice/tmp")" -eq 0 ]
check "cur/ exists" [ -d "$BASE/example.org/alice/cur" ]
check "maildir is 0700" [ "$(stat -c %a "$BASE/example.org/alice")" = 700 ]
if [ "$(id -u)" -eq 0 ]; then
	check "file owned by $RUSER" [ "$(stat -c %U "$f")" = "$RUSER" ]
fi

# Postfix pipe flags DR: Return-Path and Delivered-To already on top.
{ printf 'Return-Path: <s@x.net>\nDelivered-To: alice@example.org\n'; cat "$T/m1"; } >"$T/m2"
dl -f s@x.net alice@example.org <"$T/m2"
expect "MTA trace headers: delivered" 0 "2.0.0"
f=$(ls -t "$NEW" | head -1)
check "no second Return-Path/Delivered-To" cmp -s "$NEW/$f" "$T/m2"

# Extension, case folding, empty sender (a bounce).
dl -f "" ALICE+Lists@EXAMPLE.org <"$T/m1"
expect "user+ext in upper case: delivered" 0 "2.0.0"
f=$(ls -t "$NEW" | head -1)
check "Return-Path: <> for the null sender" grep -qx 'Return-Path: <>' "$NEW/$f"
check "Delivered-To keeps the folded extension" grep -qx 'Delivered-To: alice+lists@example.org' "$NEW/$f"
check "three messages for alice" [ "$(count "$NEW")" -eq 3 ]
dl bob@example.org <"$T/m1"
expect "file entry in mixed case matches" 0 "2.0.0"
check "bob's maildir under the folded name" [ "$(count "$BASE/example.org/bob/new")" -eq 1 ]
dl carol@example.org <"$T/m1"
expect "maildir-path from the file" 0 "2.0.0"
check "carol's mail in other/carol" [ "$(count "$BASE/other/carol/new")" -eq 1 ]

# Several recipients, one message read once.
dl -f s@x.net alice@example.org bob@example.org <"$T/m1"
expect "two recipients: delivered" 0 "2.0.0"
check "alice 4, bob 2" [ "$(count "$NEW")" -eq 4 ] && [ "$(count "$BASE/example.org/bob/new")" -eq 2 ]

# Unknown.
dl nobody@example.org <"$T/m1"
expect "unknown user: 5.1.1 exit 67" 67 "5.1.1"
dl x@empty.org <"$T/m1"
expect "known domain without that user: 5.1.1 exit 67" 67 "5.1.1"
dl alice@example.com <"$T/m1"
expect "unknown domain: 5.1.1 exit 67" 67 "5.1.1"
dl alice@example.org nobody@example.org <"$T/m1"
expect "mixed recipients: the failure decides" 67 "5.1.1"
check "... and the known one got it" [ "$(count "$NEW")" -eq 5 ]
check "no directory for unknown users" [ ! -e "$BASE/example.org/nobody" ] && [ ! -e "$BASE/example.com" ]

# Hostile recipients: nothing written anywhere.
before=$(find "$T" | wc -l)
for r in "../x@example.org" "a/b@example.org" ".x@example.org" "..@example.org" \
	"x@../example.org" "x@example.org/.." "alice@example.org/../../x" \
	"$(printf 'a\nb@example.org')" "$(printf 'al\tice@example.org')" \
	"$(printf 'a\033b@example.org')" "alice+../../x@example.org" "noat"; do
	dl "$r" <"$T/m1"
	expect "hostile recipient refused: $(printf '%s' "$r" | tr -c 'a-z0-9@./+' '?')" 65 "5.1.3"
done
check "nothing created by hostile recipients" [ "$(find "$T" | wc -l)" -eq "$before" ]

# Loop: Delivered-To for this recipient below the top.
{ printf 'Received: from a by b\nDelivered-To: Alice@example.org\n'; cat "$T/m1"; } >"$T/loop"
dl alice@example.org <"$T/loop"
expect "mail loop: 5.4.6" 65 "5.4.6"
check "loop: nothing delivered" [ "$(count "$NEW")" -eq 5 ]
{ printf 'Received: from a by b\nDelivered-To: bob@example.org\n'; cat "$T/m1"; } >"$T/other"
dl alice@example.org <"$T/other"
expect "Delivered-To for someone else: delivered" 0 "2.0.0"

# Sender and usage.
dl -f "$(printf 'x@y\nBcc: z@w')" alice@example.org <"$T/m1"
expect "sender with a newline: 5.1.7 exit 65" 65 "5.1.7"
dl -a "$(printf 'o\rx@y')" alice@example.org <"$T/m1"
expect "original recipient with CR: exit 65" 65 "5.1.3"
dl <"$T/m1"
expect "no recipient: usage, exit 64" 64 "5.3.0"
dl -Z x@y <"$T/m1"
expect "unknown option: exit 64" 64 "5.3.0"
check "-V prints the version" sh -c "'$DELIVER' -V | grep -q '^leafmail-deliver '"

# Configuration and lookup failures are temporary.
out=$("$DELIVER" -c "$T/nonexistent.conf" alice@example.org <"$T/m1" 2>&1); rc=$?
expect "missing configuration: 4.3.5 exit 78" 78 "4.3.5"
printf 'deliver {\n  bogus-key = 1\n}\n' >"$T/bad.conf"
out=$("$DELIVER" -c "$T/bad.conf" alice@example.org <"$T/m1" 2>&1); rc=$?
expect "bad configuration: 4.3.5 exit 78" 78 "4.3.5"
if [ "$(id -u)" -eq 0 ]; then
	write_conf
	sed -i 's/^user = .*/user = "no-such-user-leafmail"/' "$CFG"
	dl alice@example.org <"$T/m1"
	expect "missing user as root: exit 78" 78 "4.3.5"
	write_conf
fi
mv "$MBOX" "$MBOX.away"
dl alice@example.org <"$T/m1"
expect "mailboxes file missing: 4.3.0 exit 75" 75 "4.3.0"
mv "$MBOX.away" "$MBOX"
echo "eve@example.org - ../../escape" >>"$MBOX"
dl eve@example.org <"$T/m1"
expect "maildir-path leaving base: 4.3.5 exit 78" 78 "4.3.5"
check "nothing escaped base" [ ! -e "$T/../escape" ]
