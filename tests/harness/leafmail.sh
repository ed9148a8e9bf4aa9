# leafmail.sh - start and query leafmail-relayd and leafmail-milter for
# integration tests and the demo (POSIX sh, sourced after tests/lib.sh;
# functions only).  Programs come from $B (the build directory).
#
#   lm_ensure_user       create the system user "leafmail" the daemons
#                        drop to, if missing (needs root).
#   lm_conf DIR DOVECOTLOG EXPIRE [SWEEP] [IGNORE]
#       Write DIR/leafmail.conf: state-dir DIR/state (table
#       DIR/state/relay.lmdb), run-dir DIR/run, milter socket
#       unix:DIR/run/milter.sock mode 0666 (Postfix's smtpd runs as postfix),
#       local-domains local.test (or the quoted list in LM_LOCAL_DOMAINS),
#       trusted-networks 127.0.0.1/32 only,
#       ignore-networks IGNORE (default "127.0.0.1/32": the test clients
#       127.0.0.2... and ::1 must be recorded).  Sets LM_DIR, LM_CONF,
#       LM_TABLE (the table name without .lmdb), LM_SOCK.
#       With LM_REDIS=HOST:PORT set, the relay table is in that Redis
#       (relay.store = "redis"), with password-file LM_REDIS_PWFILE when
#       set, key-prefix LM_REDIS_PREFIX (default "leafmail:") and timeout
#       LM_REDIS_TIMEOUT when set.
#   lm_relayd_start / lm_relayd_stop   relayd -f in the background (pid in
#       LM_RELAYD_PID, stderr to DIR/relayd.log); start waits for the table.
#   lm_milter_start / lm_milter_stop   the same for the milter (stderr to
#       DIR/milter.log); start waits for the socket.
#   lm_listed IP         relayd -l lists IP (unexpired)
#   lm_postmap IP        Postfix's own reader finds IP in lmdb:LM_TABLE
#   lm_postmap_q IP      print what Postfix's reader finds (the expiry)
#   lm_have PROGRAM...   all these programs are built
#   watchdog SECONDS     end this test script (TERM, so cleanup runs) if it
#                        is still running after SECONDS: a hung server must
#                        not leave processes behind when run.sh kills us

lm_have() {
	for _lmp in "$@"; do [ -x "$B/$_lmp" ] || return 1; done
}

lm_ensure_user() { need_run_user; }

lm_conf() {
	LM_DIR=$1 LM_CONF=$1/leafmail.conf LM_TABLE=$1/state/relay
	# in run-dir, which is the user's: the milter, no longer root, can
	# then remove its socket when it stops
	LM_SOCK=$1/run/milter.sock
	mkdir -p "$LM_DIR" || return 1
	_lmstore=lmdb
	[ -n "${LM_REDIS:-}" ] && _lmstore=redis
	cat >"$LM_CONF" <<LMEOF
# written by tests/harness/leafmail.sh
user = "leafmail"
state-dir = "$LM_DIR/state"
run-dir = "$LM_DIR/run"
relay {
  table = "$LM_TABLE"
  expire = "$3"
  sweep-interval = "${4:-1s}"
  ignore-networks = { "${5:-127.0.0.1/32}" }
  store = "$_lmstore"
}
relayd {
  source "$2" { format = "dovecot" }
}
$(_lm_redis_conf)
milter {
  socket = "unix:$LM_SOCK"
  socket-mode = "0666"
  local-domains = { ${LM_LOCAL_DOMAINS:-"local.test"} }
  trusted-networks = { "127.0.0.1/32" }
}
LMEOF
}

# The redis section for LM_REDIS (nothing without it).
_lm_redis_conf() {
	[ -n "${LM_REDIS:-}" ] || return 0
	echo 'redis {'
	echo "  address = \"$LM_REDIS\""
	[ -n "${LM_REDIS_PWFILE:-}" ] && echo "  password-file = \"$LM_REDIS_PWFILE\""
	echo "  key-prefix = \"${LM_REDIS_PREFIX:-leafmail:}\""
	[ -n "${LM_REDIS_TIMEOUT:-}" ] && echo "  timeout = \"$LM_REDIS_TIMEOUT\""
	echo '}'
}

