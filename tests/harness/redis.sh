# redis.sh - a private Redis server on loopback for tests (POSIX sh,
# sourced after tests/lib.sh; defines functions only).
#
#   rd_require       skip the test (exit 77) unless redis-server and
#                    redis-cli are installed
#   rd_start DIR PORT [PASSWORD]
#       Start redis-server in the foreground of a background job: bound to
#       127.0.0.1:PORT only, no persistence (save "", appendonly no),
#       working directory DIR, log DIR/redis.log, requirepass PASSWORD when
#       given.  Sets RD_DIR, RD_PORT, RD_PASS, RD_PID (tracked, so cleanup
#       kills it).  Non-zero if it does not answer PING within 10 s.
#       Called again after rd_stop with the same arguments, it restarts the
#       server on the same port (an empty one: nothing is persisted).
#       With RD_PERSIST=1: an append-only file in DIR, fsynced at every
#       write, so a restart keeps every key (as a production Redis does).
#   rd_stop          stop it (TERM, wait); safe to call twice.
#   rd_cli ARGS...   redis-cli against it (authenticated), raw output.
#   rd_ping          it answers PING.

rd_require() {
	for _rdp in redis-server redis-cli; do
		command -v "$_rdp" >/dev/null || skip_all "$_rdp not installed"
	done
}

rd_start() {
	RD_DIR=$1 RD_PORT=$2 RD_PASS=${3:-}
	mkdir -p "$RD_DIR" || return 1
	_rdaof=no
	[ "${RD_PERSIST:-0}" = 1 ] && _rdaof=yes
	set -- --bind 127.0.0.1 --port "$RD_PORT" --save "" --appendonly "$_rdaof" \
		--appendfsync always \
		--dir "$RD_DIR" --logfile "$RD_DIR/redis.log" --daemonize no
	[ -n "$RD_PASS" ] && set -- "$@" --requirepass "$RD_PASS"
	redis-server "$@" &
	RD_PID=$!
	track_pid "$RD_PID"
	wait_for 10 rd_ping ||
		{ echo "rd_start: no answer on 127.0.0.1:$RD_PORT" >&2; tail -5 "$RD_DIR/redis.log" >&2; return 1; }
}

rd_ping() { [ "$(rd_cli PING 2>/dev/null)" = PONG ]; }

rd_cli() {
	# An empty REDISCLI_AUTH is still an AUTH, which a server without
	# requirepass refuses.
	if [ -n "$RD_PASS" ]; then
		REDISCLI_AUTH=$RD_PASS redis-cli -h 127.0.0.1 -p "$RD_PORT" --raw "$@"
	else
		redis-cli -h 127.0.0.1 -p "$RD_PORT" --raw "$@"
	fi
}

rd_stop() {
	[ -n "${RD_PID:-}" ] || return 0
	kill "$RD_PID" 2>/dev/null
	wait "$RD_PID" 2>/dev/null
	RD_PID=""
}
