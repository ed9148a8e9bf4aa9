#!/bin/sh
# bounds.t - leafmail-deliver keeps hostile input bounded (issue 11):
#   LMTP server (-L): two sessions at once each send a 64 MiB command
#   line (500 5.5.2, the session goes on) and then a 64 MiB single-line
#   message and a 3 MB message in ordinary lines (552 5.3.4 for each
#   recipient after the final dot, the session still in step: the next
#   transaction delivers); the server's peak RSS (VmHWM) grows by less
#   than 40 MB (it grew by 128 MiB and more per session before); MAIL with
#   SIZE= over the limit gets 552 5.3.4 at once, LHLO announces SIZE; no
#   file is left in the refused recipients' Maildirs; a message of
#   exactly max-message-size is delivered.  Lines the clients cause are
#   rate-limited: with log-rate-burst 2 per 10 s, 12 unknown commands give
#   2 lines, and every other one is counted in the summary that follows.
#   LMTP on stdin (-l): a 64 MiB command line and a 64 MiB message,
#   peak RSS bounded, 552 5.3.4.
#   Pipe mode: a 200 MiB single-line message with the default limit
#   (10240000): "5.3.4" first on the output, exit 69, nothing delivered,
#   peak RSS bounded; a message of exactly the limit is delivered, one
#   byte more is refused.
. "$LEAFMAIL_SRC/tests/lib.sh"
. "$S/tests/deliver/common.sh"

command -v python3 >/dev/null || skip_all "python3 missing"
RUN=$T/run
SOCK=$RUN/lmtp.sock
LIMIT=1000000
mailbox "alice@example.org" "bob@example.org" "carol@example.org"

cat >"$CFG" <<EOF2
user = "$RUSER"
run-dir = "$RUN"
log-rate-burst = 100
log-rate-interval = "2s"
deliver {
  maildir-base = "$BASE"
  mailboxes = "file:$MBOX"
  lmtp-socket = "unix:$SOCK"
  lmtp-socket-mode = "0666"
  max-message-size = $LIMIT
}
EOF2

cat >"$T/flood.py" <<'PYEOF'
# LMTP client for bounds.t: flood.py SOCKET SCENARIO [ARGS]
import socket, sys, threading

MiB = 1 << 20

