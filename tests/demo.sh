#!/bin/sh
# demo.sh - leafmail's main job, live: relay by POP3 login, relayed mail
# through an on-demand SSH tunnel, hosted-domain mail into Maildirs.
#
#   sh tests/demo.sh [--keep]        (`make demo` builds, then runs this)
#
# Brings up, on loopback only and under ./demo/ in the source tree, a
# private Postfix (with leafmail-milter as its relay gate), a private
# Dovecot (POP3/IMAP, users alice/alicepw and bob/bobpw of the hosted
# domain example.org), leafmail-relayd following Dovecot's log,
# leafmail-milter, a private sshd standing for the provider's SSH host
# with an smtp-sink as the smarthost behind it, and leafmail-tunneld where
# Postfix's relayhost points.  Then it shows: relaying from 127.0.0.2
# refused; a real POP3 login as alice from 127.0.0.2; relaying from
# 127.0.0.2 accepted, and the relayed message leaving through the SSH
# tunnel that tunneld opened for it; the relay table; mail for
# bob@example.org delivered by leafmail-deliver into
# ./demo/vhosts/example.org/bob/ and read back over IMAP; a message to a
# partner site (a second private Postfix with its own milter and `umtp
# receive`) crossing in one UMTP datagram while Postfix still delivers the
# SMTP copy, and landing exactly once.  It stops everything
# it started and exits 0 when every step went as expected (1 if not).
# With --keep it leaves the servers running and prints how to use and
# stop them.  Nothing outside ./demo is touched, except that the system
# user "leafmail" (the daemons' unprivileged user) is created if missing.
#
# Needs root (Postfix and Dovecot instances, privilege drop): exit 69
# otherwise.  Programs come from build/ (or LEAFMAIL_BUILD).
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
keep=0
case ${1:-} in
--keep) keep=1 ;;
"") ;;
*) echo "usage: sh tests/demo.sh [--keep]" >&2; exit 64 ;;
esac
if [ "$(id -u)" != 0 ]; then
	echo "demo: needs root: it starts private Postfix and Dovecot instances" \
		"and daemons that switch to the user leafmail (try: sudo make demo)" >&2
	exit 69
fi
build=${LEAFMAIL_BUILD:-$src/build}
for p in leafmail-relayd leafmail-milter leafmail-tunneld leafmail-deliver umtp; do
	if [ ! -x "$build/$p" ]; then
		echo "demo: $build/$p is missing: run make first" >&2
		exit 69
	fi
done
for p in postfix dovecot doveadm swaks curl python3 ssh ssh-keygen /usr/sbin/sshd smtp-sink; do
	if ! command -v "$p" >/dev/null 2>&1; then
		echo "demo: $p is not installed: run make deps" >&2
		exit 69
	fi
done

# LEAFMAIL_DEMO_DIR: where to put it instead (tests/integration/demo.t)
demo=${LEAFMAIL_DEMO_DIR:-$src/demo}
# An earlier run may have put the demo in /var/tmp (below) behind a link.
if [ -L "$demo" ]; then
	old=$(readlink "$demo")
	case $old in /var/tmp/leafmail-demo.*) ;; *) old= ;; esac
	rm -f "$demo"
	[ -n "$old" ] && [ -d "$old" ] && mv "$old" "$demo.old.$$" 2>/dev/null && old=$demo.old.$$
else
	old=
fi
for d in "$demo" ${old:+"$old"}; do
	# an earlier --keep run may still be up
	[ -f "$d/stop.sh" ] && sh "$d/stop.sh" >/dev/null 2>&1
	# Under a long path the harnesses put Postfix's queue and Dovecot's
	# base_dir in short /tmp/lm* directories that ./demo links to.
	[ -d "$d" ] && find "$d" -type l -lname '/tmp/lm*' -exec sh -c 'rm -rf "$(readlink "$1")"' sh {} \;
	rm -rf "$d"
done
mkdir -p "$demo"
# The daemons run as leafmail, Postfix's pipe(8) runs leafmail-deliver as
# nobody: both must reach the demo's files and the programs.  A checkout
# under /root (mode 0700, a newcomer's usual place) is out of their
# reach; then the demo lives in /var/tmp and ./demo is a link to it.
if ! setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$demo" 2>/dev/null; then
	rmdir "$demo"
	real=$(mktemp -d /var/tmp/leafmail-demo.XXXXXX) ||
		{ echo "demo: cannot create a directory in /var/tmp" >&2; exit 1; }
	chmod 755 "$real"
	ln -s "$real" "$demo"
	echo "demo: $(dirname "$demo") is out of reach of unprivileged users;" \
		"the demo lives in $real (./demo links to it)"
	demo=$real
