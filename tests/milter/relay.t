#!/bin/sh
# relay.t - leafmail-milter's relay policy over the real milter protocol.
#
# The relay table is built by Postfix's own `postmap -N lmdb:` so that the
# milter is proven to read what Postfix reads (key "IP\0", value
# "EXPIRY\0").  Each case drives the milter with miltertest (rcpt.lua:
# continue or reply; sessions.lua: interleaved connections); the exact
# SMTP reply (550 5.7.1 / 451 4.3.0) comes from rcptreply.py, because
# miltertest only reports that a reply was set; the decision's log line is
# checked too.  Then the table's failure modes (garbage, deleted,
# recreated, missing or garbage at start), start-up refusals (second
# instance, socket in use, path not a socket, -t) and a stale socket.
#
# As root the milter must switch to a real non-root user: the system user
# "leafmail" is created if missing (need_run_user, tests/lib.sh).
. "$LEAFMAIL_SRC/tests/lib.sh"

M=$B/leafmail-milter
D=$S/tests/milter
command -v miltertest >/dev/null 2>&1 || skip_all "miltertest not installed"
command -v postmap >/dev/null 2>&1 || skip_all "postmap (postfix) not installed"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"
[ -x "$M" ] || { notok "no $M: build it first"; exit 1; }

need_run_user || { notok "create system user leafmail"; exit 1; }
RUNAS=$RUSER

RUN=$T/run
SOCK=$RUN/milter.sock
CONF=$T/leafmail.conf
LOG=$T/milter.log
TABLE=$T/relay
now=$(date +%s)
future=$((now + 3600))
past=$((now - 60))
DENY="550 5.7.1 Relaying denied. Check your mail (POP3/IMAP) first, then send within 30 minutes, or use SMTP AUTH"
TEMPFAIL="451 4.3.0 Relay permission cannot be checked now, try again later"

# write_conf FILE RUN_DIR SOCKET_SPEC
write_conf() {
	cat >"$1" <<EOF
user = "$RUNAS"
state-dir = "$T/state"
run-dir = "$2"
relay {
  table = "$TABLE"
  expire = "30m"
}
milter {
  socket = "$3"
  socket-mode = "0660"
  local-domains = { "example.org" }
  trusted-networks = { "192.0.2.0/24" }
}
# every decision below is checked in the log: more than the default burst
log-rate-burst = 1000
EOF
}
write_conf "$CONF" "$RUN" "unix:$SOCK"

# make_table: the relay table, written by Postfix's postmap.
mkdir -p "$T/postfix"
: >"$T/postfix/main.cf"
make_table() {
	printf '127.0.0.2 %s\n10.1.1.1 %s\n2001:db8::5 %s\n' \
		"$future" "$past" "$future" >"$TABLE"
	postmap -c "$T/postfix" -N "lmdb:$TABLE" && chmod 0644 "$TABLE.lmdb"
}
make_table || { notok "postmap -N lmdb:$TABLE"; exit 1; }
cp "$TABLE.lmdb" "$T/good.lmdb"
# The format BRIEF fixes, as Postfix writes it: key and value NUL-terminated.
if command -v mdb_dump >/dev/null 2>&1; then
	check "postmap -N writes key+NUL -> expiry+NUL" \
		sh -c "mdb_dump -p -n '$TABLE.lmdb' | grep -qx ' 127.0.0.2\\\\00'"
fi

MPID=
# start_milter CONF: run the milter in the foreground, logging to $LOG, and
# wait until it says it listens (a stale socket file is there before that).
start_milter() {
	_m=$(wc -l <"$LOG")
	"$M" -f -c "$1" >>"$LOG" 2>&1 &
	MPID=$!
	track_pid "$MPID"
	wait_for 20 sh -c "tail -n +$((_m + 1)) '$LOG' | grep -q 'started on'" &&
		{ [ "${2:-}" = inet ] || test -S "$SOCK"; }
}
stop_milter() {
	kill "$MPID" 2>/dev/null
	wait "$MPID"
}

# Log lines written since the last mark.
mark() { MARK=$(wc -l <"$LOG"); }
since_mark() { tail -n +"$((MARK + 1))" "$LOG"; }