lm_relayd_start() {
	"$B/leafmail-relayd" -c "$LM_CONF" -f >>"$LM_DIR/relayd.log" 2>&1 &
	LM_RELAYD_PID=$!
	track_pid "$LM_RELAYD_PID"
	if [ -n "${LM_REDIS:-}" ]; then
		wait_for 10 grep -q "started as" "$LM_DIR/relayd.log" ||
			{ echo "lm_relayd_start: relayd did not start" >&2; tail -5 "$LM_DIR/relayd.log" >&2; return 1; }
	elif ! wait_for 10 test -s "$LM_TABLE.lmdb"; then
		echo "lm_relayd_start: no table $LM_TABLE.lmdb" >&2
		tail -5 "$LM_DIR/relayd.log" >&2
		return 1
	fi
	kill -0 "$LM_RELAYD_PID" 2>/dev/null
}

# _lm_alive PID: running (a zombie, exited but not yet waited for, isn't)
_lm_alive() {
	_lms=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	case $_lms in Z*) return 1 ;; esac
	return 0
}

# _lm_stop PID: TERM, wait up to 5 s, then KILL; returns its exit status
# (the status of a process this shell started).
_lm_stop() {
	kill "$1" 2>/dev/null || return 0
	_lmn=100
	while _lm_alive "$1" && [ "$_lmn" -gt 0 ]; do
		sleep 0.05; _lmn=$((_lmn - 1))
	done
	_lm_alive "$1" && kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

lm_relayd_stop() { _lm_stop "$LM_RELAYD_PID"; }

lm_milter_start() {
	"$B/leafmail-milter" -c "$LM_CONF" -f >>"$LM_DIR/milter.log" 2>&1 &
	LM_MILTER_PID=$!
	track_pid "$LM_MILTER_PID"
	if ! wait_for 10 test -S "$LM_SOCK"; then
		echo "lm_milter_start: no socket $LM_SOCK" >&2
		tail -5 "$LM_DIR/milter.log" >&2
		return 1
	fi
	kill -0 "$LM_MILTER_PID" 2>/dev/null
}

lm_milter_stop() { _lm_stop "$LM_MILTER_PID"; }

lm_list() { "$B/leafmail-relayd" -c "$LM_CONF" -l; }
lm_listed() { lm_list 2>/dev/null | grep -q "^$1 [0-9][0-9]*\$"; }
# postmap needs a main.cf; /etc/postfix may have none (we never use it)
lm_postmap() { lm_postmap_q "$1" >/dev/null 2>&1; }
lm_postmap_q() {
	[ -f "$LM_DIR/pfconf/main.cf" ] ||
		{ mkdir -p "$LM_DIR/pfconf" && : >"$LM_DIR/pfconf/main.cf"; }
	postmap -c "$LM_DIR/pfconf" -q "$1" "lmdb:$LM_TABLE"
}

watchdog() {
	_lmself=$$
	( sleep "$1"; echo "# watchdog: $1 s passed, stopping" >&2; kill -TERM "$_lmself" ) &
	track_pid "$!"
}

# lm_check_logs: the daemons' stderr holds no sanitizer report (under
# SAN=1 a report there means a bug even when every reply was right)
lm_check_logs() {
	if cat "$LM_DIR"/relayd.log "$LM_DIR"/milter.log 2>/dev/null |
		grep -q -E 'Sanitizer|runtime error:'; then
		notok "sanitizer reports in $LM_DIR/*.log"
		grep -h -A5 -E 'Sanitizer|runtime error:' "$LM_DIR"/*.log | sed 's/^/# /' | head -30
	else
		ok "no sanitizer reports in the daemons' logs"
	fi
}
