# restarts.py - start a daemon over and over, for tests/security/race.t.
#
#   python3 restarts.py [-k] [-u PATH] N READY LOG CMD...
#
# N times: start CMD (as root), then either wait until its output has a
# line containing READY (up to 5 s) and stop it 0-5 ms later, or stop it
# 0-20 ms after the start, wherever it is in its start-up; the choice and
# the delays are random.  SIGTERM, then wait.  All output goes to LOG.
# Prints "started S of N" (fewer than N when the 90 s budget ran out).  -u PATH: remove PATH before each start unless
# it is a socket: a link the attacker left at a socket's name makes the
# next start refuse (not a socket), which would end the race.  -k: stop
# with SIGKILL (libmilter takes up to 5 s to notice a SIGTERM).
import os
import random
import select
import signal
import stat
import subprocess
import sys
import time

args = sys.argv[1:]
clean = None
sig = signal.SIGTERM
if args[0] == "-k":
    sig, args = signal.SIGKILL, args[1:]
if args[0] == "-u":
    clean, args = args[1], args[2:]
n, ready, log, cmd = int(args[0]), args[1].encode(), args[2], args[3:]
started = 0
budget = time.monotonic() + 90
with open(log, "ab") as lf:
    for i in range(n):
        if clean is not None and os.path.lexists(clean) and \
                not stat.S_ISSOCK(os.lstat(clean).st_mode):
            os.unlink(clean)
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        fd = p.stdout.fileno()
        os.set_blocking(fd, False)
        out = b""
        if random.random() < 0.5:
            deadline = time.monotonic() + 5
            while ready not in out and p.poll() is None and time.monotonic() < deadline:
                r, _, _ = select.select([fd], [], [], 0.01)
                if r:
                    out += os.read(fd, 65536) or b""
            if ready in out:
                started += 1
            time.sleep(random.uniform(0, 0.005))
        else:
            time.sleep(random.uniform(0, 0.02))
        if p.poll() is None:
            p.send_signal(sig)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        try:
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                out += chunk
        except BlockingIOError:
            pass
        took = time.monotonic() - t0
        lf.write(b"--- run %d (%.3f s)\n" % (i, took) + out)
        if time.monotonic() > budget:
            break
print("started %d of %d" % (started, i + 1))
