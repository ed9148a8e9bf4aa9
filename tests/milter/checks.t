#!/bin/sh
# checks.t - leafmail-milter's velocity limit, HELO check, required
# headers and SIGUSR1 reload, over the real milter protocol.
#
# Each check is driven twice: with miltertest (checks.lua, helomail.lua:
# refused or not, at which stage) and with milterchat.py for the exact SMTP
# reply, which miltertest cannot show.  The decision's log line is
# checked too.  The reload part holds one session open across SIGUSR1 and
# shows that it keeps the configuration it started with while new
# sessions get the new one.
. "$LEAFMAIL_SRC/tests/lib.sh"

M=$B/leafmail-milter
D=$S/tests/milter
command -v miltertest >/dev/null 2>&1 || skip_all "miltertest not installed"
command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"
[ -x "$M" ] || { notok "no $M: build it first"; exit 1; }

need_run_user || { notok "create system user leafmail"; exit 1; }
RUNAS=$RUSER

RUN=$T/run
SOCK=$RUN/milter.sock
CONF=$T/leafmail.conf
LOG=$T/milter.log
: >"$LOG"
HOST=$(hostname | tr 'A-Z' 'a-z')

# write_conf MAX HELO_CHECK HEADERS
write_conf() {
	cat >"$CONF.new" <<EOF2
user = "$RUNAS"
state-dir = "$T/state"
run-dir = "$RUN"
relay {
  table = "$T/relay"
  expire = "30m"
}
milter {
  socket = "unix:$SOCK"
  local-domains = { "example.org" }
  trusted-networks = { "192.0.2.0/24" }
  max-connections-per-minute = $1
  helo-check = $2
  required-headers = { $3 }
}
# every refusal below is checked in the log: more than the default burst
log-rate-burst = 1000
EOF2
	chmod 0644 "$CONF.new"
	mv "$CONF.new" "$CONF"
}

MPID=
start_milter() {
	_m=$(wc -l <"$LOG")
	"$M" -f -c "$CONF" >>"$LOG" 2>&1 &
	MPID=$!
	track_pid "$MPID"
	wait_for 20 sh -c "tail -n +$((_m + 1)) '$LOG' | grep -q 'started on'" &&
		test -S "$SOCK"
}
mark() { MARK=$(wc -l <"$LOG"); }
since_mark() { tail -n +"$((MARK + 1))" "$LOG"; }
logged() {
	if since_mark | grep -qF -- "$2"; then ok "$1"; else
		notok "$1"; echo "# no log line with: $2"
		since_mark | tail -5 | sed 's/^/# /'
	fi
}
# chat DESC EXPECTED IP [milterchat options]: the exact answer
chat() {
	_d=$1 _w=$2
	shift 2
	_got=$(python3 "$D/milterchat.py" "unix:$SOCK" "$@" 2>&1)
	if [ "$_got" = "$_w" ]; then ok "$_d"; else
		notok "$_d"; echo "# got:  $_got"; echo "# want: $_w"
	fi
}
# mt DESC EXPECT IP HELO HEADERS: checks.lua with miltertest
mt() {
	_out=$(MT_SOCKET="unix:$SOCK" MT_EXPECT=$2 MT_IP=$3 MT_HELO=$4 \
		MT_HEADERS=$5 miltertest -s "$D/checks.lua" 2>&1)
	if [ $? -eq 0 ]; then ok "$1"; else
		notok "$1"; printf '%s\n' "$_out" | sed 's/^/# /'
	fi
}

HDRS="From: a@example.net|Date: Sun, 22 Nov 2026 08:00:00 +0000"
VEL="connect: 421 4.7.0 Too many connections from your address, try again later"

write_conf 3 true '"From", "Date"'
check "-t accepts the configuration" "$M" -t -c "$CONF"
start_milter || { notok "milter starts"; tail "$LOG"; exit 1; }
ok "milter starts"