fi
# The programs, copied where every user can execute them.
. "$src/tests/stage.sh"
stage_build "$build" "$demo/bin" ||
	{ echo "demo: cannot copy the programs to $demo/bin" >&2; exit 1; }
build=$demo/bin
export LEAFMAIL_BUILD="$build" LEAFMAIL_SRC="$src" LEAFMAIL_TMP="$demo"
. "$src/tests/lib.sh"
. "$src/tests/harness/postfix.sh"
. "$src/tests/harness/dovecot.sh"
. "$src/tests/harness/leafmail.sh"
. "$src/tests/tunneld/common.sh"

failed=0
say() { printf '%s\n' "$*"; }
step() { printf '\n== %s\n' "$*"; }
die() { say "demo: $*" >&2; exit 1; }
# expect PREFIX REPLY: note a failure when REPLY doesn't start with PREFIX
expect() {
	case $2 in "$1"*) ;; *) say "   !! expected $1..." >&2; failed=1 ;; esac
}

lm_ensure_user || die "cannot create the system user leafmail"
SMTP=$(free_port) POP3=$(free_port) IMAP=$(free_port)
SSHD_PORT=$(free_port) LISTEN_PORT=$(free_port)
VHOSTS=$demo/vhosts
SMTPB=$(free_port) INJB=$(free_port) UMTPB=$(free_port)
mkdir -p /run/sshd "$VHOSTS"
chown nobody:nogroup "$VHOSTS"

say "leafmail demo: relay by POP3/IMAP login, SSH smarthost tunnel and"
say "per-domain Maildir delivery, on loopback, under $demo"
step "Dovecot: POP3 on 127.0.0.1:$POP3, IMAP on 127.0.0.1:$IMAP (users alice/alicepw, bob/bobpw)"
# Dovecot serves the Maildirs leafmail-deliver writes for example.org.
DC_MAIL_LOCATION="maildir:$VHOSTS/example.org/%n"
dc_start "$demo/dovecot" "$POP3" "$IMAP" || die "Dovecot did not start (see $demo/dovecot/dovecot.log)"
say "   log: $DC_LOG; mail: $VHOSTS/example.org/<user>/"

step "leafmail-relayd: follows the Dovecot log, writes the relay table"
LM_LOCAL_DOMAINS='"example.org"'
lm_conf "$demo/leafmail" "$DC_LOG" 10m 5s
# The partner site's domain has a UMTP peer: the milter shadows mail for
# it in one datagram (a key both sites share, mode 0600).
mkdir -p "$demo/keys"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$demo/keys/partner.key"
chmod 0600 "$demo/keys/partner.key"
sed -i 's/^milter {/milter {\n  umtp-shadow = true/' "$LM_CONF"
cat >>"$LM_CONF" <<UMEOF
umtp {
  key-file = "$demo/keys/partner.key"
  peer "partner.example" { address = "127.0.0.1:$UMTPB" }
}
UMEOF
lm_relayd_start || die "leafmail-relayd did not start (see $LM_DIR/relayd.log)"
say "   config: $LM_CONF"
say "   table:  $LM_TABLE.lmdb (expire 10m)"

step "leafmail-milter: the relay gate for Postfix"
lm_milter_start || die "leafmail-milter did not start (see $LM_DIR/milter.log)"
say "   socket: unix:$LM_SOCK"

step "leafmail-deliver: the Maildir delivery agent for example.org"
printf '%s\n' "alice@example.org" "bob@example.org 10M" "carol@partner.example" >"$demo/leafmail/mailboxes"
cat >"$demo/leafmail/deliver.conf" <<DELEOF
# leafmail-deliver runs as nobody, the owner of the Maildirs Dovecot serves
deliver {
  maildir-base = "$VHOSTS"
  mailboxes = "file:$demo/leafmail/mailboxes"
}
DELEOF
chmod 0644 "$demo/leafmail/mailboxes" "$demo/leafmail/deliver.conf"
say "   config: $demo/leafmail/deliver.conf; mailboxes: $demo/leafmail/mailboxes"

