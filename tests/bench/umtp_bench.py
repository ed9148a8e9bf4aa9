#!/usr/bin/env python3
"""umtp_bench.py - datagrams and drivers for umtp_bench.sh.

  gen p1|p2 KEYFILE N OUT [RCPT]
      N distinct packets (own Message-ID each) into OUT, each as a u16
      big-endian length then the packet.  p1: the seed's format (MD5 of
      secret || packet), p2: protocol 2 as umtp(5) describes it.
  paced HOST PORT PKTFILE BATCH COUNTER TIMEOUT
      send BATCH packets, wait until COUNTER reaches what was sent, go on;
      prints "sent=N done=N seconds=S".  COUNTER: dir:PATH (files *.msg
      in PATH) or log:PATH:TEXT (lines of PATH containing TEXT).
  burst HOST PORT PKTFILE
      every packet back to back from one socket; prints "sent=N seconds=S"
  settle COUNTER WANT QUIET TIMEOUT
      wait until COUNTER reaches WANT or has not moved for QUIET seconds;
      prints the count
  latency SMTPPORT N GAP UMTPDIR SMTPDIR
      N messages through an SMTP server (site A), GAP seconds apart; for
      each, the time from the end of DATA to the first file naming its
      Message-ID in UMTPDIR (the peer's injection sink) and in SMTPDIR (the
      SMTP path's sink); prints percentiles in ms for both.
"""
import gzip, hashlib, hmac, os, smtplib, socket, struct, sys, time


def key_of(path):
    with open(path, "rb") as f:
        return f.read()


def msg(i):
    return ("Message-ID: <bench%d.%d@example.org>\nFrom: alice@example.org\n"
            "To: bob@example.net\nSubject: bench %d\n\nbody %d\n" %
            (i, os.getpid(), i, i)).encode()


def gzip1952(data):
    return gzip.compress(data, 9, mtime=0)


def p1(key, rcpt, data):
    z = gzip1952(data)
    body = rcpt.encode() + b"\0" + z
    pkt = struct.pack(">H", len(body) + 16) + body
    return pkt + hashlib.md5(key + pkt).digest()


def p2(key, rcpt, data, mid):
    kid = hashlib.sha256(b"UMTP key id\0" + key).digest()[:8]
    z = gzip1952(data)
    r = rcpt.encode()
    m = mid.encode()
    pkt = (b"\xffUM\x02\x00" + kid + struct.pack(">II", 0, int(time.time())) +
           os.urandom(16) + b"\0" + b"\1" + bytes([len(r)]) + r +
           bytes([len(m)]) + m + struct.pack(">H", len(z)) + z)
    return pkt + hmac.new(key, pkt, hashlib.sha256).digest()[:16]


def read_pkts(path):
    out = []
    with open(path, "rb") as f:
        d = f.read()
    i = 0
    while i < len(d):
        (n,) = struct.unpack(">H", d[i:i + 2])
        out.append(d[i + 2:i + 2 + n])
        i += 2 + n
    return out


class Counter:
    def __init__(self, spec):
        kind, rest = spec.split(":", 1)
        self.kind = kind
        if kind == "dir":
            self.path = rest
        else:
            self.path, self.text = rest.split(":", 1)
            self.pos = 0
            self.n = 0
            self.tail = b""

    def count(self):
        if self.kind == "dir":
            try:
                return sum(1 for e in os.listdir(self.path) if e.endswith(".msg"))
            except FileNotFoundError:
                return 0
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                d = self.tail + f.read()
                self.pos = f.tell()
        except FileNotFoundError:
            return 0
        lines = d.split(b"\n")
        self.tail = lines.pop()
        t = self.text.encode()
        self.n += sum(1 for l in lines if t in l)
        return self.n