# --- velocity ---
mark
mt "velocity: 1st connection passes" none 203.0.113.9 client.example "$HDRS"
mt "velocity: 2nd connection passes" none 203.0.113.9 client.example "$HDRS"
chat "velocity: 3rd connection passes" "connect: continue" 203.0.113.9 --until connect
mt "velocity: 4th connection in a minute refused (miltertest)" connect 203.0.113.9
chat "velocity: 5th gets 421 4.7.0" "$VEL" 203.0.113.9
logged "velocity refusal logged" "client=203.0.113.9 velocity=refused connections=4 limit=3"
chat "velocity: another address still passes" "connect: continue" 203.0.113.10 --until connect
chat "velocity: IPv4-mapped form counts as the same address" "$VEL" ::ffff:203.0.113.9 --until connect
i=0
while [ $i -lt 6 ]; do
	python3 "$D/milterchat.py" "unix:$SOCK" 192.0.2.10 --until connect >"$T/trusted.$i" 2>&1
	i=$((i + 1))
done
check "velocity: trusted network exempt (6 connections)" \
	sh -c "cat '$T'/trusted.* | grep -vx 'connect: continue' | wc -l | grep -qx 0"
i=0
while [ $i -lt 4 ]; do
	python3 "$D/milterchat.py" "unix:$SOCK" 2001:db8::9 --until connect >"$T/v6.$i" 2>&1
	i=$((i + 1))
done
check "velocity: IPv6 client limited too" grep -qxF "$VEL" "$T/v6.3"
check "velocity: IPv6 first three pass" \
	sh -c "cat '$T/v6.0' '$T/v6.1' '$T/v6.2' | grep -cx 'connect: continue' | grep -qx 3"

# --- HELO ---
mark
mt "HELO literal of the client's address passes" none 203.0.113.20 "[203.0.113.20]" "$HDRS"
mt "HELO literal of another address refused (miltertest)" helo 203.0.113.21 "[203.0.113.20]"
chat "HELO literal mismatch: 550 5.7.1" \
	"helo: 550 5.7.1 HELO/EHLO address literal does not match your address" \
	203.0.113.22 --helo "[198.51.100.1]"
logged "HELO refusal logged" "client=203.0.113.22 helo=[198.51.100.1] helo=refused reason=literal-mismatch"
chat "HELO IPv6 literal long-hand matches" "eom: continue" 2001:db8::20 \
	--helo "[IPv6:2001:DB8:0:0::20]" --header "From: a" --header "Date: b"
chat "HELO IPv6 literal without the IPv6: tag is not an address" \
	"helo: 550 5.7.1 HELO/EHLO address literal is not an address" 2001:db8::21 --helo "[IPv6:192.0.2.1]"
chat "HELO malformed literal refused" \
	"helo: 550 5.7.1 HELO/EHLO address literal is not an address" 203.0.113.23 --helo "[not-an-address]"
chat "HELO naming a local domain refused" \
	"helo: 550 5.7.1 HELO/EHLO names a domain of this site: say who you are" \
	203.0.113.24 --helo "Example.ORG."
logged "local-domain claim logged" "reason=claims-local-domain"
mt "HELO naming a local domain from a trusted client passes" none 192.0.2.11 example.org "$HDRS"
chat "HELO naming this host ($HOST) refused" \
	"helo: 550 5.7.1 HELO/EHLO names this host: say who you are" 203.0.113.25 --helo "$HOST"
chat "HELO naming the MTA's {j} refused" \
	"helo: 550 5.7.1 HELO/EHLO names this host: say who you are" \
	203.0.113.26 --j mx.example.net --helo MX.example.net
chat "HELO naming an address of this host refused" \
	"helo: 550 5.7.1 HELO/EHLO names an address of this host: say who you are" \
	203.0.113.27 --helo 127.0.0.1
chat "an honest HELO passes" "eom: continue" 203.0.113.28 --helo mail.example.net \
	--header "From: a" --header "Date: b"
out=$(MT_SOCKET="unix:$SOCK" MT_IP=203.0.113.29 MT_HELO=example.org \
	miltertest -s "$D/helomail.lua" 2>&1)
check "MAIL after a refused HELO refused too (miltertest)" test $? -eq 0
chat "MAIL after a refused HELO: 550 5.7.1" \
	"mail: 550 5.7.1 HELO/EHLO names a domain of this site: say who you are" \
	203.0.113.30 --persist --helo example.org | sed -n '$p'
chat "a second, honest HELO clears the refusal" "eom: continue" 203.0.113.31 \
	--persist --helo example.org --helo client.example.net --header "From: a" \
	--header "Date: b" | sed -n '$p'

# --- required headers ---
mark
mt "all required headers: message passes" none 203.0.113.40 client.example "$HDRS"
mt "missing Date refused at end of headers (miltertest)" eoh 203.0.113.41 client.example "From: a@example.net"
chat "missing Date: 550 5.6.0 naming it" \
	"eoh: 550 5.6.0 Message refused: required header Date: is missing" \
	203.0.113.42 --header "From: a@example.net" --header "Subject: hi"
