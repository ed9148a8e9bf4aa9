#!/usr/bin/env python3
"""notifyd.py SOCKET OUT [CHECK [term|hold]] - systemd's side of sd_notify(3), for tests.

Listens on the unix datagram socket SOCKET (what NOTIFY_SOCKET names) and
appends every message it gets to OUT, one line per assignment.  When a
message says READY=1 it also checks, at that moment, that the daemon
already serves what its unit promises, and appends LISTENING=yes or
LISTENING=no: CHECK is unix:/PATH or tcp:HOST:PORT (a connection must be
accepted) or udp:HOST:PORT (a socket must be bound there), or absent.
With "term", the daemon (MAINPID) gets SIGTERM the moment READY=1 comes
instead, as from a `systemctl stop` right after the start: the earliest
moment a stop is legitimate.  With "hold", its receive queue is filled
first (net.unix.max_dgram_qlen), so that the daemon's READY=1 blocks in
sendmsg() until notifyd gets SIGUSR1: the test can signal the daemon
while it is provably still inside sd_notify(), then let it go on.
Runs until killed.
"""
import os
import signal
import socket
import sys


def listening(check):
    kind, _, where = check.partition(":")
    try:
        if kind == "unix":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(2)
            s.connect(where)
            s.close()
            return True
        host, _, port = where.rpartition(":")
        if kind == "tcp":
            socket.create_connection((host, int(port)), 2).close()
            return True
        if kind == "udp":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.bind((host, int(port)))
            except OSError:
                return True  # taken: the daemon has it
            finally:
                s.close()
            return False
    except OSError:
        return False
    return False


def main():
    path, out = sys.argv[1], sys.argv[2]
    check = sys.argv[3] if len(sys.argv) > 3 else ""
    term = len(sys.argv) > 4 and sys.argv[4] == "term"
    hold = len(sys.argv) > 4 and sys.argv[4] == "hold"
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o666)  # the daemon sends as its user
    if hold:
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
        f = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        f.setblocking(False)
        try:
            while True:
                f.sendto(b"FILLER=1", path)
        except BlockingIOError:
            pass
        with open(out, "a") as o:
            o.write("HOLDING=1\n")
        signal.sigwait([signal.SIGUSR1])
    while True:
        msg = s.recv(4096).decode("utf-8", "replace")
        lines = [l for l in msg.split("\n") if l and l != "FILLER=1"]
        if not lines:
            continue
        if "READY=1" in lines and term:
            for l in lines:
                if l.startswith("MAINPID="):
                    os.kill(int(l[8:]), signal.SIGTERM)
                    lines.append("TERM-SENT")
        elif "READY=1" in lines and check and check != "none":
            lines.append("LISTENING=" + ("yes" if listening(check) else "no"))
        with open(out, "a") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
