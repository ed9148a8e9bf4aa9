# tunnel_bench.py - drivers for tests/bench/tunnel_bench.sh (python3).
#
#   sink PORT            discard server: reads a connection to EOF, answers
#                        "ok\n", closes (so the sender times full delivery)
#   lat PORT_A PORT_B N  N sequential short SMTP sessions (connect, read
#                        the banner, QUIT, read 221 and the server's
#                        close, close) to each port, alternating A and B
#                        so both see the same load; prints the median of
#                        each in microseconds.  The session ends as
#                        Postfix ends one: closing before the server has
#                        answered leaves ssh's channel close in flight,
#                        and the next channel open then waits ~40 ms
#                        (Nagle against a delayed ACK on the ssh
#                        connection, which ssh -N does not mark
#                        interactive), whichever path comes next
#   tput PORT MB         send MB megabytes, half-close, wait for "ok";
#                        prints MB/s
#   cold PORT            connect (retrying every 1 ms while refused) until
#                        a 220 banner arrives; prints milliseconds
#   bare SSHARGS...      start ssh with these arguments (they include
#                        -L 127.0.0.1:P:...; P is read from them), then as
#                        `cold P`, then stop ssh; prints milliseconds
import socket, subprocess, sys, threading, time

def sink(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(64)
    def serve(c):
        while c.recv(1 << 20):
            pass
        c.sendall(b"ok\n")
        c.close()
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()

def banner(port, retry):
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port), 10)
        except ConnectionRefusedError:
            if not retry:
                raise
            time.sleep(0.001)
            continue
        d = b""
        while b"\n" not in d:
            b = s.recv(512)
            if not b:
                break
            d += b
        s.close()
        if d.startswith(b"220"):
            return
        if not retry:
            raise RuntimeError("no banner: %r" % d)
        time.sleep(0.001)

def session(port):
    s = socket.create_connection(("127.0.0.1", port), 10)
    d = b""
    while b"\n" not in d:
        b = s.recv(512)
        if not b:
            raise RuntimeError("no banner: %r" % d)
        d += b
    if not d.startswith(b"220"):
        raise RuntimeError("no banner: %r" % d)
    s.sendall(b"QUIT\r\n")
    d = b""
    while True:
        b = s.recv(512)
        if not b:
            break
        d += b
    s.close()
    if not d.startswith(b"221"):
        raise RuntimeError("no 221: %r" % d)

def lat(pa, pb, n):
    session(pa)  # warm-up
    session(pb)
    ta, tb = [], []
    for _ in range(n):
        for port, v in ((pa, ta), (pb, tb)):
            t = time.perf_counter()
            session(port)
            v.append(time.perf_counter() - t)
    ta.sort()
    tb.sort()
    print("%.1f %.1f" % (ta[n // 2] * 1e6, tb[n // 2] * 1e6))

def tput(port, mb):
    chunk = b"x" * (1 << 18)
    s = socket.create_connection(("127.0.0.1", port), 10)
    t = time.perf_counter()
    for _ in range(mb * 4):
        s.sendall(chunk)
    s.shutdown(socket.SHUT_WR)
    d = s.recv(10)
    dt = time.perf_counter() - t
    if d != b"ok\n":
        raise RuntimeError("sink said %r" % d)
    print("%.1f" % (mb / dt))

def cold(port):
    t = time.perf_counter()
    banner(port, True)
    print("%.1f" % ((time.perf_counter() - t) * 1000))

def bare(args):
    spec = args[args.index("-L") + 1]
    port = int(spec.split(":")[1])
    t = time.perf_counter()
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL)
    banner(port, True)
    dt = (time.perf_counter() - t) * 1000
    p.terminate()
    p.wait()
    print("%.1f" % dt)

cmd = sys.argv[1]
if cmd == "sink":
    sink(int(sys.argv[2]))
elif cmd == "lat":
    lat(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
elif cmd == "tput":
    tput(int(sys.argv[2]), int(sys.argv[3]))
elif cmd == "cold":
    cold(int(sys.argv[2]))
elif cmd == "bare":
    bare(sys.argv[2:])