chat "no headers at all: From named first" \
	"eoh: 550 5.6.0 Message refused: required header From: is missing" 203.0.113.43
chat "header names match in any case" "eom: continue" 203.0.113.44 \
	--header "fROM: a" --header "DATE: b"
logged "missing header logged" "client=203.0.113.42 header=Date message=refused reason=missing-header"
chat "a second message on one connection is judged afresh" "eom: continue" 203.0.113.45 \
	--header "From: a" --header "Date: b" --body "hello"

# --- negotiation: no UMTP, so no body is asked for ---
flags=$(python3 "$D/milterchat.py" "unix:$SOCK" 203.0.113.46 --flags --until connect | sed -n 1p)
pf=$(printf '%s\n' "$flags" | awk '{print $2}')
check "no body requested when nothing reads it (SMFIP_NOBODY)" \
	test $(( pf & 0x10 )) -ne 0
check "headers still requested (required-headers on)" test $(( pf & 0x20 )) -eq 0

# --- reload (SIGUSR1) ---
# A session opened under the old configuration, held after MAIL.
rm -f "$T/go"
python3 "$D/milterchat.py" "unix:$SOCK" 203.0.113.50 --pause "$T/go" \
	--header "From: a" --header "Date: b" >"$T/held.out" 2>&1 &
HELD=$!
track_pid "$HELD"
sleep 0.5
write_conf 0 false '"Subject"'
mark
kill -USR1 "$MPID"
wait_for 10 sh -c "tail -n +$((MARK + 1)) '$LOG' | grep -q 'configuration reloaded'"
logged "SIGUSR1 reloads the configuration" "configuration reloaded from $CONF (generation 2)"
check "the milter still runs after SIGUSR1" kill -0 "$MPID"
chat "new session: new required headers apply" \
	"eoh: 550 5.6.0 Message refused: required header Subject: is missing" \
	203.0.113.51 --header "From: a" --header "Date: b"
chat "new session: helo-check now off" "eom: continue" 203.0.113.52 --helo example.org \
	--header "Subject: s"
chat "new session: velocity now off" "connect: continue" 203.0.113.9 --until connect
: >"$T/go"
wait "$HELD"
check "session in progress kept its configuration (no Subject needed)" \
	grep -qx "eom: continue" "$T/held.out"
# A broken file changes nothing.
printf 'milter {\n  no-such-key = 1\n}\n' >"$CONF"
mark
kill -USR1 "$MPID"
wait_for 10 sh -c "tail -n +$((MARK + 1)) '$LOG' | grep -q 'reload failed'"
logged "a broken configuration is refused on reload" "reload failed: still using the configuration of generation 2"
logged "the error names file and line" "$CONF:2:"
chat "the old configuration still applies" \
	"eoh: 550 5.6.0 Message refused: required header Subject: is missing" \
	203.0.113.53 --header "From: a"
# Velocity counts survive a reload.
write_conf 3 false ''
mark
kill -USR1 "$MPID"
wait_for 10 sh -c "tail -n +$((MARK + 1)) '$LOG' | grep -q 'configuration reloaded'"
chat "velocity back on: counts kept across reloads" "$VEL" 203.0.113.9 --until connect
write_conf 3 false '' 
sed 's|socket = "unix:|socket = "unix:/elsewhere|' "$CONF" >"$CONF.x" && mv "$CONF.x" "$CONF"
mark
kill -USR1 "$MPID"
wait_for 10 sh -c "tail -n +$((MARK + 1)) '$LOG' | grep -q 'configuration reloaded'"
logged "a changed socket is reported as needing a restart" "socket changed from"

# --- configuration check ---
write_conf 3 true '"From:"'
"$M" -t -c "$CONF" >"$T/t.out" 2>&1
check "-t refuses a header name with a colon: exit 78" test $? -eq 78
check "-t names the key" grep -q "required-headers" "$T/t.out"
write_conf -1 true ''
"$M" -t -c "$CONF" >/dev/null 2>&1
check "-t refuses a negative max-connections-per-minute" test $? -eq 78

kill "$MPID"
wait "$MPID"
check "SIGTERM after reloads: clean exit 0" test $? -eq 0
