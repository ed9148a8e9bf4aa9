# common.sh - helpers for tests/relayd/*.t (sourced after tests/lib.sh).
#
# Every test runs the real $B/leafmail-relayd against a configuration in
# $T.  Run as root (as CI does), the daemon must switch to `user`: the
# system user "leafmail" (need_run_user, tests/lib.sh).  Run as an
# ordinary user, relayd runs as that user and `user` is ignored.
RELAYD=$B/leafmail-relayd
[ -x "$RELAYD" ] || skip_all "$RELAYD not built"
umask 022
need_run_user || skip_all "cannot create system user leafmail"
CFG=$T/leafmail.conf
LOG=$T/log/dovecot.log
TABLE=$T/state/relay
ERR=$T/relayd.err
mkdir -p "$T/log"
: >"$ERR"

# write_conf [EXPIRE [SWEEP [SOURCES [IGNORE]]]]: the configuration in $CFG.
# SOURCES is the body of relayd { }; IGNORE the ignore-networks list.
write_conf() {
	_src=${3:-"source \"$LOG\" { format = \"dovecot\" }"}
	_ign=${4:-'"192.0.2.0/24", "2001:db8::/32"'}
	cat >"$CFG" <<EOF
user = "$RUSER"
state-dir = "$T/state"
run-dir = "$T/run"
relay {
  table = "$TABLE"
  expire = "${1:-30m}"
  sweep-interval = "${2:-5s}"
  ignore-networks = { $_ign }
}
relayd {
  $_src
}
EOF
}

# now_ts [DATE-ARG]: a syslog/log_path time stamp (now, or date -d ARG).
now_ts() {
	if [ $# -gt 0 ]; then date -d "$1" '+%b %e %H:%M:%S'; else date '+%b %e %H:%M:%S'; fi
}
# login IP [USER [WHEN]]: a successful Dovecot POP3 login (log_path layout).
login() {
	printf '%s pop3-login: Info: Login: user=<%s>, method=PLAIN, rip=%s, lip=127.0.0.1, mpid=%d, session=<Xy%05d>\n' \
		"$(now_ts ${3:+"$3"})" "${2:-alice}" "$1" "$$" "$$"
}

# start_relayd: run the daemon in the foreground (-f), stderr to $ERR;
# sets RPID and waits until it has started.
start_relayd() {
	_n=$(wc -l <"$ERR")
	"$RELAYD" -f -c "$CFG" 2>>"$ERR" &
	RPID=$!
	track_pid "$RPID"
	if ! wait_for 10 sh -c "tail -n +$((_n + 1)) '$ERR' | grep -q 'started as'"; then
		echo "# relayd did not start:"; sed 's/^/#   /' "$ERR"
		return 1
	fi
	# Started means the loop is about to run; give its first catch-up a
	# moment so tests that count on "already read" are not racing it.
	sleep 0.2
}
# stop_relayd: SIGTERM and wait; returns relayd's exit status.
stop_relayd() {
	kill -TERM "$RPID" 2>/dev/null
	wait "$RPID"
}

# in_table IP: present and unexpired according to relayd -l.
in_table() { "$RELAYD" -c "$CFG" -l 2>/dev/null | grep -q "^$1 "; }
not_in_table() { ! in_table "$1"; }
# in_lmdb IP: the key is in the LMDB file as Postfix sees it (any expiry).
# postmap needs a main.cf: an empty one of our own (no /etc/postfix here).
PFDIR=$T/postfix
mkdir -p "$PFDIR" && : >"$PFDIR/main.cf"
pmq() { postmap -c "$PFDIR" -q "$1" "lmdb:$TABLE"; }
in_lmdb() { pmq "$1" >/dev/null 2>&1; }
not_in_lmdb() { ! in_lmdb "$1"; }
have_postmap() { command -v postmap >/dev/null 2>&1 && postconf -c "$PFDIR" -m 2>/dev/null | grep -qx lmdb; }

# ms: milliseconds since the epoch
ms() { echo $(($(date +%s%N) / 1000000)); }
# within MS CMD...: CMD succeeds within MS milliseconds (polls every 10 ms;
# gives up after 5 s so a slow machine reports a time, not a hang).
# Sets ELAPSED.
within() {
	_lim=$1; shift
	_t0=$(ms)
	while :; do
		if "$@" 2>/dev/null; then
			ELAPSED=$(($(ms) - _t0))
			[ "$ELAPSED" -le "$_lim" ] && return 0
			echo "# took ${ELAPSED} ms (limit $_lim)"
			return 1
		fi
		[ $(($(ms) - _t0)) -gt 5000 ] && { ELAPSED=timeout; echo "# not within 5 s"; return 1; }
		sleep 0.01
	done
}
