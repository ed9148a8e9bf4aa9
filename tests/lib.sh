# lib.sh - helpers for tests/*/*.t scripts (sourced, POSIX sh).
# ok/notok print TAP-style lines that tests/run.sh counts; cleanup kills
# only the PIDs this script started (registered with track_pid).
B=${LEAFMAIL_BUILD:?run through tests/run.sh}
S=${LEAFMAIL_SRC:?}
T=${LEAFMAIL_TMP:?}
_pids=""
_cleanups=""
ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; }
# check DESC CMD...: ok when CMD succeeds
check() { d=$1; shift; if "$@"; then ok "$d"; else notok "$d"; fi; }
skip_all() { echo "# skip: $*"; exit 77; }
# not CMD...: CMD fails (for check and wait_for)
not() { ! "$@"; }
# expect DESC PREFIX REPLY: ok when REPLY starts with PREFIX (shown either way)
expect() {
	case $3 in
	"$2"*) ok "$1: $3" ;;
	*) notok "$1: expected $2..., got '$3'" ;;
	esac
}
track_pid() { _pids="$_pids $1"; }
at_exit() { _cleanups="$_cleanups
$*"; }
_cleanup() {
	set +e
	printf '%s\n' "$_cleanups" | while IFS= read -r c; do [ -n "$c" ] && eval "$c"; done
	for p in $_pids; do kill "$p" 2>/dev/null; done
	sleep 0.2
	for p in $_pids; do kill -9 "$p" 2>/dev/null; done
	return 0
}
trap '_cleanup' EXIT
trap 'exit 1' INT TERM HUP
# need_run_user: RUSER is the user the daemons under test switch to: as
# root the system user "leafmail", created when missing (as a package's
# postinst would), otherwise the caller.  Non-zero when it cannot be made.
need_run_user() {
	if [ "$(id -u)" -ne 0 ]; then
		RUSER=$(id -un)
		return 0
	fi
	RUSER=leafmail
	id leafmail >/dev/null 2>&1 && return 0
	useradd --system --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin leafmail >/dev/null 2>&1 ||
		id leafmail >/dev/null 2>&1 # another test was quicker
}
# wait_for SECONDS CMD...: poll CMD every 50 ms until it succeeds
wait_for() {
	_n=$(($1 * 20)); shift
	while [ "$_n" -gt 0 ]; do
		"$@" 2>/dev/null && return 0
		sleep 0.05; _n=$((_n - 1))
	done
	return 1
}
# free_port: a port nothing listens on (loopback, TCP and UDP), never one
# an outgoing connection or another script of this run can take
# (tests/freeport.py)
free_port() {
	python3 "$S/tests/freeport.py"
}
