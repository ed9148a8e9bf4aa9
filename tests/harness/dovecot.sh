# dovecot.sh - a private Dovecot instance on loopback for integration tests
# (POSIX sh, sourced after tests/lib.sh; defines functions only).
#
#   dc_start DIR POP3PORT IMAPPORT
#       Write DIR/dovecot.conf and start Dovecot with its own base_dir
#       (DIR/run), state_dir, passwd-file (alice/alicepw, bob/bobpw, plain
#       text) and mail under DIR/mail.  Everything is logged to
#       DIR/dovecot.log, which is created 0644 first so an unprivileged
#       reader (relayd after dropping root) can follow it.  Listens on
#       127.0.0.1 (and ::1 when configured).  Sets DC_DIR, DC_POP3_PORT,
#       DC_IMAP_PORT, DC_CONF, DC_LOG for the functions below; registers
#       dc_stop with at_exit.  Non-zero if it does not answer within 15 s.
#       DC_MAIL_LOCATION, when set, replaces mail_location (e.g. the
#       per-domain Maildirs leafmail-deliver writes).  DC_EXTRA_CONF, when
#       set, is appended to dovecot.conf as it is (auth policy, event
#       exporter, master users...).
#   dc_stop DIR      stop that instance (kill the master from master.pid and
#                    wait for it); safe to call twice.
#   dc_login USER PASS FROMIP PROTO
#       One real login with curl bound to FROMIP (127.0.0.x or ::1); PROTO
#       is pop3 or imap.  Succeeds only when the server accepted the login.
#       A refused login costs ~2 s (Dovecot's auth_failure_delay).
#   dc_login_raw USER PASS FROMIP
#       A POP3 USER/PASS login over a bare socket, for user names curl
#       cannot carry (':' in them).  Succeeds when PASS got +OK.
#   dc_wait_log PATTERN [SECONDS]   wait until the log has a line matching
#                    the fixed string PATTERN (Dovecot logs asynchronously).
#   dc_has_ipv6      ::1 is configured here (Dovecot then listens on it).
#
# The processes run as Debian's dovenull/dovecot users; mail belongs to
# nobody (first_valid_uid lowered so that uid is accepted).

dc_has_ipv6() {
	[ -f /proc/net/if_inet6 ] && grep -q '^0\{31\}1 ' /proc/net/if_inet6
}