# mt DESC IP RCPT continue|reply [AUTH]: one transaction with miltertest.
mt() {
	_out=$(MT_SOCKET="unix:$SOCK" MT_IP=$2 MT_RCPT=$3 MT_EXPECT=$4 \
		MT_AUTH=${5:-} miltertest -s "$D/rcpt.lua" 2>&1)
	if [ $? -eq 0 ]; then
		ok "$1"
	else
		notok "$1"
		printf '%s\n' "$_out" | sed 's/^/# /'
	fi
}
# wire DESC IP RCPT EXPECTED [AUTH]: the exact answer on the wire.
wire() {
	_got=$(python3 "$D/rcptreply.py" "$SOCK" "$2" "$3" ${5:+"$5"} 2>&1)
	if [ "$_got" = "$4" ]; then
		ok "$1"
	else
		notok "$1"
		echo "# got:  $_got"
		echo "# want: $4"
	fi
}
# logged DESC TEXT: a log line since the mark contains TEXT.
logged() {
	if since_mark | grep -qF -- "$2"; then
		ok "$1"
	else
		notok "$1"
		echo "# no log line with: $2"
		since_mark | tail -5 | sed 's/^/# /'
	fi
}

: >"$LOG"
check "-t accepts the test configuration" "$M" -t -c "$CONF"
start_milter "$CONF" || { notok "milter starts and listens on $SOCK"; tail "$LOG"; exit 1; }
ok "milter starts and listens on $SOCK"
check "socket mode 0660, owned by $RUNAS" \
	test "$(stat -c '%a %U' "$SOCK")" = "660 $RUNAS"
check "milter runs as $RUNAS" \
	test "$(ps -o uid= -p "$MPID" | tr -d ' ')" = "$(id -u "$RUNAS")"
check "pid file holds the milter's pid" \
	test "$(cat "$RUN/leafmail-milter.pid")" = "$MPID"

# --- the policy ---
mark
mt "local domain from an unknown client" 203.0.113.7 "<user@example.org>" continue
mt "local domain: case and trailing dot ignored" 203.0.113.7 "<User@EXAMPLE.Org.>" continue
mt "no domain at all is local" 203.0.113.7 "<postmaster>" continue
logged "local decision logged" "client=203.0.113.7 rcpt=<user@example.org> relay=allowed reason=local-domain"
mark
mt "trusted network may relay" 192.0.2.10 "<x@remote.example>" continue
logged "trusted decision logged" "client=192.0.2.10 rcpt=<x@remote.example> relay=allowed reason=trusted"
mark
mt "SMTP AUTH ({auth_authen}) may relay" 203.0.113.7 "<x@remote.example>" continue alice
wire "SMTP AUTH: wire answer" 203.0.113.7 "<x@remote.example>" continue alice
logged "auth decision logged" "client=203.0.113.7 rcpt=<x@remote.example> relay=allowed reason=smtp-auth"
mark
mt "in the relay table: may relay" 127.0.0.2 "<a@remote.example>" continue
logged "table decision logged with expiry" "client=127.0.0.2 rcpt=<a@remote.example> relay=allowed reason=pop-auth expires="
mark
mt "expired entry: rejected" 10.1.1.1 "<a@remote.example>" reply
wire "expired entry: 550 5.7.1 with advice" 10.1.1.1 "<a@remote.example>" "$DENY"
logged "denial logged" "client=10.1.1.1 rcpt=<a@remote.example> relay=denied reason=not-authenticated"
mt "not in the table: rejected" 203.0.113.7 "<a@remote.example>" reply
wire "not in the table: 550 5.7.1" 203.0.113.7 "<a@remote.example>" "$DENY"
mark
mt "IPv6 in the table: may relay" 2001:db8::5 "<a@remote.example>" continue
mt "IPv6 written long-hand: canonical lookup" 2001:DB8:0:0:0:0:0:5 "<a@remote.example>" continue
logged "IPv6 logged in canonical form" "client=2001:db8::5 rcpt=<a@remote.example> relay=allowed reason=pop-auth"
mt "IPv4-mapped client found as IPv4" ::ffff:127.0.0.2 "<a@remote.example>" continue
mt "IPv6 not in the table: rejected" 2001:db8::6 "<a@remote.example>" reply
wire "IPv6 not in the table: 550 5.7.1" 2001:db8::6 "<a@remote.example>" "$DENY"
mt "no client address: rejected" unspec "<a@remote.example>" reply
mt "no client address: local still accepted" unspec "<a@example.org>" continue

