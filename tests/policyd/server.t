#!/bin/sh
# server.t - leafmail-policyd as a server, without Postfix: -t and bad
# settings (78); many requests on one connection and 30 clients at once,
# each answered in order; max-connections: with all slots held by idle
# clients a new one waits, and is answered once idle-timeout has closed
# them; hostile clients (two 64 MiB lines at once, a request of 200,000
# attributes, a request cut off mid-line): each answered 451 4.3.5 (the
# cut-off one not at all) and the server's peak RSS grows by less than
# 10 MB; lines those clients cause are rate-limited (3 per 10 s), every
# one written or counted, with the summary after the flood; a unix socket made
# as the service account with the configured mode, and a clear error
# when the directory is not the service account's to write in; a second
# instance on a port in use exits 69 naming it.
. "$LEAFMAIL_SRC/tests/lib.sh"

PD=$B/leafmail-policyd
[ -x "$PD" ] || skip_all "$PD not built"
command -v python3 >/dev/null || skip_all "python3 missing"
need_run_user || skip_all "cannot create system user leafmail"
umask 022
PORT=$(free_port)
CFG=$T/leafmail.conf
mkdir -p "$T/state"
[ "$(id -u)" -eq 0 ] && chown "$RUSER" "$T/state"

conf() { # SOCKET [EXTRA POLICYD LINES...]
	_sock=$1
	shift
	cat >"$CFG" <<EOF
user = "$RUSER"
run-dir = "$T/run"
state-dir = "$T/state"
log-rate-burst = 3
log-rate-interval = "10s"
relay { table = "$T/state/relay" }
policyd {
  socket = "$_sock"
  max-connections = 8
  idle-timeout = "4s"
  local-domains = { "example.org" }
$(printf '  %s\n' "$@")
}
EOF
}

conf "tcp:nowhere"
"$PD" -c "$CFG" -t >"$T/t.out" 2>&1
check "-t refuses a bad socket (78)" [ $? -eq 78 ] && grep -q "want unix:/PATH" "$T/t.out"
conf "inet:127.0.0.1:$PORT" "max-connections = 0"
"$PD" -c "$CFG" -t >"$T/t.out" 2>&1
check "-t refuses max-connections = 0 (78)" [ $? -eq 78 ]
conf "inet:127.0.0.1:$PORT"
check "-t accepts the configuration" "$PD" -c "$CFG" -t

"$B/leafmail-relayd" -c "$CFG" -a 192.0.2.1 >/dev/null 2>&1
check "relayd -a 192.0.2.1" "$B/leafmail-relayd" -c "$CFG" -l
"$PD" -c "$CFG" -f >"$T/pd.log" 2>&1 &
SPID=$!
track_pid "$SPID"
check "policyd listens" wait_for 10 grep -q "listening on" "$T/pd.log"
# a second one (its own run-dir) on the port in use: 69 and why
mkdir -p "$T/run2"
sed "s|^run-dir = .*|run-dir = \"$T/run2\"|" "$CFG" >"$T/second.conf"
"$PD" -c "$T/second.conf" -f >"$T/second.log" 2>&1
check "a second instance on the same port: exit 69, the address named" \
	[ $? -eq 69 ] && grep -q "127.0.0.1.*$PORT" "$T/second.log" &&
	grep -qi "in use" "$T/second.log"

cat >"$T/client.py" <<'PYEOF'
# client.py PORT SCENARIO: talks to policyd, prints what the test checks
import select, socket, sys, threading, time
port, what = int(sys.argv[1]), sys.argv[2]
MiB = 1 << 20

def conn():
    s = socket.create_connection(("127.0.0.1", port), 30)
    return s, s.makefile("rb")

def req(client, rcpt, sasl=""):
    return ("request=smtpd_access_policy\nprotocol_state=RCPT\n"
            "client_address=%s\nrecipient=%s\nsasl_username=%s\n\n"
            % (client, rcpt, sasl)).encode()