def main(a):
    cmd = a[0]
    if cmd == "gen":
        proto, keyf, n, out = a[1], a[2], int(a[3]), a[4]
        rcpt = a[5] if len(a) > 5 else "bob@example.net"
        key = key_of(keyf)
        with open(out, "wb") as f:
            for i in range(n):
                d = msg(i)
                mid = "<bench%d.%d@example.org>" % (i, os.getpid())
                p = p1(key, rcpt, d) if proto == "p1" else p2(key, rcpt, d, mid)
                f.write(struct.pack(">H", len(p)) + p)
    elif cmd == "paced":
        host, port, pkts, batch, ctr, tmo = a[1], int(a[2]), read_pkts(a[3]), int(a[4]), Counter(a[5]), float(a[6])
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        base = ctr.count()
        t0 = time.monotonic()
        sent = 0
        done = 0
        for i in range(0, len(pkts), batch):
            for p in pkts[i:i + batch]:
                s.sendto(p, (host, port))
                sent += 1
            while True:
                done = ctr.count() - base
                if done >= sent or time.monotonic() - t0 > tmo:
                    break
                time.sleep(0.002)
            if done < sent:
                break
        print("sent=%d done=%d seconds=%.3f" % (sent, done, time.monotonic() - t0))
    elif cmd == "burst":
        host, port, pkts = a[1], int(a[2]), read_pkts(a[3])
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t0 = time.monotonic()
        for p in pkts:
            s.sendto(p, (host, port))
        print("sent=%d seconds=%.3f" % (len(pkts), time.monotonic() - t0))
    elif cmd == "settle":
        ctr, want, quiet, tmo = Counter(a[1]), int(a[2]), float(a[3]), float(a[4])
        t0 = time.monotonic()
        last, since = -1, time.monotonic()
        while True:
            n = ctr.count()
            if n != last:
                last, since = n, time.monotonic()
            if n >= want or time.monotonic() - since > quiet or time.monotonic() - t0 > tmo:
                break
            time.sleep(0.05)
        print(n)
    elif cmd == "latency":
        port, n, gap, udir, sdir = int(a[1]), int(a[2]), float(a[3]), a[4], a[5]
        lu, ls = [], []
        for i in range(n):
            mid = "<lat%d.%d@example.org>" % (i, os.getpid())
            body = ("From: alice@example.org\r\nTo: bob@example.net\r\n"
                    "Subject: latency %d\r\nMessage-ID: %s\r\n\r\nhello\r\n" % (i, mid))
            c = smtplib.SMTP("127.0.0.1", port, timeout=10)
            c.ehlo("client.bench")
            c.mail("alice@example.org")
            c.rcpt("bob@example.net")
            # the milter sends the datagram during DATA: look before
            seen = {udir: set(os.listdir(udir)), sdir: set(os.listdir(sdir))}
            t0 = time.monotonic()
            c.data(body)
            got = {}
            while len(got) < 2 and time.monotonic() - t0 < 10:
                for d in (udir, sdir):
                    if d in got:
                        continue
                    for e in os.listdir(d):
                        if e in seen[d]:
                            continue
                        try:
                            with open(os.path.join(d, e), "rb") as f:
                                if mid.encode() in f.read():
                                    got[d] = time.monotonic() - t0
                                    break
                        except OSError:
                            pass
                time.sleep(0.0005)
            c.quit()
            if udir in got:
                lu.append(got[udir] * 1000)
            if sdir in got:
                ls.append(got[sdir] * 1000)
            time.sleep(gap)

        def pct(v, p):
            if not v:
                return "-"
            v = sorted(v)
            return "%.1f" % v[min(len(v) - 1, int(p * len(v)))]
        print("umtp n=%d p50_ms=%s p90_ms=%s max_ms=%s" % (len(lu), pct(lu, .5), pct(lu, .9), pct(lu, 1)))
        print("smtp n=%d p50_ms=%s p90_ms=%s max_ms=%s" % (len(ls), pct(ls, .5), pct(ls, .9), pct(ls, 1)))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