# Recipient syntax.
mt "quoted local part with @ to a remote domain" 203.0.113.7 '<"a@example.org"@remote.example>' reply
mt "quoted local part with @ in the table" 127.0.0.2 '<"a@example.org"@remote.example>' continue
mt "quoted local part with a space, local" 203.0.113.7 '<"john doe"@example.org>' continue
mt "source route to a local mailbox" 203.0.113.7 "<@relay.example,@b.example:user@example.org>" continue
mt "source route through a local domain to a remote one" 203.0.113.7 "<@example.org:user@remote.example>" reply
mark
mt "percent hack in a local domain needs permission" 203.0.113.7 "<user%remote.example@example.org>" reply
logged "routing local part noted" "relay=denied reason=not-authenticated (local domain, but the local part routes)"
mt "bang path in a local domain needs permission" 203.0.113.7 "<remote.example!user@example.org>" reply
mt "quoted @ in a local domain needs permission" 203.0.113.7 '<"user@remote.example"@example.org>' reply
mark
mt "recipient with CR LF: rejected" 203.0.113.7 "<a@remote.example>
FORGED relay=allowed" reply
logged "control characters escaped in the log" 'rcpt=<a@remote.example>\x0aFORGED relay=allowed relay=denied'
check "no forged log line" sh -c "! grep -q '^FORGED' '$LOG'"

out=$(MT_SOCKET="unix:$SOCK" MT_IP_ALLOWED=127.0.0.2 MT_IP_DENIED=203.0.113.7 \
	MT_LOCAL="<u@example.org>" MT_REMOTE="<r@remote.example>" \
	miltertest -s "$D/sessions.lua" 2>&1)
if [ $? -eq 0 ]; then ok "interleaved connections keep their own client"; else
	notok "interleaved connections keep their own client"; printf '%s\n' "$out" | sed 's/^/# /'; fi

# A login during a session counts at its next RCPT (no per-session answer
# is kept); postmap -i / -d change the table in place under Postfix's lock.
out=$(MT_SOCKET="unix:$SOCK" MT_IP=198.51.100.77 MT_REMOTE="<r@remote.example>" \
	MT_LOGIN="echo '198.51.100.77 $future' | postmap -c '$T/postfix' -N -i 'lmdb:$TABLE'" \
	MT_LOGOUT="postmap -c '$T/postfix' -N -d 198.51.100.77 'lmdb:$TABLE'" \
	miltertest -s "$D/midlogin.lua" 2>&1)
if [ $? -eq 0 ]; then ok "a login mid-session allows the next RCPT, a removal refuses it"; else
	notok "a login mid-session allows the next RCPT, a removal refuses it"; printf '%s\n' "$out" | sed 's/^/# /'; fi

# Many at once: libmilter's worker threads share the table and the policy.
i=0
while [ $i -lt 12 ]; do
	MT_SOCKET="unix:$SOCK" MT_IP_ALLOWED=127.0.0.2 MT_IP_DENIED=203.0.113.$((i + 1)) \
		MT_LOCAL="<u$i@example.org>" MT_REMOTE="<r$i@remote.example>" \
		miltertest -s "$D/sessions.lua" >"$T/par.$i" 2>&1 &
	eval "par_$i=\$!"
	i=$((i + 1))
done
i=0 bad=0
while [ $i -lt 12 ]; do
	eval "wait \$par_$i" || { bad=$((bad + 1)); sed 's/^/# /' "$T/par.$i"; }
	i=$((i + 1))
done
check "12 concurrent session pairs decided correctly" test "$bad" -eq 0

# --- the table under the running milter ---
printf 'this is not an LMDB file\n%.0s' $(seq 1 400) >"$T/garbage"
mv "$T/garbage" "$TABLE.lmdb"
mark
mt "garbage table: temporary failure" 127.0.0.2 "<a@remote.example>" reply
wire "garbage table: 451 4.3.0, never an open relay" 127.0.0.2 "<a@remote.example>" "$TEMPFAIL"
logged "table error logged" "client=127.0.0.2 rcpt=<a@remote.example> relay=tempfail reason=table-error: "
mt "garbage table: local domain still accepted" 127.0.0.2 "<a@example.org>" continue
cp "$T/good.lmdb" "$TABLE.new" && mv "$TABLE.new" "$TABLE.lmdb"
mt "table restored: may relay again" 127.0.0.2 "<a@remote.example>" continue
rm -f "$TABLE.lmdb"
mt "table deleted: empty table, rejected" 127.0.0.2 "<a@remote.example>" reply
wire "table deleted: 550 5.7.1, not 451" 127.0.0.2 "<a@remote.example>" "$DENY"
make_table
mt "table recreated by postmap: may relay again" 127.0.0.2 "<a@remote.example>" continue

