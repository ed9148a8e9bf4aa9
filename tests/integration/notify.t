#!/bin/sh
# notify.t - every daemon tells systemd it is ready (Type=notify units,
# contrib/systemd): READY=1 with its own MAINPID, sent only once it
# serves what its unit promises (the socket accepts, the port is bound),
# and STOPPING=1 on TERM before a clean exit, also when the TERM comes
# while the daemon is still inside its READY=1 (a stop right after the
# start: the daemon must already handle it, not die of it).  systemd's side is
# played by tests/harness/notifyd.py; each daemon runs as the unit runs it
# (-f), started as root so that the switch to the service account comes
# first.
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
# (names without a leading _: tests/lib.sh's helpers use those)
daemon() {
	nf_name=$1 nf_check=$2
	shift 2
	nf_sock=$T/notify-$nf_name.sock nf_out=$T/notify-$nf_name.out
	python3 "$S/tests/harness/notifyd.py" "$nf_sock" "$nf_out" "$nf_check" &
	nf_lpid=$!
	track_pid $nf_lpid
	if ! wait_for 10 [ -S "$nf_sock" ]; then
		notok "$nf_name: the notify socket came up"
		return
	fi
	NOTIFY_SOCKET=$nf_sock "$@" -f -c "$T/leafmail.conf" >"$T/$nf_name.log" 2>&1 &
	nf_dpid=$!
	track_pid $nf_dpid
	if wait_for 20 grep -q '^READY=1$' "$nf_out"; then
		ok "$nf_name: READY=1"
	else
		notok "$nf_name: READY=1"
		sed 's/^/# /' "$T/$nf_name.log" | tail -5
	fi
	check "$nf_name: MAINPID is its own pid ($nf_dpid)" grep -qx "MAINPID=$nf_dpid" "$nf_out"
	[ "$nf_check" = none ] ||
		check "$nf_name: serving ($nf_check) when it said so" grep -qx 'LISTENING=yes' "$nf_out"
	kill -TERM "$nf_dpid"
	wait "$nf_dpid"
	nf_rc=$?
	check "$nf_name: exits 0 on TERM ($nf_rc)" [ "$nf_rc" -eq 0 ]
	check "$nf_name: STOPPING=1" wait_for 5 grep -q '^STOPPING=1$' "$nf_out"
	kill "$nf_lpid" 2>/dev/null

	# Again, with the TERM sent while the daemon is still inside its
	# READY=1 (blocked in sendmsg() on notifyd's full queue): a stop
	# right after the start, made to come first every time.
	nf_out=$T/notify-$nf_name.hold nf_sock=$T/notify-$nf_name-2.sock
	python3 "$S/tests/harness/notifyd.py" "$nf_sock" "$nf_out" none hold &
	nf_lpid=$!
	track_pid $nf_lpid
	if ! wait_for 10 grep -q HOLDING=1 "$nf_out"; then
		notok "$nf_name: the second notify socket came up"
		return
	fi
	NOTIFY_SOCKET=$nf_sock "$@" -f -c "$T/leafmail.conf" >>"$T/$nf_name.log" 2>&1 &
	nf_dpid=$!
	track_pid $nf_dpid
	if wait_for 20 grep -qx unix_wait_for_peer "/proc/$nf_dpid/wchan"; then
		kill -TERM "$nf_dpid"
		kill -USR1 "$nf_lpid"
		wait "$nf_dpid"
		nf_rc=$?
		check "$nf_name: TERM while saying READY=1: exits 0 ($nf_rc)" [ "$nf_rc" -eq 0 ]
		check "$nf_name: ... and says STOPPING=1" wait_for 5 grep -q '^STOPPING=1$' "$nf_out"
	else
		notok "$nf_name: held inside READY=1 ($(cat "/proc/$nf_dpid/wchan" 2>/dev/null))"
		kill -USR1 "$nf_lpid"
	fi
	kill "$nf_lpid" 2>/dev/null
}

daemon relayd none "$B/leafmail-relayd"
daemon milter "unix:$T/run/milter.sock" "$B/leafmail-milter"
daemon policyd "unix:$T/run/policy.sock" "$B/leafmail-policyd"
daemon lmtp "unix:$T/run/lmtp.sock" "$B/leafmail-deliver" -L
daemon umtp "udp:127.0.0.1:$UMTP_PORT" "$B/umtp" receive
daemon tunneld "tcp:127.0.0.1:$TUN_PORT" "$B/leafmail-tunneld"