def answer(f):
    a = f.readline().decode().rstrip("\n")
    if f.readline() != b"\n":
        return "BROKEN(" + a + ")"
    return a

if what == "many":
    s, f = conn()
    out = []
    for i in range(50):
        s.sendall(req("192.0.2.1", "x@remote.example"))
        out.append(answer(f))
        s.sendall(req("192.0.2.2", "x@remote.example"))
        out.append(answer(f))
        s.sendall(req("192.0.2.2", "x@example.org"))
        out.append(answer(f))
    # pipelined: three requests in one write, three answers in order
    s.sendall(req("192.0.2.2", "y@remote.example", "alice") +
              req("192.0.2.2", "y@remote.example") + req("192.0.2.1", "z@r.example"))
    out += [answer(f) for _ in range(3)]
    want = ["action=OK", "action=DUNNO", "action=DUNNO"] * 50 + \
           ["action=OK", "action=DUNNO", "action=OK"]
    print("ok" if out == want else "bad %r" % out[:6])
elif what == "concurrent":
    res = []
    def one(i):
        s, f = conn()
        r = []
        for _ in range(20):
            s.sendall(req("192.0.2.1" if i % 2 else "192.0.2.9", "x@remote.example"))
            r.append(answer(f))
        s.close()
        res.append(all(a == ("action=OK" if i % 2 else "action=DUNNO") for a in r))
    ths = [threading.Thread(target=one, args=(i,)) for i in range(30)]
    for t in ths: t.start()
    for t in ths: t.join()
    print("ok" if len(res) == 30 and all(res) else "bad %r" % res)
elif what == "limit":
    held = [conn() for _ in range(8)]
    for s, f in held:  # each is served: all 8 slots are taken now
        s.sendall(req("192.0.2.1", "x@remote.example"))
        answer(f)
    s, f = conn()
    s.sendall(req("192.0.2.1", "x@remote.example"))
    early = "waiting" if not select.select([s], [], [], 1.0)[0] else answer(f)
    t0 = time.time()
    late = answer(f) if early == "waiting" else early
    idle_closed = sum(1 for h, hf in held if hf.read(1) == b"")
    print("%s %s after %.0fs, %d idle closed" % (early, late, time.time() - t0 + 1, idle_closed))
elif what == "hostile":
    res = {}
    def big(i):
        s, f = conn()
        s.sendall(b"recipient=")
        chunk = b"x" * MiB
        for _ in range(64):
            s.sendall(chunk)
        s.sendall(b"\n\n")
        res[i] = answer(f)
        s.sendall(req("192.0.2.1", "x@remote.example"))
        res[i] += " " + answer(f)
    ths = [threading.Thread(target=big, args=(i,)) for i in range(2)]
    for t in ths: t.start()
    for t in ths: t.join()
    s, f = conn()
    s.sendall(b"".join(b"a%d=b\n" % i for i in range(200000)) + b"\n")
    many = answer(f)
    s.sendall(b"request=smtpd_access_policy\nrecipient=xx")  # cut off
    s.shutdown(socket.SHUT_WR)
    cut = f.read()
    print(res.get(0), "|", res.get(1), "|", many, "|", repr(cut.decode()))
elif what == "junk":
    s, f = conn()
    out = []
    for i in range(20):
        s.sendall(b"junk %d\n\n" % i)
        out.append(answer(f))
    print(len([a for a in out if a.startswith("action=451 4.3.5")]))
PYEOF

got=$(python3 "$T/client.py" "$PORT" many)
check "150 requests on one connection and 3 pipelined, answered in order: $got" [ "$got" = ok ]
got=$(python3 "$T/client.py" "$PORT" concurrent)
check "30 clients at once (8 at a time), 20 requests each: $got" [ "$got" = ok ]
got=$(python3 "$T/client.py" "$PORT" limit)
check "max-connections 8: a 9th client waits, answered after idle-timeout closed the 8: $got" \
	sh -c "echo '$got' | grep -q '^waiting action=OK after [1-8]s, 8 idle closed$'"