dc_start() {
	DC_DIR=$1 DC_POP3_PORT=$2 DC_IMAP_PORT=$3
	DC_CONF=$DC_DIR/dovecot.conf DC_LOG=$DC_DIR/dovecot.log
	mkdir -p "$DC_DIR/state" "$DC_DIR/mail" || return 1
	# Dovecot's unix sockets live under base_dir, the deepest at
	# token-login/imap-urlauth, and sun_path holds 107 bytes: under a
	# long checkout path (the demo's ./demo/) base_dir is a short
	# directory in /tmp that DIR/run points to.
	_dcbase=$DC_DIR/run
	if [ "${#_dcbase}" -gt 70 ] && [ ! -d "$_dcbase" ]; then
		_dcbase=$(mktemp -d /tmp/lmdc.XXXXXX) || return 1
		chmod 0755 "$_dcbase"
		ln -s "$_dcbase" "$DC_DIR/run" || return 1
	elif [ -L "$_dcbase" ]; then
		_dcbase=$(readlink "$_dcbase")
	fi
	mkdir -p "$_dcbase" || return 1
	chown nobody:nogroup "$DC_DIR/mail" || return 1
	printf '%s\n' 'alice:{PLAIN}alicepw' 'bob:{PLAIN}bobpw' >"$DC_DIR/users"
	chmod 0644 "$DC_DIR/users"
	: >>"$DC_LOG"
	chmod 0644 "$DC_LOG"
	_dclisten="127.0.0.1"
	dc_has_ipv6 && _dclisten="127.0.0.1, ::1"
	_dcuid=$(id -u nobody) _dcgid=$(id -g nobody)
	cat >"$DC_CONF" <<DCEOF
# private test instance, written by tests/harness/dovecot.sh
base_dir = $_dcbase
state_dir = $DC_DIR/state
instance_name = leafmail-test-$DC_POP3_PORT
protocols = pop3 imap
listen = $_dclisten
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
login_trusted_networks =
log_path = $DC_LOG
info_log_path = $DC_LOG
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
mail_location = ${DC_MAIL_LOCATION:-maildir:$DC_DIR/mail/%u}
passdb {
  driver = passwd-file
  args = $DC_DIR/users
}
userdb {
  driver = static
  args = uid=$_dcuid gid=$_dcgid home=$DC_DIR/mail/%u
}
service pop3-login {
  inet_listener pop3 {
    port = $DC_POP3_PORT
  }
  inet_listener pop3s {
    port = 0
  }
}
service imap-login {
  inet_listener imap {
    port = $DC_IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
service stats {
  unix_listener stats-writer {
    mode = 0666
  }
}
protocol pop3 {
  pop3_uidl_format = %08Xu%08Xv
}
${DC_EXTRA_CONF:-}
DCEOF
	at_exit "dc_stop '$DC_DIR'"
	if ! dovecot -c "$DC_CONF" >"$DC_DIR/start.log" 2>&1; then
		cat "$DC_DIR/start.log" >&2
		return 1
	fi
	if ! wait_for 15 _dc_answers "$DC_POP3_PORT" ||
		! wait_for 5 _dc_answers "$DC_IMAP_PORT"; then
		echo "dc_start: dovecot does not answer" >&2
		tail -20 "$DC_LOG" >&2
		return 1
	fi
	return 0
}

_dc_answers() {
	python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1"
}

dc_stop() {
	_dcp=$(tr -d ' \n' <"$1/run/master.pid" 2>/dev/null)
	[ -n "$_dcp" ] || return 0
	kill "$_dcp" 2>/dev/null || return 0
	_dcn=100
	while kill -0 "$_dcp" 2>/dev/null && [ "$_dcn" -gt 0 ]; do
		sleep 0.1; _dcn=$((_dcn - 1))
	done
	kill -9 "$_dcp" 2>/dev/null
	# A short base_dir made by dc_start goes with the instance.
	if [ -L "$1/run" ]; then
		_dcb=$(readlink "$1/run")
		case $_dcb in /tmp/lmdc.*) rm -rf "$_dcb" "$1/run" ;; esac
	fi
	return 0
}

dc_login() {
	case $4 in
	pop3) _dcport=$DC_POP3_PORT ;;
	imap) _dcport=$DC_IMAP_PORT ;;
	*) echo "dc_login: protocol $4?" >&2; return 2 ;;
	esac
	_dchost=127.0.0.1
	case $3 in *:*) _dchost="[::1]" ;; esac
	# curl exits 67 when the login is refused, 0 when it got in
	curl -s -g -o /dev/null --max-time 10 --interface "$3" \
		-u "$1:$2" "$4://$_dchost:$_dcport/"
}

dc_login_raw() {
	python3 - "$1" "$2" "$3" "$DC_POP3_PORT" <<'PYEOF'
import socket, sys
user, pw, src, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
s = socket.create_connection(("127.0.0.1", port), 10, source_address=(src, 0))
f = s.makefile("rb")
def cmd(line):
    if line is not None:
        s.sendall(line.encode() + b"\r\n")
    return f.readline().decode(errors="replace")
cmd(None)
cmd("USER " + user)
r = cmd("PASS " + pw)
cmd("QUIT")
sys.exit(0 if r.startswith("+OK") else 1)
PYEOF
}

dc_wait_log() {
	wait_for "${2:-5}" grep -qF -- "$1" "$DC_LOG"
}

# dc_rotate_rename SUFFIX: logrotate's default way: rename the log, create
# an empty one readable by everyone (Dovecot itself would create it 0600,
# which the unprivileged relayd could not read), then tell Dovecot to
# reopen.  Lines written between the rename and the reopen go to the old
# file: a follower must still read them.
dc_rotate_rename() {
	mv "$DC_LOG" "$DC_LOG.$1" || return 1
	: >"$DC_LOG" && chmod 0644 "$DC_LOG" || return 1
	doveadm -c "$DC_CONF" log reopen
}

# dc_rotate_copytruncate SUFFIX: logrotate's copytruncate: copy, then cut
# the live file to 0 (Dovecot appends, so it continues at the new end).
dc_rotate_copytruncate() {
	cp "$DC_LOG" "$DC_LOG.$1" && truncate -s 0 "$DC_LOG"
}
