#!/bin/sh
# demo.sh - leafmail's main job, live: relay by POP3 login.
#
#   sh tests/demo.sh [--keep]        (`make demo` builds, then runs this)
#
# Brings up, on loopback only and under ./demo/ in the source tree, a
# private Postfix (with leafmail-milter as its relay gate), a private
# Dovecot (POP3/IMAP, users alice/alicepw and bob/bobpw), leafmail-relayd
# following Dovecot's log, and leafmail-milter.  Then it shows: relaying
# from 127.0.0.2 refused; a real POP3 login as alice from 127.0.0.2;
# relaying from 127.0.0.2 accepted; the relay table.  It stops everything
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
for p in leafmail-relayd leafmail-milter; do
	if [ ! -x "$build/$p" ]; then
		echo "demo: $build/$p is missing: run make first" >&2
		exit 69
	fi
done
for p in postfix dovecot doveadm swaks curl python3; do
	if ! command -v "$p" >/dev/null 2>&1; then
		echo "demo: $p is not installed: run make deps" >&2
		exit 69
	fi
done

demo=$src/demo
# an earlier --keep run may still be up
[ -f "$demo/stop.sh" ] && sh "$demo/stop.sh" >/dev/null 2>&1
rm -rf "$demo"
mkdir -p "$demo"
export LEAFMAIL_BUILD="$build" LEAFMAIL_SRC="$src" LEAFMAIL_TMP="$demo"
. "$src/tests/lib.sh"
. "$src/tests/harness/postfix.sh"
. "$src/tests/harness/dovecot.sh"
. "$src/tests/harness/leafmail.sh"

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

say "leafmail demo: relay by POP3/IMAP login, on loopback, under $demo"
step "Dovecot: POP3 on 127.0.0.1:$POP3, IMAP on 127.0.0.1:$IMAP (users alice/alicepw, bob/bobpw)"
dc_start "$demo/dovecot" "$POP3" "$IMAP" || die "Dovecot did not start (see $demo/dovecot/dovecot.log)"
say "   log: $DC_LOG"

step "leafmail-relayd: follows the Dovecot log, writes the relay table"
lm_conf "$demo/leafmail" "$DC_LOG" 10m 5s
lm_relayd_start || die "leafmail-relayd did not start (see $LM_DIR/relayd.log)"
say "   config: $LM_CONF"
say "   table:  $LM_TABLE.lmdb (expire 10m)"

step "leafmail-milter: the relay gate for Postfix"
lm_milter_start || die "leafmail-milter did not start (see $LM_DIR/milter.log)"
say "   socket: unix:$LM_SOCK"

step "Postfix: SMTP on 127.0.0.1:$SMTP, smtpd_milters = unix:$LM_SOCK"
# The milter decides relaying: every domain is a relay domain to Postfix
# itself, and a milter that is down means 451, never an open relay.
pf_start "$demo/postfix" "$SMTP" demo \
	"smtpd_milters = unix:$LM_SOCK" \
	"milter_default_action = tempfail" \
	"relay_domains = static:ALL" \
	"mynetworks = 127.0.0.1/32" || die "Postfix did not start (see $demo/postfix/maillog)"
say "   log: $demo/postfix/maillog; relayed mail ends in an smtp-sink ($demo/postfix/sink)"

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
pids="$LM_MILTER_PID $LM_RELAYD_PID $dcpid $(cat "$demo/postfix/sink.pid" 2>/dev/null)"
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