step "Postfix: SMTP on 127.0.0.1:$SMTP, smtpd_milters = unix:$LM_SOCK"
# The milter decides relaying: every domain is a relay domain to Postfix
# itself, and a milter that is down means 451, never an open relay.
# Relayed mail goes to tunneld; example.org to leafmail-deliver.
pf_start "$demo/postfix" "$SMTP" demo \
	"smtpd_milters = unix:$LM_SOCK" \
	"milter_default_action = tempfail" \
	"relay_domains = static:ALL" \
	"mynetworks = 127.0.0.1/32" \
	"relayhost = [127.0.0.1]:$LISTEN_PORT" \
	"transport_maps = inline:{ partner.example=smtp:[127.0.0.1]:$SMTPB }" \
	"virtual_mailbox_domains = example.org" \
	"virtual_mailbox_maps = static:OK" \
	"virtual_transport = leafmail" \
	"leafmail_destination_recipient_limit = 1" || die "Postfix did not start (see $demo/postfix/maillog)"
cat >>"$demo/postfix/etc/master.cf" <<PFLINES
leafmail  unix  -       n       n       -       -       pipe
  flags=DRhu user=nobody argv=$build/leafmail-deliver -c $demo/leafmail/deliver.conf
  -f \${sender} -a \${original_recipient} \${recipient}
PFLINES
postfix -c "$demo/postfix/etc" reload >/dev/null 2>&1
SINK_PORT=$(cat "$demo/postfix/sinkport")
say "   log: $demo/postfix/maillog"
say "   relayhost [127.0.0.1]:$LISTEN_PORT (tunneld); example.org -> pipe to leafmail-deliver"

step "The smarthost, reachable only over SSH: sshd on 127.0.0.1:$SSHD_PORT, smtp-sink behind it on 127.0.0.1:$SINK_PORT"
tn_keys || die "ssh-keygen failed"
tn_sshd_start || die "sshd did not start (see $demo/sshd.log)"
say "   relayed mail lands in $demo/postfix/sink/"

step "leafmail-tunneld: relayhost 127.0.0.1:$LISTEN_PORT, opens ssh -L only when Postfix connects"
tn_conf "$demo/tunneld.conf" 'idle = "5s"' 'idle-jitter = "5s"'
tn_start "$demo/tunneld.conf" || die "leafmail-tunneld did not start (see $demo/tunneld.log)"
say "   ssh processes now: $(tn_ssh_count) (none until mail must leave)"

step "The partner site: Postfix on 127.0.0.1:$SMTPB with its own milter (umtp-dedup), umtp receive on 127.0.0.1:$UMTPB"
A_CONF=$LM_CONF A_DIR=$LM_DIR A_SOCK=$LM_SOCK A_TABLE=$LM_TABLE A_MILTER=$LM_MILTER_PID
LM_LOCAL_DOMAINS='"partner.example"' lm_conf "$demo/partner" /dev/null 10m
sed -i 's/^milter {/milter {\n  umtp-dedup = true/' "$LM_CONF"
cat >>"$LM_CONF" <<UMEOF
umtp {
  listen = "127.0.0.1:$UMTPB"
  key-file = "$demo/keys/partner.key"
  inject = "smtp://127.0.0.1:$INJB"
}
UMEOF
B_CONF=$LM_CONF B_DIR=$LM_DIR
lm_milter_start || die "the partner's leafmail-milter did not start (see $B_DIR/milter.log)"
B_MILTER=$LM_MILTER_PID
pf_start "$demo/partner/postfix" "$SMTPB" partner \
	"smtpd_milters = unix:$LM_SOCK" \
	"milter_default_action = tempfail" \
	"virtual_mailbox_domains = partner.example" \
	"virtual_mailbox_maps = static:OK" \
	"virtual_transport = leafmail" \
	"leafmail_destination_recipient_limit = 1" || die "the partner's Postfix did not start"
{
	cat <<PFLINES
leafmail  unix  -       n       n       -       -       pipe
  flags=DRhu user=nobody argv=$build/leafmail-deliver -c $demo/leafmail/deliver.conf
  -f \${sender} -a \${original_recipient} \${recipient}
PFLINES
	# the injection listener without milters (contrib/postfix/master.cf.umtp)
	grep -v '^#' "$src/contrib/postfix/master.cf.umtp" | grep -v '^$' |
		sed "s/^127.0.0.1:10026 /127.0.0.1:$INJB /"
} >>"$demo/partner/postfix/etc/master.cf"
postfix -c "$demo/partner/postfix/etc" reload >/dev/null 2>&1
"$build/umtp" receive -f -c "$B_CONF" >>"$B_DIR/receive.log" 2>&1 &
UMTP_PID=$!
track_pid "$UMTP_PID"
wait_for 10 grep -q 'listening on' "$B_DIR/receive.log" || die "umtp receive did not start (see $B_DIR/receive.log)"
wait_for 10 _pf_answers "$INJB" || die "the partner's injection listener does not answer"
say "   injection listener 127.0.0.1:$INJB (no milter); partner.example -> $VHOSTS/partner.example/"
LM_CONF=$A_CONF LM_DIR=$A_DIR LM_SOCK=$A_SOCK LM_TABLE=$A_TABLE LM_MILTER_PID=$A_MILTER

