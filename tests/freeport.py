#!/usr/bin/env python3
"""freeport.py - print a port on which nothing listens, for a test server.

Two kinds of collision this avoids (tests/lib.sh's free_port calls it):
- with outgoing connections: the port is taken below the kernel's
  ephemeral range (ip_local_port_range), from which connect() picks its
  local ports, so no client can occupy it between now and the test's
  bind();
- with scripts running side by side (tests/run.sh, LEAFMAIL_JOBS): a
  port handed out once in a run of the suite is never handed out again,
  recorded in the file LEAFMAIL_PORTS names, under an exclusive lock.
The port is free for TCP and UDP on 127.0.0.1 and, where there is one,
::1.  Exit 1 when none is found.
"""
import fcntl
import os
import random
import socket
import sys


def ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def bindable(port):
    for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            try:
                s = socket.socket(fam, kind)
            except OSError:
                continue  # no IPv6 here
            try:
                s.bind((host, port))
            except OSError as e:
                if fam == socket.AF_INET6 and e.errno == 99:  # no ::1
                    continue
                return False
            finally:
                s.close()
    return True


def main():
    hi = min(ephemeral_low(), 65536) - 1
    lo = max(1024, hi - 12000)
    path = os.environ.get("LEAFMAIL_PORTS")
    f = None
    used = set()
    if path:
        f = open(path, "a+")
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        used = {int(x) for x in f.read().split() if x.isdigit()}
    for _ in range(2000):
        p = random.randint(lo, hi)
        if p in used or not bindable(p):
            continue
        if f:
            f.write("%d\n" % p)
            f.flush()
        print(p)
        return 0
    print("freeport: no free port in %d-%d" % (lo, hi), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
