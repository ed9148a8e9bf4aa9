#!/bin/sh
# notify.t - every daemon tells systemd it is ready (Type=notify units,
# contrib/systemd): READY=1 with its own MAINPID, sent only once it
# serves what its unit promises (the socket accepts, the port is bound),
# and STOPPING=1 on TERM before a clean exit.  systemd's side is played
# by tests/harness/notifyd.py; each daemon runs as the unit runs it (-f),
# started as root so that the switch to the service account comes first.
. "$LEAFMAIL_SRC/tests/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (the switch to the service account)"
command -v python3 >/dev/null || skip_all "python3 missing"
command -v ssh-keygen >/dev/null || skip_all "ssh-keygen missing"
need_run_user || skip_all "cannot create the service account"

UMTP_PORT=$(free_port) TUN_PORT=$(free_port)
mkdir -p "$T/keys"
: >"$T/dovecot.log"
chmod 644 "$T/dovecot.log"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/keys/umtp.key"
chmod 600 "$T/keys/umtp.key"
ssh-keygen -q -t ed25519 -N '' -f "$T/keys/id"
echo "relay.invalid $(cut -d' ' -f1,2 "$T/keys/id.pub")" >"$T/keys/known_hosts"
chown "$RUSER" "$T/keys/id" "$T/keys/known_hosts"
cat >"$T/leafmail.conf" <<CONF
user = "$RUSER"
state-dir = "$T/state"
run-dir = "$T/run"
relay { table = "$T/state/relay" }
relayd { source "$T/dovecot.log" { format = "dovecot" } }
milter { socket = "unix:$T/run/milter.sock" }
policyd { socket = "unix:$T/run/policy.sock" }
umtp {
  listen = "127.0.0.1:$UMTP_PORT"
  key-file = "$T/keys/umtp.key"
}
tunnel "t" {
  listen = "127.0.0.1:$TUN_PORT"
  ssh-destination = "mail@relay.invalid"
  identity-file = "$T/keys/id"
  known-hosts-file = "$T/keys/known_hosts"
}
deliver {
  maildir-base = "$T/vhosts"
  mailboxes = "file:$T/mailboxes"
  lmtp-socket = "unix:$T/run/lmtp.sock"
  lmtp-socket-group = ""
}
CONF

# daemon NAME CHECK PROGRAM [ARGS...]
daemon() {
	_n=$1 _check=$2
	shift 2
	_ns=$T/notify-$_n.sock _out=$T/notify-$_n.out
	python3 "$S/tests/harness/notifyd.py" "$_ns" "$_out" "$_check" &
	_np=$!
	track_pid $_np
	if ! wait_for 10 [ -S "$_ns" ]; then
		notok "$_n: the notify socket came up"
		return
	fi
	NOTIFY_SOCKET=$_ns "$@" -f -c "$T/leafmail.conf" >"$T/$_n.log" 2>&1 &
	_dp=$!
	track_pid $_dp
	if wait_for 20 grep -q '^READY=1$' "$_out"; then
		ok "$_n: READY=1"
	else
		notok "$_n: READY=1"
		sed 's/^/# /' "$T/$_n.log" | tail -5
	fi
	check "$_n: MAINPID is its own pid ($_dp)" grep -qx "MAINPID=$_dp" "$_out"
	[ "$_check" = none ] ||
		check "$_n: serving ($_check) when it said so" grep -qx 'LISTENING=yes' "$_out"
	kill -TERM "$_dp"
	wait "$_dp"
	_rc=$?
	check "$_n: exits 0 on TERM ($_rc)" [ "$_rc" -eq 0 ]
	check "$_n: STOPPING=1" wait_for 5 grep -q '^STOPPING=1$' "$_out"
	kill "$_np" 2>/dev/null
}

daemon relayd none "$B/leafmail-relayd"
daemon milter "unix:$T/run/milter.sock" "$B/leafmail-milter"
daemon policyd "unix:$T/run/policy.sock" "$B/leafmail-policyd"
daemon lmtp "unix:$T/run/lmtp.sock" "$B/leafmail-deliver" -L
daemon umtp "udp:127.0.0.1:$UMTP_PORT" "$B/umtp" receive
daemon tunneld "tcp:127.0.0.1:$TUN_PORT" "$B/leafmail-tunneld"