base=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SPID/status")
lines0=$(wc -l <"$T/pd.log")
got=$(python3 "$T/client.py" "$PORT" hostile)
peak=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SPID/status")
echo "# VmHWM ${base} kB before, ${peak} kB after; $got"
want="action=451 4.3.5 Policy request not understood action=OK"
check "two 64 MiB lines at once: 451, then the next request on the connection is answered" \
	[ "$got" = "$want | $want | action=451 4.3.5 Policy request not understood | ''" ]
check "peak RSS grew by less than 10 MB (${base} -> ${peak} kB)" [ $((peak - base)) -lt 10240 ]

got=$(python3 "$T/client.py" "$PORT" junk)
check "20 junk requests, 20 answers 451 4.3.5" [ "$got" = 20 ]
summary() { tail -n +$((lines0 + 1)) "$T/pd.log" | grep -q 'more bad policy requests not logged (at most 3 per 10 s)'; }
check "the bad requests' lines are summed up after the flood" wait_for 15 summary
n=$(tail -n +$((lines0 + 1)) "$T/pd.log" | grep -c 'policy request refused')
counted=$(tail -n +$((lines0 + 1)) "$T/pd.log" | sed -n 's/.*(\([0-9]*\) more bad policy requests not logged before this one).*/\1/p; s/.* \([0-9]*\) more bad policy requests not logged (at most.*/\1/p' |
	awk '{ n += $1 } END { print n + 0 }')
check "3 lines for 23 bad requests (6 should they straddle a window): $n" [ "$n" -ge 3 ] && [ "$n" -le 6 ]
check "every bad request logged or counted: $n + $counted = 23" [ $((n + counted)) -eq 23 ]

kill -TERM "$SPID"
wait "$SPID"
check "TERM: exit 0" [ $? -eq 0 ]

# A unix socket, put in place by root with its mode, owner and group
# (lib/daemon.c), in the service account's directory.
mkdir -p "$T/sock"
[ "$(id -u)" -eq 0 ] && chown "$RUSER" "$T/sock"
conf "unix:$T/sock/policy.sock" 'socket-mode = "0620"' 'socket-group = ""'
"$PD" -c "$CFG" -f >"$T/pd2.log" 2>&1 &
SPID=$!
track_pid "$SPID"
check "unix socket made" wait_for 10 test -S "$T/sock/policy.sock"
check "owned by the service account and its group, mode 0620" \
	[ "$(stat -c '%U %G %a' "$T/sock/policy.sock")" = "$RUSER $(id -gn "$RUSER") 620" ]
kill -TERM "$SPID"
wait "$SPID"
check "TERM: socket removed" [ ! -e "$T/sock/policy.sock" ]
if [ "$(id -u)" -eq 0 ] && getent group postfix >/dev/null; then
	conf "unix:$T/sock/policy.sock" 'socket-group = "postfix"'
	"$PD" -c "$CFG" -f >"$T/pd3.log" 2>&1 &
	SPID=$!
	track_pid "$SPID"
	check "socket-group postfix" wait_for 10 \
		sh -c "[ \"\$(stat -c '%U %G %a' '$T/sock/policy.sock' 2>/dev/null)\" = '$RUSER postfix 660' ]"
	kill -TERM "$SPID"
	wait "$SPID"
	conf "unix:$T/sock/policy.sock" 'socket-group = "no-such-group-here"'
	"$PD" -c "$CFG" -t >"$T/pd4.log" 2>&1
	rc=$?
	check "a socket-group that does not exist: -t exits 78, says so" \
		[ "$rc" -eq 78 ] && grep -q "socket-group: no group" "$T/pd4.log"
fi
check "no sanitizer report" not grep -qE 'Sanitizer|runtime error' "$T"/pd*.log
