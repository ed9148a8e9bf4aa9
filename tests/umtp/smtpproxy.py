#!/usr/bin/env python3
"""smtpproxy.py - an SMTP-aware TCP proxy for the UMTP claim tests: it
stands in front of an SMTP server (the injection listener that `umtp
receive` talks to, or the receiving site's smtpd) and controls the one
moment that decides who delivers: the end of a message's DATA.

    smtpproxy.py LISTEN_PORT UPSTREAM_PORT DIR

DIR/mode (read at every end of DATA; missing means "pass") says what to do
when the client has sent the final "." of a message:

    pass              forward it at once
    delay MIN MAX     forward it after a random MIN..MAX ms
    hold-dot          keep the "." until DIR/release.N exists, N the
                      number of this end of DATA (1, 2, ...); a client
                      that disconnects meanwhile aborts the transaction
                      upstream (no "." ever reaches the server)
    hold-reply        forward the "."; keep the server's reply until
                      DIR/release.N exists
    reply TEXT        do not forward the "."; answer TEXT ("451 4.3.0
                      ...") to the client and close both connections

Each end of DATA appends "dot N MODE" to DIR/log, "reply N held" when the
server has answered a held one, "released N" when it goes on, "aborted N"
when its client went away first, so a test can wait for the moment it
wants.  Every
other byte is forwarded as it comes.  The proxy never parses more than it
must: the server's 354 starts a message, the client's CRLF.CRLF ends it.
"""
import asyncio
import os
import random
import sys

DIR = None
count = 0


def log(line):
    with open(os.path.join(DIR, "log"), "a") as f:
        f.write(line + "\n")


def mode():
    try:
        with open(os.path.join(DIR, "mode")) as f:
            return f.read().split(None, 1) or ["pass"]
    except FileNotFoundError:
        return ["pass"]


async def released(n):
    path = os.path.join(DIR, "release.%d" % n)
    while not os.path.exists(path):
        await asyncio.sleep(0.01)
    log("released %d" % n)


class Conn:
    """One client connection and its upstream.  A reader task alone reads
    the client (into a queue), so holding a "." never races a read."""

    def __init__(self, cr, cw, ur, uw):
        self.cr, self.cw, self.ur, self.uw = cr, cw, ur, uw
        self.in_data = False
        self.start = False      # at the start of a message's data
        self.pend = b""         # data bytes not forwarded yet (<= 4)
        self.hold_reply = None  # the N whose reply is held
        self.q = asyncio.Queue()
        self.eof = asyncio.Event()

    def close(self):
        for w in (self.cw, self.uw):
            try:
                w.close()
            except Exception:
                pass

    async def reader(self):
        try:
            while True:
                data = await self.cr.read(65536)
                if not data:
                    break
                await self.q.put(data)
        except ConnectionError:
            pass
        self.eof.set()
        await self.q.put(b"")

    async def send(self, data):
        if data:
            self.uw.write(data)
            await self.uw.drain()

    async def end_of_data(self, rest):
        """The client sent the final ".": rest holds it and what
        followed.  False when the connection is to be dropped."""
        global count
        count += 1
        n = count
        m = mode()
        log("dot %d %s" % (n, m[0]))
        if m[0] == "delay":
            lo, hi = (int(x) for x in m[1].split())
            await asyncio.sleep(random.uniform(lo, hi) / 1000)
        elif m[0] == "hold-dot":
            wait = asyncio.ensure_future(released(n))
            gone = asyncio.ensure_future(self.eof.wait())
            done, _ = await asyncio.wait({wait, gone},
                                         return_when=asyncio.FIRST_COMPLETED)
            for t in (wait, gone):
                if t not in done:
                    t.cancel()
            if wait not in done:
                log("aborted %d" % n)
                return False  # the client went: abort upstream
        elif m[0] == "hold-reply":
            self.hold_reply = n
        elif m[0] == "reply":
            self.cw.write(m[1].strip().encode() + b"\r\n")
            await self.cw.drain()
            log("replied %d" % n)
            return False
        await self.send(rest)
        return True

    async def client_to_server(self):
        try:
            while True:
                data = await self.q.get()
                if not data:
                    break
                if not self.in_data:
                    await self.send(data)
                    continue
                buf = self.pend + data
                off = 2 if self.start else 0
                at = ((b"\r\n" if self.start else b"") + buf).find(b"\r\n.\r\n")
                if at < 0:
                    # keep 4 bytes back: the "." must never go early
                    cut = max(len(buf) - 4, 0)
                    await self.send(buf[:cut])
                    self.pend = buf[cut:]
                    if cut > 0:
                        self.start = False
                    continue
                cut = at - off + 2
                await self.send(buf[:cut])
                self.in_data, self.start, self.pend = False, False, b""
                if not await self.end_of_data(buf[cut:]):
                    break
        except (ConnectionError, asyncio.CancelledError):
            pass
        self.close()

    async def server_to_client(self):
        try:
            while True:
                data = await self.ur.read(65536)
                if not data:
                    break
                if self.hold_reply is not None:
                    n, self.hold_reply = self.hold_reply, None
                    log("reply %d held" % n)
                    await released(n)
                for line in data.split(b"\r\n"):
                    if line.startswith(b"354"):
                        self.in_data, self.start, self.pend = True, True, b""
                self.cw.write(data)
                await self.cw.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        self.close()


async def handle(cr, cw, upstream):
    try:
        ur, uw = await asyncio.open_connection("127.0.0.1", upstream)
    except OSError:
        cw.close()
        return
    c = Conn(cr, cw, ur, uw)
    rd = asyncio.ensure_future(c.reader())
    await asyncio.gather(c.client_to_server(), c.server_to_client())
    rd.cancel()


async def main():
    global DIR
    port, upstream, DIR = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    os.makedirs(DIR, exist_ok=True)
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, upstream), "127.0.0.1", port)
    log("listening %d" % port)
    async with server:
        await server.serve_forever()


asyncio.run(main())