# --- refusals while it runs ---
"$M" -f -c "$CONF" >"$T/second.out" 2>&1
rc=$?
check "second instance, same config: exit 69" test "$rc" -eq 69
check "second instance says it is already running" grep -q "already running" "$T/second.out"
write_conf "$T/other.conf" "$T/run2" "unix:$SOCK"
"$M" -f -c "$T/other.conf" >"$T/other.out" 2>&1
rc=$?
check "another milter on the same socket: exit 69" test "$rc" -eq 69
check "socket in use: clear message" grep -q "another process is listening on this socket (is leafmail-milter already running?)" "$T/other.out"
check "socket in use: socket left alone" test -S "$SOCK"
mt "first milter still serves" 127.0.0.2 "<a@remote.example>" continue
: >"$T/notsock"
write_conf "$T/notsock.conf" "$T/run3" "unix:$T/notsock"
"$M" -f -c "$T/notsock.conf" >"$T/notsock.out" 2>&1
rc=$?
check "socket path is a regular file: exit 69" test "$rc" -eq 69
check "regular file not removed" test -f "$T/notsock"
check "not a socket: clear message" grep -q "is not a socket" "$T/notsock.out"

# --- clean stop ---
stop_milter
rc=$?
check "SIGTERM: clean exit 0" test "$rc" -eq 0
check "clean exit removes the socket" test ! -e "$SOCK"

# --- missing table at start ---
rm -f "$TABLE.lmdb"
start_milter "$CONF" || notok "start without a table"
mark
mt "missing table at start: rejected, no crash" 127.0.0.2 "<a@remote.example>" reply
wire "missing table at start: 550 5.7.1" 127.0.0.2 "<a@remote.example>" "$DENY"
mt "missing table at start: local accepted" 127.0.0.2 "<a@example.org>" continue
make_table
mt "table created later: may relay" 127.0.0.2 "<a@remote.example>" continue

# --- a killed milter leaves a stale socket ---
kill -9 "$MPID"
wait "$MPID" 2>/dev/null
check "killed milter leaves its socket behind" test -S "$SOCK"
mark
start_milter "$CONF" || notok "start over a stale socket"
logged "stale socket removed" "removed stale socket $SOCK"
mt "new milter serves after a stale socket" 127.0.0.2 "<a@remote.example>" continue
stop_milter

# --- garbage table at start: starts, 451, then recovers ---
printf 'garbage%.0s' $(seq 1 2000) >"$TABLE.lmdb"
mark
start_milter "$CONF" || notok "start with a garbage table"
logged "unreadable table at start is reported" "get 451 until it can be read"
wire "garbage table at start: 451 4.3.0" 127.0.0.2 "<a@remote.example>" "$TEMPFAIL"
cp "$T/good.lmdb" "$TABLE.new" && mv "$TABLE.new" "$TABLE.lmdb"
mt "garbage table replaced: may relay" 127.0.0.2 "<a@remote.example>" continue
stop_milter

# --- configuration check ---
cat >"$T/bad.conf" <<EOF
user = "$RUNAS"
milter {
  socket = "unix:$SOCK"
  no-such-key = 1
}
EOF
"$M" -t -c "$T/bad.conf" >"$T/bad.out" 2>&1
rc=$?
check "-t on an unknown key: exit 78" test "$rc" -eq 78
check "-t names file and line" grep -q "^$T/bad.conf:4:" "$T/bad.out"
sed 's/"0660"/"0999"/' "$CONF" >"$T/mode.conf"
"$M" -t -c "$T/mode.conf" >"$T/mode.out" 2>&1
check "-t on a bad socket-mode: exit 78" test "$?" -eq 78
"$M" -t -c "$T/does-not-exist.conf" >/dev/null 2>&1
check "-t on a missing file: exit 78" test "$?" -eq 78

# --- an inet socket on loopback ---
PORT=$(free_port)
write_conf "$T/inet.conf" "$T/run4" "inet:$PORT@127.0.0.1"
if start_milter "$T/inet.conf" inet; then
	ok "milter listens on inet:$PORT@127.0.0.1"
	_out=$(MT_SOCKET="inet:$PORT@127.0.0.1" MT_IP=127.0.0.2 \
		MT_RCPT="<a@remote.example>" MT_EXPECT=continue \
		miltertest -s "$D/rcpt.lua" 2>&1)
	check "inet socket: table lookup works" test $? -eq 0
	stop_milter
	check "inet socket: clean exit" test $? -eq 0
else
	notok "milter listens on inet:$PORT@127.0.0.1"
fi

# --- options ---
"$M" -V | grep -q "^leafmail-milter [0-9]"
check "-V prints the version" test $? -eq 0
"$M" -h | grep -q "^usage: leafmail-milter"
check "-h prints usage" test $? -eq 0
"$M" -x >/dev/null 2>&1
check "unknown option: exit 64" test $? -eq 64
