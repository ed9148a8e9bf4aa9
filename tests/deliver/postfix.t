#!/bin/sh
# postfix.t - a private Postfix (tests/harness/postfix.sh) delivering
# hosted-domain mail through leafmail-deliver as a pipe(8) transport with
# flags=DRhu, as contrib/postfix/master.cf.deliver says: a message lands in
# the Maildir with exactly one Return-Path and one Delivered-To (Postfix's)
# and Postfix's Received line, the recipient folded; an unknown user is
# bounced with 5.1.1, a full mailbox deferred with 4.2.2, a looping message
# bounced with 5.4.6 -- each status taken by Postfix from our output
# (pipe(8) logs the code as dsn= and the rest of our line as the reason).
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/deliver/common.sh"

[ "$(id -u)" -eq 0 ] || skip_all "a private Postfix needs root"
command -v postfix >/dev/null && command -v swaks >/dev/null ||
	skip_all "postfix or swaks missing"
[ -f "$S/tests/harness/postfix.sh" ] || skip_all "tests/harness/postfix.sh missing"
. "$S/tests/harness/postfix.sh"

mailbox "alice@example.org" "full@example.org 1000000S,1C"
msg_file 0 | "$DELIVER" -c "$CFG" full@example.org >/dev/null
PF=$T/pf
PORT=$(free_port)
[ -n "$PORT" ] || skip_all "no free port"
pf_start "$PF" "$PORT" deliver-v \
	"virtual_mailbox_domains = example.org" \
	"virtual_mailbox_maps = static:OK" \
	"virtual_transport = leafmail" \
	"leafmail_destination_recipient_limit = 1" ||
	skip_all "private Postfix did not start"
cat >>"$PF/etc/master.cf" <<PFLINES
leafmail  unix  -       n       n       -       -       pipe
  flags=DRhu user=$RUSER argv=$DELIVER -c $CFG
  -f \${sender} -a \${original_recipient} \${recipient}
PFLINES
postfix -c "$PF/etc" reload >/dev/null 2>&1

send() { # RCPT [swaks args...]
	_r=$1; shift
	swaks --server 127.0.0.1 --port "$PORT" --helo client.leafmail.test \
		--from sender@client.test --to "$_r" --timeout 10 "$@" \
		</dev/null >"$T/swaks.log" 2>&1
}
logged() { pf_log "$PF" | grep -qi "$1"; }

check "message to Alice@Example.ORG accepted" send Alice@Example.ORG --header "Subject: via postfix" --body "hello through pipe"
AN=$BASE/example.org/alice/new
check "delivered into example.org/alice/new" wait_for 20 sh -c "[ \$(ls '$AN' 2>/dev/null | wc -l) -eq 1 ]"
f=$(find "$AN" -type f | head -1)
check "exactly one Return-Path, first line" sh -c "head -1 '$f' | grep -qx 'Return-Path: <sender@client.test>' && [ \$(grep -c '^Return-Path:' '$f') -eq 1 ]"
# Postfix writes Delivered-To with the recipient as received (flag D);
# we compare without case and add no second one.
check "exactly one Delivered-To, Postfix's" sh -c "[ \$(grep -c '^Delivered-To:' '$f') -eq 1 ] && grep -qix 'Delivered-To: alice@example.org' '$f'"
check "Postfix's Received line and our body" sh -c "grep -q '^Received: from client.leafmail.test' '$f' && grep -qx 'hello through pipe' '$f'"
check "Postfix logged status=sent via leafmail" wait_for 10 logged "to=<alice@example.org>.*relay=leafmail.*status=sent"

send nobody@example.org
check "unknown user: bounced with our 5.1.1" wait_for 20 logged "to=<nobody@example.org>.*dsn=5.1.1, status=bounced (<nobody@example.org>: unknown user"

send full@example.org
check "full mailbox: deferred with our 4.2.2" wait_for 20 logged "to=<full@example.org>.*dsn=4.2.2, status=deferred (<full@example.org>: mailbox full"
check "full mailbox: still one message" [ "$(count "$BASE/example.org/full/new")" -eq 1 ]

send alice@example.org --add-header "Delivered-To: alice@example.org" --header "Subject: loop"
# With flag D pipe(8) itself looks for the loop before running us, so
# either of us may be the one to say 5.4.6 (lmtp.t and basic.t test ours).
check "looping message: bounced with 5.4.6" wait_for 20 logged "to=<alice@example.org>.*dsn=5.4.6, status=bounced"
check "loop: alice still has one message" [ "$(count "$AN")" -eq 1 ]
