# common.sh - helpers for tests/umtp/*.t (sourced after tests/lib.sh).
#
# Run as root (as CI does), umtp receive switches to `user`: the system
# user "leafmail", created when missing, as tests/relayd does.  Keys are
# files of mode 0600 under $T/keys.  The sendmail stand-in
# tests/umtp/capture-sendmail.sh writes what it is given to $CAP.
#
#   umtp_bin                 path of the umtp program
#   mkkey NAME [TEXT]        $T/keys/NAME (0600), random text unless given
#   write_conf INJECT [EXTRA-UMTP-LINES]   $CFG with listen on $PORT
#   start_receive            umtp receive -f in the background; waits for
#                            its "listening" line in $RLOG
#   wait_log PATTERN [N]     until $RLOG has N lines (default 1) matching
#   captured                 number of messages the stand-in received
#   udp_port                 a free UDP port on 127.0.0.1
UMTP=$B/umtp
[ -f "$UMTP" ] && [ -x "$UMTP" ] || skip_all "$UMTP not built"
SEED=$S/tests/umtp/umtp-seed.pl
P2=$S/tests/umtp/umtp2.pl
CAPTURE=$S/tests/umtp/capture-sendmail.sh
perl -MCompress::Zlib -MDigest::MD5 -MDigest::SHA -e 1 2>/dev/null ||
	skip_all "perl lacks Compress::Zlib / Digest::MD5 / Digest::SHA"
umask 022
need_run_user || skip_all "cannot create system user leafmail"
CFG=$T/leafmail.conf
RLOG=$T/receive.log
CAP=$T/capture
mkdir -p "$T/keys" "$CAP"
chmod 1777 "$CAP"
export UMTP_CAPTURE_DIR=$CAP

udp_port() {
	python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
PORT=$(udp_port)

mkkey() {
	(umask 077
	if [ $# -ge 2 ]; then printf '%s\n' "$2"; else head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; fi >"$T/keys/$1")
}

write_conf() {
	cat >"$CFG" <<CFGEOF
user = "$RUSER"
state-dir = "$T/state"
run-dir = "$T/run"
umtp {
  listen = "127.0.0.1:$PORT"
  key-file = "$T/keys/default"
  inject = "$1"
  inject-retries = 1
$2
}
CFGEOF
}

start_receive() {
	[ -f "$RLOG" ] && cat "$RLOG" >>"$RLOG.old"
	: >"$RLOG"
	"$UMTP" receive -f -c "$CFG" "$@" >>"$RLOG" 2>&1 &
	_rp=$!
	track_pid "$_rp"
	RPID=$_rp
	wait_for 10 grep -q 'listening on' "$RLOG"
}

wait_log() {
	wait_for 10 sh -c '[ "$(grep -c "$1" "$2")" -ge "$3" ]' sh "$1" "$RLOG" "${2:-1}"
}

captured() {
	ls "$CAP" | grep -c '\.msg$'
}

MSG=$T/msg.txt
cat >"$MSG" <<'MSGEOF'
From alice@example.org Sun Nov 22 04:00:00 2026
Received: from a.example (a.example [192.0.2.1])
	by b.example with ESMTP id 123
From: alice@example.org
To: bob@example.net
Message-ID: <t1.umtp@example.org>
Subject: umtp test

hello over udp
Received: this body line stays
MSGEOF

# no_sanitizer_reports: ok unless the daemon's log holds an ASan/UBSan report
no_sanitizer_reports() {
	check "no sanitizer report in the daemon's log" \
		sh -c "! cat '$RLOG' '$RLOG.old' 2>/dev/null | grep -qE 'Sanitizer|runtime error'"
}