step "Relay from 127.0.0.2 before any login"
r=$(pf_rcpt "$SMTP" 127.0.0.2 friend@remote.example)
say "   relay from 127.0.0.2 before login: $r"
expect "550 5.7.1" "$r"

step "POP3 login as alice from 127.0.0.2"
if dc_login alice alicepw 127.0.0.2 pop3; then
	say "   POP3 login as alice from 127.0.0.2: ok"
else
	say "   POP3 login as alice from 127.0.0.2: FAILED"; failed=1
fi
wait_for 2 lm_listed 127.0.0.2
sleep 0.1
grep -F 'rip=127.0.0.2,' "$DC_LOG" | grep -F 'Login:' | sed 's/^/   dovecot.log: /'

step "Relay from 127.0.0.2 after the login"
r=$(pf_rcpt "$SMTP" 127.0.0.2 friend@remote.example)
say "   relay from 127.0.0.2 after login: $r"
expect "250 2.1.5" "$r"
r=$(pf_send "$SMTP" 127.0.0.2 friend@remote.example)
say "   whole message from 127.0.0.2: $r"
expect "250 2.0.0" "$r"
r=$(pf_rcpt "$SMTP" 127.0.0.3 friend@remote.example)
say "   relay from 127.0.0.3 (never logged in): $r"
expect "550 5.7.1" "$r"

step "The relayed message leaves through the SSH tunnel"
if wait_for 20 sh -c "[ \$(find '$demo/postfix/sink' -type f -name 'm.*' | wc -l) -ge 1 ]"; then
	say "   the smarthost (smtp-sink behind sshd) received it: $(pf_sink_count "$demo/postfix")"
else
	say "   the smarthost received nothing"; failed=1
fi
grep -E 'starting ssh|ready after' "$demo/tunneld.log" | sed 's/^/   tunneld.log: /'
grep -q 'ready after' "$demo/tunneld.log" || failed=1
pf_log "$demo/postfix" | grep -F 'to=<friend@remote.example>' | grep -F 'status=sent' |
	sed 's/^.*: to=/   maillog: to=/'
if wait_for 15 tn_ssh_gone; then
	say "   idle for idle + jitter: tunneld stopped ssh again"
	grep -E 'stopping ssh' "$demo/tunneld.log" | sed 's/^/   tunneld.log: /'
else
	say "   ssh still running after the idle time"; failed=1
fi

step "Mail for bob@example.org: Postfix -> leafmail-deliver -> $VHOSTS/example.org/bob/"
r=$(swaks --server 127.0.0.1 --port "$SMTP" --local-interface 127.0.0.3 \
	--helo client.leafmail.test --from friend@remote.example --to Bob@Example.ORG \
	--header "Subject: leafmail demo for bob" --body "Delivered by leafmail-deliver." \
	--timeout 10 2>&1 | sed -n 's/^<-  \(250 2.0.0.*\)/\1/p' | tail -1)
