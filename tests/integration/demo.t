# demo.t - the README's main-job command (make demo = tests/demo.sh) runs
# to the end with every step as expected, and leaves no process behind.
# Only in the normal pass: the demo is the product as a user runs it.
. "$LEAFMAIL_SRC/tests/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "the demo needs root"
[ "${LEAFMAIL_SAN:-0}" = 1 ] && skip_all "runs in the normal pass only"
for p in postfix dovecot swaks curl sshd smtp-sink; do
	command -v "$p" >/dev/null 2>&1 || [ -x "/usr/sbin/$p" ] || skip_all "$p missing"
done
D=$T/demo
LEAFMAIL_DEMO_DIR=$D timeout 240 sh "$S/tests/demo.sh" >"$T/demo.out" 2>&1
rc=$?
check "demo exits 0 ($rc)" [ "$rc" -eq 0 ]
check "demo: every step went as expected" grep -qx "demo: every step went as expected" "$T/demo.out"
check "demo: relay refused before the login" grep -q "before login: 550 5.7.1" "$T/demo.out"
check "demo: relay allowed after the POP3 login" grep -q "after login: 250 2.1.5" "$T/demo.out"
check "demo: the relayed message crossed the SSH tunnel" grep -q "tunneld.log: .*ready after" "$T/demo.out"
check "demo: Dovecot serves bob's message over IMAP" grep -q "over IMAP to bob: Subject: leafmail demo for bob" "$T/demo.out"
check "demo: the UMTP message landed exactly once" grep -q "carol's Maildir holds exactly one copy" "$T/demo.out"
[ "$rc" -eq 0 ] || sed 's/^/# /' "$T/demo.out" | tail -40
# nothing the demo started is still running (its processes all name $D;
# the [d] keeps pgrep from matching this check's own command line)
left=$(pgrep -af -- "$T/[d]emo/")
check "demo: no process left behind${left:+: $left}" [ -z "$left" ]
