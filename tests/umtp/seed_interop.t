#!/bin/sh
# seed_interop.t - protocol 1 against the seed's own code
# (tests/umtp/umtp-seed.pl): our `umtp send` to the Perl receiver, the
# Perl sender to our `umtp receive`, and the message each side delivers
# compared byte for byte with what Perl-to-Perl delivers.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/umtp/common.sh"

H=$T/home
mkdir -p "$H/.umtp"
mkkey p1 "an old shared secret"
cp "$T/keys/p1" "$H/.umtp/secret"
PPORT=$(udp_port)

# The Perl receiver daemonises; its pid is in ~/.umtp/pid.HOST.
HOME=$H perl "$SEED" receive 127.0.0.1 "$PPORT"
wait_for 10 grep -q 'listening on' "$H/.umtp/log" || notok "perl receiver starts"
ppid=$(cat "$H"/.umtp/pid.* 2>/dev/null)
[ -n "$ppid" ] && track_pid "$ppid"
inbox=$H/.umtp/inbox

# 1. Perl -> Perl: the reference.
HOME=$H perl "$SEED" send 127.0.0.1 "$PPORT" bob@example.net <"$MSG"
check "perl sender to perl receiver (reference)" wait_for 10 test -f "$inbox/1.msg"
cp "$inbox/1.msg" "$T/ref.msg"

# 2. ours -> Perl, protocol 1 chosen by the peer whose title is the domain.
write_conf "sendmail:$CAPTURE" "
  peer \"example.net\" {
    address = \"127.0.0.1:$PPORT\"
    key-file = \"$T/keys/p1\"
    protocol = 1
  }"
"$UMTP" send -c "$CFG" 127.0.0.1 "$PPORT" bob@example.net <"$MSG" 2>"$T/send.err"
check "umtp send (protocol 1) exits 0" test $? -eq 0
check "perl receiver accepts our packet" wait_for 10 test -f "$inbox/2.msg"
check "perl receiver logs no bogus packet" sh -c "! grep -q bogus '$H/.umtp/log'"
check "recipient as sent" grep -qx bob@example.net "$inbox/2.rcpt"
check "message identical to perl-to-perl" cmp -s "$T/ref.msg" "$inbox/2.msg"
check "X-Via: umtp first, Received: stripped, body kept" sh -c "
	head -1 '$inbox/2.msg' | grep -qx 'X-Via: umtp' &&
	! grep -q 'by b[.]example' '$inbox/2.msg' && ! grep -q '^From alice' '$inbox/2.msg' &&
	grep -q '^Received: this body line stays' '$inbox/2.msg'"
# Two recipients: protocol 1 carries one, so two datagrams.
"$UMTP" send -c "$CFG" 127.0.0.1 "$PPORT" bob@example.net carol@example.net <"$MSG"
check "two recipients, two protocol 1 datagrams" wait_for 10 test -f "$inbox/4.msg"
check "second recipient" sh -c "cat '$inbox/3.rcpt' '$inbox/4.rcpt' | grep -qx carol@example.net"
# A wrong secret: the Perl receiver refuses (the digest covers the secret).
mkkey wrong "not the secret"
sed "s#$T/keys/p1#$T/keys/wrong#" "$CFG" >"$T/wrong.conf"
"$UMTP" send -c "$T/wrong.conf" 127.0.0.1 "$PPORT" bob@example.net <"$MSG"
check "perl receiver refuses a wrong secret" wait_for 10 grep -q 'digest in packet does not match' "$H/.umtp/log"
check "nothing delivered for it" test ! -f "$inbox/5.msg"

# 3. Perl -> ours: a protocol 1 peer at the datagram's source address.
write_conf "sendmail:$CAPTURE" "
  peer \"example.net\" {
    address = \"127.0.0.1:2526\"
    key-file = \"$T/keys/p1\"
    protocol = 1
  }"
start_receive || notok "umtp receive starts"
HOME=$H perl "$SEED" send 127.0.0.1 "$PORT" bob@example.net <"$MSG"
check "umtp receive accepts the seed's packet" wait_log 'accepted datagram from 127.0.0.1'
check "and injects it" wait_for 10 sh -c "[ \$(ls '$CAP' | grep -c '\.msg\$') -ge 1 ]"
m=$(ls "$CAP"/*.msg | head -1)
a=${m%.msg}.argv
check "sendmail argv: -oi -- RCPT, no shell, no -f for protocol 1" \
	sh -c "[ \"\$(cat '$a' | tr '\n' ' ')\" = '-oi -- bob@example.net ' ]"
check "injected message identical to perl-to-perl" cmp -s "$T/ref.msg" "$m"
# A seed packet whose recipient is a shell command: refused as a bad field.
HOME=$H perl "$SEED" send 127.0.0.1 "$PORT" 'bob@example.net;touch /tmp/pwned' <"$MSG"
check "shell metacharacters in a recipient refused" wait_log 'bad address' 1
check "nothing more injected" test "$(captured)" -eq 1
kill "$RPID"
check "umtp receive exits on SIGTERM" wait_for 10 sh -c "! kill -0 $RPID"
no_sanitizer_reports
