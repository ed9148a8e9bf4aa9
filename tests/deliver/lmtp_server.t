#!/bin/sh
# lmtp_server.t - `leafmail-deliver -L`, the long-running LMTP server:
# -t checks the configuration; a path that is not a socket is refused and
# left alone; a stale socket (nobody answering) is replaced; the socket
# gets the configured mode; as root the server runs as `user`; the pid
# file is locked (a second instance refuses to start); one session with
# mixed per-recipient results; 20 sessions open at the same time, each
# delivering a complete message; a private Postfix delivering a
# multi-recipient message through `virtual_transport = lmtp:unix:...`
# with each recipient's own status (sent, bounced 5.1.1, deferred 4.2.2);
# an inet: socket on loopback; and SIGTERM with sessions in progress: an
# idle session gets 421 at once, one finishing its DATA within the grace
# time is delivered whole, one stalled in DATA past the grace time is cut
# off with nothing in new/ or tmp/; the server exits 0 and removes its
# socket.  Last, without -f it detaches and TERM to the pid in its pid
# file stops it.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/deliver/common.sh"

command -v python3 >/dev/null || skip_all "python3 missing"
RUN=$T/run
SOCK=$RUN/lmtp.sock
mailbox "alice@example.org" "full@example.org 1000000S,1C" "carol@example.org"
msg_file 0 | "$DELIVER" -c "$CFG" full@example.org >/dev/null

srvconf() { # MODE [EXTRA]
	cat >"$CFG" <<EOF2
user = "$RUSER"
run-dir = "$RUN"
deliver {
  maildir-base = "$BASE"
  mailboxes = "file:$MBOX"
  recipient-delimiter = "+"
  lmtp-socket = "unix:$SOCK"
  lmtp-socket-mode = "$1"
  lmtp-stop-grace = "3s"
  $2
}
EOF2
}

SPID=""
start_server() { # log file
	"$DELIVER" -c "$CFG" -L -f >"$1" 2>&1 &
	SPID=$!
	track_pid "$SPID"
}
stop_server() { # waits; sets src (exit code)
	kill -TERM "$SPID" 2>/dev/null
	wait "$SPID"
	src=$?
}
answers() { [ -S "$SOCK" ] && python3 "$T/lmtpc.py" "$SOCK" ping; }

cat >"$T/lmtpc.py" <<'PYEOF'
# LMTP client for lmtp_server.t: lmtpc.py SOCKET SCENARIO [ARGS]
import socket, sys, time, threading

