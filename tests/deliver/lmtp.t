#!/bin/sh
# lmtp.t - `leafmail-deliver -l`, LMTP on stdin/stdout: one session with
# recipients that are accepted, unknown (550 5.1.1), hostile (501 5.1.3,
# a NUL byte among them) and over quota (452 4.2.2 after DATA), each
# accepted recipient getting its own reply after DATA, in order; dot-
# unstuffing and CRLF to LF in the stored message; a per-recipient loop
# (554 5.4.6 for that one only); RSET; command order errors; a second
# transaction in the same session; and input ending inside DATA delivers
# nothing.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/deliver/common.sh"

mailbox "alice@example.org" "full@example.org 1000000S,1C" "carol@example.org"
# fill full@'s one-message quota first
msg_file 0 | "$DELIVER" -c "$CFG" full@example.org >/dev/null

lmtp() { # session text on stdin (LF line ends, turned into CRLF)
	sed 's/$/\r/' | "$DELIVER" -c "$CFG" -l >"$T/replies" 2>&1
	echo $? >"$T/rc"
	# final reply lines only (not the "250-" lines of LHLO)
	tr -d '\r' <"$T/replies" | grep -v '^[0-9][0-9][0-9]-' | cut -c1-3 |
		tr '\n' ' ' | sed 's/ $//'
}

codes=$(printf '%s\n' \
	"LHLO client.example.net" \
	"MAIL FROM:<sender@example.net> BODY=8BITMIME" \
	"RCPT TO:<alice@example.org>" \
	"RCPT TO:<nobody@example.org>" \
	"RCPT TO:<../x@example.org>" \
	"RCPT TO:<Full@Example.org>" \
	"RCPT TO:<carol+tag@example.org>" \
	"DATA" \
	"From: sender@example.net" \
	"Subject: lmtp" \
	"" \
	"..a line that began with a dot" \
	"last line" \
	"." \
	"QUIT" | lmtp)
check "exit 0 after QUIT" [ "$(cat "$T/rc")" -eq 0 ]
want="220 250 250 250 550 501 250 250 354 250 452 250 221"
check "replies: $codes" [ "$codes" = "$want" ]
check "LHLO announces ENHANCEDSTATUSCODES" grep -q '^250-ENHANCEDSTATUSCODES' "$T/replies"
check "per-recipient DATA replies carry each status" sh -c "tr -d '\r' <'$T/replies' | grep -q '^452 4.2.2 <full@example.org>' && tr -d '\r' <'$T/replies' | grep -q '^250 2.0.0 <carol+tag@example.org>'"
check "alice got one message" [ "$(count "$BASE/example.org/alice/new")" -eq 1 ]
check "carol+tag delivered to carol" [ "$(count "$BASE/example.org/carol/new")" -eq 1 ]
check "full still has one" [ "$(count "$BASE/example.org/full/new")" -eq 1 ]
check "no directory for hostile or unknown recipients" [ ! -e "$BASE/x" ] && [ ! -e "$BASE/example.org/nobody" ]
printf 'Return-Path: <sender@example.net>\nDelivered-To: alice@example.org\nFrom: sender@example.net\nSubject: lmtp\n\n.a line that began with a dot\nlast line\n' >"$T/want"
check "stored message: unstuffed, LF line ends, trace headers" cmp -s "$BASE/example.org/alice/new/"* "$T/want"

# Loop for carol only; two transactions; RSET; order errors; NUL.
codes=$(printf '%s\n' \
	"MAIL FROM:<s@x.net>" \
	"LHLO c" \
	"RCPT TO:<alice@example.org>" \
	"MAIL FROM:<s@x.net>" \
	"MAIL FROM:<s@x.net>" \
	"RCPT TO:<alice@example.org>" \
	"RSET" \
	"DATA" \
	"MAIL FROM:<>" \
	"DATA" \
	"RCPT TO:<alice@example.org>" \
	"RCPT TO:<carol@example.org>" \
	"DATA" \
	"Received: from a by b" \
	"Delivered-To: carol@example.org" \
	"" \
	"loop body" \
	"." \
	"NOOP" \
	"BOGUS" \
	"QUIT" | lmtp)
want="220 503 250 503 250 503 250 250 503 250 554 250 250 354 250 554 250 500 221"
check "second session replies: $codes" [ "$codes" = "$want" ]
check "loop reply is 5.4.6 for carol" sh -c "tr -d '\r' <'$T/replies' | grep -q '^554 5.4.6 <carol@example.org>'"
check "alice has two, carol still one" [ "$(count "$BASE/example.org/alice/new")" -eq 2 ] && [ "$(count "$BASE/example.org/carol/new")" -eq 1 ]

# NUL in a recipient, and input ending inside DATA.
codes=$(printf 'LHLO c\nMAIL FROM:<s@x.net>\nRCPT TO:<ali\000ce@example.org>\nRCPT TO:<alice@example.org>\nDATA\nSubject: cut\n\npartial\n' | lmtp)
check "NUL recipient refused, EOF in DATA: $codes" [ "$codes" = "220 250 250 501 250 354" ]
check "NUL refusal names 5.1.3" sh -c "tr -d '\r' <'$T/replies' | grep -q '^501 5.1.3'"
check "nothing delivered from a cut-off DATA" [ "$(count "$BASE/example.org/alice/new")" -eq 2 ]
check "nothing left in tmp/" [ "$(count "$BASE/example.org/alice/tmp")" -eq 0 ]
