#!/bin/sh
# postfix.t - a private Postfix with relayhost = [127.0.0.1]:LISTEN, i.e.
# leafmail-tunneld, in front of a private sshd and the harness's sink:
# mail is relayed through the tunnel; with sshd down the delivery is
# deferred with tunneld's 421 (not left hanging), and once sshd is back
# the queued mail goes out.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/tunneld/common.sh"
[ -f "$S/tests/harness/postfix.sh" ] || skip_all "tests/harness/postfix.sh missing"
. "$S/tests/harness/postfix.sh"
tn_require
for p in postfix postqueue swaks; do
	command -v "$p" >/dev/null || skip_all "$p not installed"
done
tn_keys || { notok "test keys"; exit 1; }
tn_sshd_start || { notok "private sshd starts"; exit 1; }
SMTP=$(free_port)
pf_start "$T/pf" "$SMTP" tunnelclient "relayhost = [127.0.0.1]:$LISTEN_PORT" ||
	{ notok "private postfix starts"; exit 1; }
SINK_PORT=$(cat "$T/pf/sinkport")
tn_conf "$T/p.conf" 'idle = "2s"' 'idle-jitter = "1s"'
tn_start "$T/p.conf" || { notok "tunneld starts"; exit 1; }

for i in 1 2 3; do
	r=$(pf_send "$SMTP" 127.0.0.1 "user$i@example.net")
	case $r in 250*) ;; *) notok "postfix accepts message $i: $r" ;; esac
done
check "3 messages relayed through the tunnel to the sink" wait_for 30 sh -c "[ \$(find '$T/pf/sink' -type f -name 'm.*' | wc -l) -ge 3 ]"
check "postfix logged status=sent via 127.0.0.1[127.0.0.1]:$LISTEN_PORT" grep -q "relay=127.0.0.1\[127.0.0.1\]:$LISTEN_PORT.*status=sent" "$T/pf/maillog"
check "tunnel goes idle afterwards" wait_for 6 tn_ssh_gone

# sshd down: ssh cannot log in, Postfix hears 421 and defers.
kill "$SSHD_PID"
wait "$SSHD_PID" 2>/dev/null
r=$(pf_send "$SMTP" 127.0.0.1 "later@example.net")
case $r in 250*) ok "postfix queues a message while sshd is down" ;; *) notok "queue while sshd down: $r" ;; esac
check "postfix defers with tunneld's 421" wait_for 20 grep -q 'status=deferred.*421 4.4.2 smarthost tunnel unavailable' "$T/pf/maillog"

# sshd back: the deferred message goes out on a retry.
tn_sshd_start || notok "sshd restarts"
postqueue -c "$T/pf/etc" -f >/dev/null 2>&1
check "deferred message delivered once sshd is back" wait_for 60 sh -c "[ \$(find '$T/pf/sink' -type f -name 'm.*' | wc -l) -ge 4 ]"
grep -q 'Sanitizer\|runtime error' "$T/tunneld.log" && notok "sanitizer report"
exit 0
