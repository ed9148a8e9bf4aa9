# common.sh - helpers for tests/security/*.t (sourced after tests/lib.sh).
#
# These tests play the service account as the attacker (lib/daemon.c
# states the rule they check): the daemons start as root and switch to
# the system user "leafmail"; the attacker runs as that same user
# (setpriv) and plants or swaps links in the directories the account
# owns.  What it aims at is a file of root's, mode 0600, which must keep
# its owner, mode and content whatever happens.  Root only: as an
# ordinary user there is no privilege to steal, and the tests skip.
#
#   sec_require           skip unless root, with cc, setpriv, python3
#   as_svc CMD...         run CMD as the service account
#   make_target FILE      a root file, 0600, random content; remembered
#   seal FILE             an existing file made root's, 0600; remembered
#   untouched FILE        owner root, mode 0600, content as made
#   show_target FILE      print what it looks like now (evidence)
#   hardlinks_open        fs.protected_hardlinks = 0 until the test ends
#                         (restored at exit); non-zero when it cannot be
#   build_helpers         $SWAPPER and $HOLDBIND compiled into $T
#   conf_all FILE         one configuration for every daemon, under $T
#   run_daemon NAME LOG   start relayd, milter, lmtp (deliver -L) or umtp
#                         (receive) in the foreground; stop_daemon
#   fresh_dir DIR         DIR empty and the service account's
[ "$(id -u)" -eq 0 ] || skip_all "needs root: the attack is on root's files"
umask 022
need_run_user || skip_all "cannot create system user leafmail"
SVC=$RUSER

sec_require() {
	command -v cc >/dev/null || skip_all "cc missing"
	command -v setpriv >/dev/null || skip_all "setpriv (util-linux) missing"
	command -v python3 >/dev/null || skip_all "python3 missing"
}

as_svc() {
	setpriv --reuid="$SVC" --regid="$(id -g "$SVC")" --init-groups -- "$@"
}

make_target() {
	head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$1"
	seal "$1"
}
# seal FILE: make an existing file root's, 0600, and remember its content
seal() {
	chown root:root "$1"
	chmod 0600 "$1"
	sha256sum <"$1" >"$1.sum"
}
untouched() {
	[ "$(stat -c '%u %a' "$1")" = "0 600" ] &&
		[ "$(sha256sum <"$1")" = "$(cat "$1.sum")" ]
}
show_target() {
	echo "# target now: $(stat -c '%U:%G %a, %s bytes' "$1" 2>&1)"
}
# check_target DESC FILE: ok when untouched, else the evidence
check_target() {
	if untouched "$2"; then ok "$1"; else notok "$1"; show_target "$2"; fi
}

_hl_saved=""
hardlinks_open() {
	[ -w /proc/sys/fs/protected_hardlinks ] || return 1
	if [ -z "$_hl_saved" ]; then
		_hl_saved=$(cat /proc/sys/fs/protected_hardlinks)
		at_exit "echo $_hl_saved >/proc/sys/fs/protected_hardlinks"
	fi
	echo 0 >/proc/sys/fs/protected_hardlinks 2>/dev/null
}

build_helpers() {
	SWAPPER=$T/swapper
	HOLDBIND=$T/holdbind.so
	cc -O2 -o "$SWAPPER" "$S/tests/security/swapper.c" &&
		cc -O2 -shared -fPIC -o "$HOLDBIND" "$S/tests/security/holdbind.c" -ldl &&
		chmod 755 "$SWAPPER"
}

# conf_all FILE: relayd, milter, leafmail-deliver -L and umtp receive,
# each with its state and sockets in $T/state and $T/run.
conf_all() {
	mkdir -p "$T/log" "$T/keys" "$T/base" "$T/pf"
	: >>"$T/log/dovecot.log"
	: >"$T/pf/main.cf"
	: >>"$T/mailboxes"
	[ -f "$T/keys/default" ] ||
		(umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/keys/default")
	chown "$SVC" "$T/base"
	[ -n "${UMTP_PORT:-}" ] || UMTP_PORT=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	cat >"$1" <<EOF
user = "$SVC"
state-dir = "$T/state"
run-dir = "$T/run"
relay {
  table = "$T/state/relay"
  expire = "30m"
}
relayd {
  source "$T/log/dovecot.log" { format = "dovecot" }
}
milter {
  socket = "unix:$T/run/milter.sock"
  socket-mode = "0660"
}
deliver {
  maildir-base = "$T/base"
  mailboxes = "file:$T/mailboxes"
  lmtp-socket = "unix:$T/run/lmtp.sock"
}
umtp {
  listen = "127.0.0.1:$UMTP_PORT"
  key-file = "$T/keys/default"
  inject = "smtp://127.0.0.1:9"
}
EOF
}

# The daemons, each: its command (foreground), the line that says it
# started, its pid file name in $T/run.
RELAYD=$B/leafmail-relayd
MILTER=$B/leafmail-milter
DELIVER=$B/leafmail-deliver
UMTP=$B/umtp
daemon_cmd() {
	case $1 in
	relayd) echo "$RELAYD -f -c $CFG" ;;
	milter) echo "$MILTER -f -c $CFG" ;;
	lmtp) echo "$DELIVER -c $CFG -L -f" ;;
	umtp) echo "$UMTP receive -f -c $CFG" ;;
	esac
}
daemon_ready() {
	case $1 in
	relayd) echo "started as" ;;
	milter) echo "started on" ;;
	lmtp) echo "LMTP server on" ;;
	umtp) echo "listening on" ;;
	esac
}
daemon_pidfile() {
	case $1 in
	relayd) echo leafmail-relayd.pid ;;
	milter) echo leafmail-milter.pid ;;
	lmtp) echo leafmail-deliver.pid ;;
	umtp) echo umtp.pid ;;
	esac
}

# run_daemon NAME LOG: start it in the background ($DPID) and wait until
# it says it started (0), or exits (1, status in $DRC), or 10 s pass (2).
run_daemon() {
	: >"$2"
	$(daemon_cmd "$1") >"$2" 2>&1 &
	DPID=$!
	track_pid "$DPID"
	DRC=
	_n=0
	while [ "$_n" -lt 200 ]; do
		grep -q "$(daemon_ready "$1")" "$2" && return 0
		if ! kill -0 "$DPID" 2>/dev/null; then
			wait "$DPID"
			DRC=$?
			return 1
		fi
		sleep 0.05
		_n=$((_n + 1))
	done
	return 2
}
stop_daemon() {
	kill -TERM "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
}
# fresh_dir DIR: empty, the service account's (as after an earlier start)
fresh_dir() {
	rm -rf "$1"
	mkdir -p "$1"
	chown "$SVC:$(id -g "$SVC")" "$1"
}