def conn(path):
    if path.startswith("/"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(20)
        s.connect(path)
    else:  # HOST:PORT
        h, p = path.rsplit(":", 1)
        s = socket.create_connection((h, int(p)), 20)
    return s, s.makefile("rb")

def reply(f):
    lines = []
    while True:
        l = f.readline().decode().rstrip("\r\n")
        if not l:
            return "EOF"
        lines.append(l)
        if len(l) < 4 or l[3] != "-":
            return l

def cmd(s, f, line):
    s.sendall(line.encode() + b"\r\n")
    return reply(f)

def body(n):
    return ("From: a@example.net\r\nSubject: concurrent %d\r\n\r\n" % n +
            "".join("line %d of message %d\r\n" % (i, n) for i in range(200)))

path, what = sys.argv[1], sys.argv[2]
if what == "ping":
    s, f = conn(path)
    sys.exit(0 if reply(f).startswith("220") else 1)
elif what == "mixed":
    s, f = conn(path)
    out = [reply(f)[:3], cmd(s, f, "LHLO c.example.net")[:3],
           cmd(s, f, "MAIL FROM:<s@example.net>")[:3]]
    for r in ["alice@example.org", "nobody@example.org",
              "Full@example.org", "carol+x@example.org"]:
        out.append(cmd(s, f, "RCPT TO:<%s>" % r)[:3])
    out.append(cmd(s, f, "DATA")[:3])
    s.sendall(b"Subject: mixed\r\n\r\n..dot\r\n.\r\n")
    out += [reply(f)[:3] for _ in range(3)]
    out.append(cmd(s, f, "QUIT")[:3])
    print(" ".join(out))
elif what == "concurrent":
    n = int(sys.argv[3])
    cs = [conn(path) for _ in range(n)]
    res = []
    # every session greets and starts its DATA before any finishes: a
    # server taking one session at a time would time out here
    for s, f in cs:
        res.append(reply(f)[:3])
        res.append(cmd(s, f, "LHLO c")[:3])
        res.append(cmd(s, f, "MAIL FROM:<s@example.net>")[:3])
        res.append(cmd(s, f, "RCPT TO:<alice@example.org>")[:3])
        res.append(cmd(s, f, "DATA")[:3])
    ths = []
    def finish(i, s, f):
        s.sendall(body(i).encode() + b".\r\n")
        res.append(reply(f)[:3])
        res.append(cmd(s, f, "QUIT")[:3])
    for i, (s, f) in enumerate(cs):
        t = threading.Thread(target=finish, args=(i, s, f))
        t.start()
        ths.append(t)
    for t in ths:
        t.join()
    bad = [r for r in res if r not in ("220", "250", "354", "221")]
    print("ok" if not bad and len(res) == 7 * n else "bad %r" % bad)
elif what == "term":
    # three sessions, then "ready" is touched so the test sends SIGTERM
    ready = sys.argv[3]
    idle, fi = conn(path)
    reply(fi); cmd(idle, fi, "LHLO idle")
    fin, ff = conn(path)
    reply(ff); cmd(fin, ff, "LHLO fin"); cmd(fin, ff, "MAIL FROM:<s@x.net>")
    cmd(fin, ff, "RCPT TO:<carol@example.org>"); cmd(fin, ff, "DATA")
    fin.sendall(b"Subject: finishes\r\n\r\nfirst half\r\n")
    st, fs = conn(path)
    reply(fs); cmd(st, fs, "LHLO stall"); cmd(st, fs, "MAIL FROM:<s@x.net>")
    cmd(st, fs, "RCPT TO:<alice@example.org>"); cmd(st, fs, "DATA")
    st.sendall(b"Subject: stalls\r\n\r\nfirst half\r\n")
    time.sleep(0.3)
    open(ready, "w").close()
    t0 = time.time()
    idle_r = reply(fi)[:3]
    idle_t = time.time() - t0
    time.sleep(0.5)
    fin.sendall(b"second half\r\n.\r\n")
    fin_r = reply(ff)[:3]
    fin_next = reply(ff)[:3]  # the server says 421 unasked and closes
    st_r = reply(fs)[:3]  # nothing more sent: cut off after the grace
    print("idle=%s%s fin=%s,%s stall=%s" % (idle_r, " fast" if idle_t < 2 else " slow",
          fin_r, fin_next, st_r))
PYEOF

# -t, and a bad socket specification
srvconf 0660
check "-t accepts the configuration" "$DELIVER" -c "$CFG" -L -t
srvconf 0660 'lmtp-max-sessions = 0'
"$DELIVER" -c "$CFG" -L -t >/dev/null 2>&1
check "-t refuses lmtp-max-sessions = 0 (78)" [ $? -eq 78 ]
srvconf 0660
sed -i "s|unix:$SOCK|tcp:nowhere|" "$CFG"
"$DELIVER" -c "$CFG" -L -t >"$T/t.out" 2>&1
check "-t refuses a bad lmtp-socket (78)" [ $? -eq 78 ] && grep -q "lmtp-socket" "$T/t.out"

# A plain file where the socket goes: refused, not removed.
srvconf 0660
mkdir -p "$RUN"
echo precious >"$SOCK"
"$DELIVER" -c "$CFG" -L -f >"$T/s0.log" 2>&1
rc=$?
check "a file in the socket's place: exit 69, file kept" [ "$rc" -eq 69 ] && grep -qx precious "$SOCK"
rm -f "$SOCK"

# A stale socket (its server is gone): removed and replaced.
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()' "$SOCK"
check "stale socket present" [ -S "$SOCK" ]
start_server "$T/s1.log"
check "server answers on the socket that replaced the stale one" wait_for 10 answers
check "socket mode is the configured 0660" [ "$(stat -c %a "$SOCK")" = 660 ]
check "pid file holds the server's pid" [ "$(tr -d ' \n' <"$RUN/leafmail-deliver.pid" 2>/dev/null)" = "$SPID" ]
if [ "$(id -u)" -eq 0 ]; then
	check "runs as $RUSER after binding" [ "$(awk '/^Uid:/ { print $2 }' /proc/"$SPID"/status)" = "$(id -u "$RUSER")" ]
fi
"$DELIVER" -c "$CFG" -L -f >"$T/s2.log" 2>&1
rc=$?
check "a second instance refuses (69), socket untouched" [ "$rc" -eq 69 ] && answers
# Another configuration (its own run-dir, so no pid file conflict) naming
# the same socket: the live socket is not stolen (lib/unixsock.c).
sed "s|run-dir = \"$RUN\"|run-dir = \"$T/run2\"|" "$CFG" >"$T/other.conf"
"$DELIVER" -c "$T/other.conf" -L -f >"$T/s2b.log" 2>&1
rc=$?
check "a server with another run-dir on the live socket: exit 69, clear message" \
	[ "$rc" -eq 69 ] && grep -q "another process is listening on this socket (is leafmail-deliver already running?)" "$T/s2b.log" && answers
stop_server
check "TERM: exit 0 and socket removed" [ "$src" -eq 0 ] && [ ! -e "$SOCK" ]

# From here on mode 0666: Postfix's lmtp client (user postfix) connects.
srvconf 0666
start_server "$T/s3.log"
check "restarted" wait_for 10 answers
check "socket mode is the configured 0666" [ "$(stat -c %a "$SOCK")" = 666 ]

got=$(python3 "$T/lmtpc.py" "$SOCK" mixed)
want="220 250 250 250 550 250 250 354 250 452 250 221"
check "mixed recipients, one reply each: $got" [ "$got" = "$want" ]
check "alice and carol got it, full still has one" [ "$(count "$BASE/example.org/alice/new")" -eq 1 ] && [ "$(count "$BASE/example.org/carol/new")" -eq 1 ] && [ "$(count "$BASE/example.org/full/new")" -eq 1 ]

got=$(python3 "$T/lmtpc.py" "$SOCK" concurrent 20 2>&1)
check "20 concurrent sessions all delivered: $got" [ "$got" = ok ]
check "alice now has 21 messages" [ "$(count "$BASE/example.org/alice/new")" -eq 21 ]
n=0
for f in "$BASE"/example.org/alice/new/*; do
	tail -1 "$f" | grep -q '^line 199 of message' && n=$((n + 1))
done
check "20 complete concurrent messages ($n)" [ "$n" -eq 20 ]

# A private Postfix delivering through lmtp:unix: to the server.
if [ "$(id -u)" -eq 0 ] && command -v postfix >/dev/null &&
	command -v swaks >/dev/null && [ -f "$S/tests/harness/postfix.sh" ]; then
	. "$S/tests/harness/postfix.sh"
	PF=$T/pf
	PORT=$(free_port)
	if pf_start "$PF" "$PORT" deliver-l \
		"virtual_mailbox_domains = example.org" \
		"virtual_mailbox_maps = static:OK" \
		"virtual_transport = lmtp:unix:$SOCK"; then
		echo "lmtp      unix  -       -       n       -       -       lmtp" >>"$PF/etc/master.cf"
		postfix -c "$PF/etc" reload >/dev/null 2>&1
		logged() { pf_log "$PF" | grep -qi "$1"; }
		swaks --server 127.0.0.1 --port "$PORT" --helo client.leafmail.test \
			--from sender@client.test --timeout 10 \
			--to alice@example.org,nobody@example.org,full@example.org,carol@example.org \
			--header "Subject: via postfix lmtp" --body "hello through lmtp" \
			</dev/null >"$T/swaks.log" 2>&1
		check "Postfix accepted the 4-recipient message" grep -q '^<-  250 2.0.0 Ok: queued' "$T/swaks.log"
		check "alice: status=sent via lmtp" wait_for 20 logged "to=<alice@example.org>.*relay=.*lmtp.sock.*status=sent"
		check "carol: status=sent via lmtp" wait_for 20 logged "to=<carol@example.org>.*status=sent"
		check "nobody: bounced with our 5.1.1" wait_for 20 logged "to=<nobody@example.org>.*dsn=5.1.1, status=bounced"
		check "full: deferred with our 4.2.2" wait_for 20 logged "to=<full@example.org>.*dsn=4.2.2, status=deferred"
		f=$(grep -l 'hello through lmtp' "$BASE"/example.org/alice/new/* 2>/dev/null | head -1)
		check "alice's copy has our Return-Path and Delivered-To, Postfix's Received" sh -c "[ -n '$f' ] && head -1 '$f' | grep -qx 'Return-Path: <sender@client.test>' && grep -qx 'Delivered-To: alice@example.org' '$f' && grep -q '^Received: from client.leafmail.test' '$f'"
		check "carol got exactly one copy" [ "$(grep -l 'hello through lmtp' "$BASE"/example.org/carol/new/* 2>/dev/null | wc -l)" -eq 1 ]
		pf_stop "$PF"
	else
		notok "private Postfix did not start"
	fi
else
	echo "# Postfix part skipped (needs root, postfix, swaks)"
fi

# An inet: socket (loopback), then back to the unix one.
IPORT=$(free_port)
# its own run-dir: the unix server still runs and holds the pid file
sed -i -e "s|lmtp-socket = \"unix:$SOCK\"|lmtp-socket = \"inet:127.0.0.1:$IPORT\"|" \
	-e "s|run-dir = \"$RUN\"|run-dir = \"$T/run-inet\"|" "$CFG"
a0=$(count "$BASE/example.org/alice/new")
"$DELIVER" -c "$CFG" -L -f >"$T/s4.log" 2>&1 &
IPID=$!
track_pid "$IPID"
check "inet: server answers on 127.0.0.1:$IPORT" wait_for 10 python3 "$T/lmtpc.py" "127.0.0.1:$IPORT" ping
got=$(python3 "$T/lmtpc.py" "127.0.0.1:$IPORT" concurrent 3 2>&1)
check "inet: 3 concurrent sessions delivered: $got" [ "$got" = ok ]
check "inet: alice has 3 more messages" [ "$(count "$BASE/example.org/alice/new")" -eq $((a0 + 3)) ]
kill -TERM "$IPID"
wait "$IPID"
check "inet: TERM, exit 0" [ $? -eq 0 ]
srvconf 0666

# SIGTERM with sessions in progress.
alice0=$(count "$BASE/example.org/alice/new")
carol0=$(count "$BASE/example.org/carol/new")
python3 "$T/lmtpc.py" "$SOCK" term "$T/ready" >"$T/term.out" 2>&1 &
cpid=$!
track_pid "$cpid"
wait_for 10 [ -e "$T/ready" ]
kill -TERM "$SPID"
wait "$cpid"
wait "$SPID"
src=$?
got=$(cat "$T/term.out")
check "TERM: idle session 421 at once, finishing one delivered then 421, stalled one 421: $got" [ "$got" = "idle=421 fast fin=250,421 stall=421" ]
check "TERM: exit 0, socket removed" [ "$src" -eq 0 ] && [ ! -e "$SOCK" ]
check "TERM: the finished message is in carol/new, whole" sh -c "[ $(count "$BASE/example.org/carol/new") -eq $((carol0 + 1)) ] && grep -l '^second half' '$BASE'/example.org/carol/new/* >/dev/null"
check "TERM: nothing of the stalled message in alice/new or tmp/" [ "$(count "$BASE/example.org/alice/new")" -eq "$alice0" ] && [ "$(count "$BASE/example.org/alice/tmp")" -eq 0 ]
check "no sanitizer report from the server" sh -c "! grep -q 'Sanitizer' '$T'/s*.log"

# Without -f: detaches (the command returns at once), the pid file names
# the running server, TERM through that pid stops it.
"$DELIVER" -c "$CFG" -L >"$T/s5.log" 2>&1
check "without -f: the command returns 0" [ $? -eq 0 ]
check "detached server answers" wait_for 10 answers
dpid=$(tr -d ' \n' <"$RUN/leafmail-deliver.pid" 2>/dev/null)
check "pid file names the detached server" [ -n "$dpid" ] && kill -0 "$dpid" 2>/dev/null
[ -n "$dpid" ] && track_pid "$dpid" && kill -TERM "$dpid"
gone() { ! kill -0 "$dpid" 2>/dev/null; }
check "detached server stops on TERM, socket removed" wait_for 10 gone && [ ! -e "$SOCK" ]