say "   message to Bob@Example.ORG from 127.0.0.3: ${r:-no 250}"
expect "250 2.0.0" "$r"
if wait_for 20 sh -c "ls '$VHOSTS/example.org/bob/new/' 2>/dev/null | grep -q ."; then
	for f in "$VHOSTS"/example.org/bob/new/*; do say "   Maildir: $f"; done
else
	say "   nothing in $VHOSTS/example.org/bob/new"; failed=1
fi
pf_log "$demo/postfix" | grep -F 'to=<bob@example.org>' | sed 's/^.*: to=/   maillog: to=/'
subj=$(curl -s --max-time 10 -u bob:bobpw \
	"imap://127.0.0.1:$IMAP/INBOX;UID=1;SECTION=HEADER.FIELDS%20(SUBJECT)" | tr -d '\r' | grep '^Subject:')
say "   Dovecot serves it over IMAP to bob: ${subj:-nothing}"
expect "Subject: leafmail demo for bob" "$subj"
r=$(pf_send "$SMTP" 127.0.0.3 nobody@example.org)
say "   message to nobody@example.org (no such mailbox): $r"
if wait_for 20 sh -c "grep -F 'to=<nobody@example.org>' '$demo/postfix/maillog' | grep -q 'dsn=5.1.1'"; then
	grep -F 'to=<nobody@example.org>' "$demo/postfix/maillog" | grep -F 'dsn=5.1.1' |
		sed 's/^.*: to=/   maillog: to=/'
else
	say "   no 5.1.1 bounce logged for nobody@example.org"; failed=1
fi

step "A message to carol@partner.example: one UMTP datagram, the SMTP copy as the safety net, one copy lands"
r=$(swaks --server 127.0.0.1 --port "$SMTP" --local-interface 127.0.0.2 \
	--helo client.leafmail.test --from alice@example.org --to carol@partner.example \
	--header "Subject: leafmail demo over UMTP" --body "Small enough for one datagram." \
	--timeout 10 2>&1 | sed -n 's/^<-  \(250 2.0.0.*\)/\1/p' | tail -1)
say "   message from alice (127.0.0.2) to carol@partner.example: ${r:-no 250}"
expect "250 2.0.0" "$r"
CN=$VHOSTS/partner.example/carol/new
if wait_for 20 sh -c "ls '$CN' 2>/dev/null | grep -q ."; then
	say "   delivered: $(ls "$CN" | head -1)"
else
	say "   nothing in $CN"; failed=1
fi
grep 'umtp shadow' "$A_DIR/milter.log" | tail -1 | sed 's/^/   sender milter: /'
grep -E 'injected message|dropped duplicate' "$B_DIR/receive.log" | tail -1 | sed 's/^/   umtp receive: /'
# the SMTP copy reaches the partner too; whichever came second is dropped
if wait_for 20 sh -c "postqueue -c '$demo/postfix/etc' -p | grep -q 'Mail queue is empty'"; then
	say "   the SMTP copy has left this site as well"
else
	say "   the SMTP copy is still queued here"; failed=1
fi
wait_for 10 sh -c "grep -q 'already delivered by UMTP' '$B_DIR/milter.log' || grep -q 'dropped duplicate' '$B_DIR/receive.log'"
grep 'already delivered by UMTP' "$B_DIR/milter.log" | tail -1 | sed 's/^/   partner milter: /'
sleep 1
n=$(ls "$CN" 2>/dev/null | wc -l)
if [ "$n" -eq 1 ]; then
	via=smtp
	grep -q '^X-Via: umtp' "$CN"/* && via=umtp
	say "   carol's Maildir holds exactly one copy (it came by $via)"
else
	say "   carol's Maildir holds $n copies"; failed=1
fi

step "The relay table: $build/leafmail-relayd -c $LM_CONF -l"
lm_list | while read -r ip exp; do
	say "   $ip $exp   (until $(date -d "@$exp" '+%Y-%m-%d %H:%M:%S %Z' 2>/dev/null))"
done

step "What the milter logged"
sed 's/^/   /' "$LM_DIR/milter.log"

if [ "$keep" = 1 ]; then
	dcpid=$(cat "$DC_DIR/run/master.pid" 2>/dev/null)
	cat >"$demo/stop.sh" <<STOPEOF
# stop the leafmail demo started by tests/demo.sh --keep
postfix -c '$demo/postfix/etc' stop 2>/dev/null
postfix -c '$demo/partner/postfix/etc' stop 2>/dev/null
pids="$LM_MILTER_PID $B_MILTER $UMTP_PID $LM_RELAYD_PID $TUNNELD_PID $SSHD_PID $dcpid $(cat "$demo/postfix/sink.pid" "$demo/partner/postfix/sink.pid" 2>/dev/null)"
kill \$pids 2>/dev/null
n=100
alive() { for p in \$pids; do kill -0 \$p 2>/dev/null && return 0; done; return 1; }
while [ \$n -gt 0 ] && alive; do sleep 0.1; n=\$((n - 1)); done
rm -f '$demo/stop.sh'
echo "leafmail demo stopped"
STOPEOF
	# leave everything running: forget what lib.sh would clean up
	_cleanups="" _pids=""
	step "Left running (--keep)"
	say "   try:  swaks --server 127.0.0.1 --port $SMTP --local-interface 127.0.0.4 --to friend@remote.example --quit-after RCPT"
	say "         curl --interface 127.0.0.4 -u bob:bobpw pop3://127.0.0.1:$POP3/"
	say "         $build/leafmail-relayd -c $LM_CONF -l"
	say "   stop: sh $demo/stop.sh"
else
	step "Stopping everything the demo started"
	_cleanup
	_cleanups="" _pids=""
	say "   stopped; logs stay under $demo"
fi
if [ "$failed" = 0 ]; then
	say "demo: every step went as expected"
	exit 0
fi
say "demo: some steps did not go as expected (logs under $demo)" >&2
exit 1