def conn(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(120)
    s.connect(path)
    return s, s.makefile("rb")

def reply(f):
    lines = []
    while True:
        l = f.readline().decode(errors="replace").rstrip("\r\n")
        if not l:
            return "EOF"
        lines.append(l)
        if len(l) < 4 or l[3] != "-":
            return "\n".join(lines)

def cmd(s, f, line):
    s.sendall(line.encode() + b"\r\n")
    return reply(f)

def send_big_line(s, nbytes, end=b"\r\n"):
    chunk = b"x" * MiB
    left = nbytes
    while left > 0:
        s.sendall(chunk[:min(left, MiB)])
        left -= MiB
    s.sendall(end)

def txn(s, f, rcpts):
    out = [cmd(s, f, "MAIL FROM:<s@example.net>")[:3]]
    out += [cmd(s, f, "RCPT TO:<%s>" % r)[:3] for r in rcpts]
    out.append(cmd(s, f, "DATA")[:3])
    return out

def hostile(path, res, i):
    s, f = conn(path)
    out = [reply(f)[:3], cmd(s, f, "LHLO flood%d" % i)[:3]]
    # a 64 MiB command line
    send_big_line(s, 64 * MiB)
    out.append(reply(f)[:9])
    out.append(cmd(s, f, "NOOP")[:3])
    # a 64 MiB single-line message for two recipients
    out += txn(s, f, ["alice@example.org", "bob@example.org"])
    s.sendall(b"Subject: big line\r\n\r\n")
    send_big_line(s, 64 * MiB)
    s.sendall(b".\r\n")
    out += [reply(f)[:9] for _ in range(2)]
    # a 3 MB message in ordinary lines, dot-stuffed lines among them
    out += txn(s, f, ["alice@example.org"])
    line = b"." + b"y" * 76 + b"\r\n"
    s.sendall(b"Subject: many lines\r\n\r\n" + line * (3 * 1000 * 1000 // len(line)) + b".\r\n")
    out.append(reply(f)[:9])
    # still in step: a small message is delivered
    out += txn(s, f, ["carol@example.org"])
    s.sendall(b"Subject: after the flood %d\r\n\r\nsmall\r\n.\r\n" % i)
    out.append(reply(f)[:9])
    out.append(cmd(s, f, "QUIT")[:3])
    res[i] = " ".join(out)

path, what = sys.argv[1], sys.argv[2]
if what == "hostile":
    res = {}
    ths = [threading.Thread(target=hostile, args=(path, res, i)) for i in range(2)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    for i in range(2):
        print(res.get(i, "thread failed"))
elif what == "size":
    s, f = conn(path)
    reply(f)
    ehlo = cmd(s, f, "LHLO c")
    size = [l for l in ehlo.split("\n") if l[4:].startswith("SIZE")]
    out = [size[0][4:] if size else "no SIZE"]
    out.append(cmd(s, f, "MAIL FROM:<s@example.net> SIZE=%d" % (int(sys.argv[3]) + 1))[:9])
    out.append(cmd(s, f, "MAIL FROM:<s@example.net> SIZE=%d" % int(sys.argv[3]))[:3])
    out.append(cmd(s, f, "RSET")[:3])
    # exactly the limit, counted as stored: LF line ends, unstuffed
    limit = int(sys.argv[3])
    body = b"Subject: exact\n\n"
    body += b"z" * (limit - len(body) - 1) + b"\n"
    out += txn(s, f, ["carol@example.org"])
    s.sendall(body.replace(b"\n", b"\r\n") + b".\r\n")
    out.append(reply(f)[:9])
    print(" | ".join(out))
elif what == "junk":
    s, f = conn(path)
    reply(f)
    out = [cmd(s, f, "BOGUS%d" % i)[:3] for i in range(int(sys.argv[3]))]
    out.append(cmd(s, f, "QUIT")[:3])
    print(" ".join(out))
PYEOF

hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
files_in() { # the files under a recipient's Maildir (new, cur, tmp)
	find "$BASE/example.org/$1" -type f 2>/dev/null | grep -c '/\(new\|cur\|tmp\)/'
}

"$DELIVER" -c "$CFG" -L -f >"$T/server.log" 2>&1 &
SPID=$!
track_pid "$SPID"
answers() { [ -S "$SOCK" ] && python3 "$T/flood.py" "$SOCK" junk 0 >/dev/null; }
check "LMTP server started" wait_for 10 answers

# A normal delivery first, so the baseline includes what one costs.
got=$(python3 "$T/flood.py" "$SOCK" size "$LIMIT")
check "LHLO announces SIZE, MAIL SIZE= over the limit 552 5.3.4, at the limit 250, a message of exactly the limit delivered: $got" \
	[ "$got" = "SIZE $LIMIT | 552 5.3.4 | 250 | 250 | 250 | 250 | 354 | 250 2.0.0" ]
c0=$(files_in carol)
base=$(hwm "$SPID")
got=$(python3 "$T/flood.py" "$SOCK" hostile)
peak=$(hwm "$SPID")
want="220 250 500 5.5.2 250 250 250 250 354 552 5.3.4 552 5.3.4 250 250 354 552 5.3.4 250 250 354 250 2.0.0 221"
n=0
printf '%s\n' "$got" | while IFS= read -r l; do [ "$l" = "$want" ] || echo "# got:  $l"; done
n=$(printf '%s\n' "$got" | grep -cxF "$want")
check "two sessions: 64 MiB command line 500 5.5.2, 64 MiB line and 3 MB messages 552 5.3.4 per recipient, then in step" [ "$n" -eq 2 ]
echo "# server VmHWM ${base} kB before, ${peak} kB after two 64 MiB floods"
check "server peak RSS grew by less than 40 MB (${base} -> ${peak} kB)" [ $((peak - base)) -lt 40960 ]
check "nothing of the refused messages in alice's or bob's Maildir" [ "$(files_in alice)" -eq 0 ] && [ "$(files_in bob)" -eq 0 ]
check "the small messages after the floods were delivered" [ "$(files_in carol)" -eq $((c0 + 2)) ]
check "refused messages logged as bounced (too big)" grep -q 'to=<bob@example.org>, status=bounced (message larger than max-message-size, 1000000 bytes)' "$T/server.log"

# Rate-limited lines: the server again, with a burst of 2.
kill -TERM "$SPID"
wait "$SPID"
check "server: TERM, exit 0" [ $? -eq 0 ]
sed -i -e 's/^log-rate-burst = 100/log-rate-burst = 2/' \
	-e 's/^log-rate-interval = "2s"/log-rate-interval = "10s"/' "$CFG"
"$DELIVER" -c "$CFG" -L -f >>"$T/server.log" 2>&1 &
SPID=$!
track_pid "$SPID"
check "LMTP server restarted with log-rate-burst 2" wait_for 10 answers
lines0=$(wc -l <"$T/server.log")
got=$(python3 "$T/flood.py" "$SOCK" junk 12)
check "12 unknown commands answered 500 each" [ "$(echo "$got" | tr ' ' '\n' | grep -c '^500$')" -eq 12 ]
summary() { tail -n +$((lines0 + 1)) "$T/server.log" | grep -q 'more refusals of LMTP client input not logged (at most 2 per 10 s)'; }
check "periodic summary after the flood stops" wait_for 15 summary
n=$(tail -n +$((lines0 + 1)) "$T/server.log" | grep -c 'unrecognized command')
counted=$(tail -n +$((lines0 + 1)) "$T/server.log" | sed -n 's/.*(\([0-9]*\) more refusals of LMTP client input not logged before this one).*/\1/p; s/.* \([0-9]*\) more refusals of LMTP client input not logged (at most.*/\1/p' |
	awk '{ n += $1 } END { print n + 0 }')
check "2 of 12 unknown commands logged (4 should they straddle a window): $n" [ "$n" -ge 2 ] && [ "$n" -le 4 ]
check "every one logged or counted: $n + $counted = 12" [ $((n + counted)) -eq 12 ]
tail -n +$((lines0 + 1)) "$T/server.log" | sed 's/^/# /' | head -8

kill -TERM "$SPID"
wait "$SPID"
check "server: TERM, exit 0" [ $? -eq 0 ]
check "no sanitizer report from the server" sh -c "! grep -q Sanitizer '$T/server.log'"

# peakrss.py KIND NBYTES CMD...: run CMD with stdin written here; print
# its exit code, its peak RSS in kB (VmHWM, read from /proc while it still
# runs, after it has taken the whole flood: rusage would count the
# Python process it was forked from) and what it answered: for "lmtp" the
# final reply codes (with the enhanced code of 4xx/5xx), for "pipe" the
# first word of its output.
cat >"$T/peakrss.py" <<'PYEOF2'
import subprocess, sys
kind, nbytes = sys.argv[1], int(sys.argv[2])
p = subprocess.Popen(sys.argv[3:], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT)
MiB = 1 << 20

def hwm():
    with open("/proc/%d/status" % p.pid) as f:
        return [l.split()[1] for l in f if l.startswith("VmHWM:")][0]

def final_replies(n):
    got = []
    while len(got) < n:
        l = p.stdout.readline().decode(errors="replace").rstrip("\r\n")
        if not l:
            break
        if len(l) > 3 and l[3] == " ":
            got.append(l[:9] if l[0] in "45" else l[:3])
    return got

def flood(n):
    left = n
    while left > 0:
        p.stdin.write(b"x" * min(left, MiB))
        left -= MiB

if kind == "lmtp":
    p.stdin.write(b"LHLO c\r\n")
    flood(64 * MiB)
    p.stdin.write(b"\r\nMAIL FROM:<s@example.net>\r\nRCPT TO:<alice@example.org>\r\n"
                  b"DATA\r\nSubject: big\r\n\r\n")
    flood(64 * MiB)
    p.stdin.write(b"\r\n.\r\n")
    p.stdin.flush()
    got = final_replies(7)  # 220 LHLO 500 MAIL RCPT 354 552
    peak = hwm()
    p.stdin.write(b"QUIT\r\n")
    p.stdin.close()
    got += final_replies(1)
    out = " ".join(got)
else:
    p.stdin.write(b"Subject: one long line\n\n")
    flood(nbytes)
    p.stdin.write(b"\n")
    p.stdin.flush()
    peak = hwm()  # it waits for the end of input before answering
    p.stdin.close()
    out = p.stdout.read().decode(errors="replace").split(" ")[0]
print(p.wait(), peak, out)
PYEOF2

# -l: LMTP on stdin/stdout
a0=$(files_in alice)
set -- $(python3 "$T/peakrss.py" lmtp 0 "$DELIVER" -c "$CFG" -l)
echo "# -l: exit $1, peak RSS $2 kB: $*"
check "-l: 64 MiB command line 500 5.5.2, 64 MiB message 552 5.3.4" [ "$*" = "0 $2 220 250 500 5.5.2 250 250 354 552 5.3.4 221" ]
check "-l: peak RSS below 40 MB ($2 kB)" [ "$2" -lt 40960 ]
check "-l: nothing delivered" [ "$(files_in alice)" -eq "$a0" ]

# Pipe mode with the default limit (10240000 bytes).
write_conf
set -- $(python3 "$T/peakrss.py" pipe $((200 * 1024 * 1024)) "$DELIVER" -c "$CFG" -f s@example.net alice@example.org)
echo "# pipe: exit $1, peak RSS $2 kB, output: $3 ..."
check "pipe: a 200 MiB line: 5.3.4 first, exit 69" [ "$1" -eq 69 ] && [ "$3" = 5.3.4 ]
check "pipe: peak RSS below 64 MB with the default 10 MB limit ($2 kB)" [ "$2" -lt 65536 ]
check "pipe: nothing delivered" [ "$(files_in alice)" -eq "$a0" ]

# Exactly at the limit: delivered; one byte more: refused.
write_conf "max-message-size = 5000"
head -c 5000 /dev/zero | tr '\0' 'a' >"$T/m5000"
dl alice@example.org <"$T/m5000"
expect "pipe: a message of exactly max-message-size is delivered" 0 "2.0.0"
{ cat "$T/m5000"; printf b; } | { dl alice@example.org; echo "$rc $out" >"$T/over"; }
read -r rc out <"$T/over"
expect "pipe: one byte over max-message-size: 5.3.4, exit 69" 69 "5.3.4"
check "pipe: only the message at the limit was delivered" [ "$(files_in alice)" -eq $((a0 + 1)) ]
write_conf "max-message-size = 0"
"$DELIVER" -c "$CFG" -L -t >"$T/t0.out" 2>&1
check "max-message-size = 0 is a configuration error (78)" [ $? -eq 78 ] && grep -q "max-message-size" "$T/t0.out"
