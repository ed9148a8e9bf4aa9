# many.py PORT N [TIMEOUT] - N SMTP dialogs at once (EHLO, MAIL, RCPT,
# DATA, QUIT), all connecting together; prints "ok N failed M (421: K)"
# (K of the failures were a 421 reply) and the first few failures.  Used by tests/tunneld/concurrency.t and the bench.
import asyncio, sys

port, n = int(sys.argv[1]), int(sys.argv[2])
timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 60.0

async def reply(r):
    lines = []
    while True:
        line = await r.readline()
        if not line:
            raise EOFError("EOF after %r" % lines)
        lines.append(line)
        if len(line) < 4 or line[3:4] != b"-":
            return line[:3].decode(), lines

async def dialog(i):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    try:
        steps = [(None, "220"), (b"EHLO c%d\r\n" % i, "250"),
                 (b"MAIL FROM:<a%d@example.org>\r\n" % i, "250"),
                 (b"RCPT TO:<b@example.org>\r\n", "250"), (b"DATA\r\n", "354"),
                 (b"Subject: %d\r\n\r\nhello %d\r\n.\r\n" % (i, i), "250"),
                 (b"QUIT\r\n", "221")]
        for send, want in steps:
            if send:
                w.write(send)
                await w.drain()
            code, lines = await reply(r)
            if code != want:
                raise RuntimeError("%s: want %s got %r" % (send, want, lines))
        return None
    finally:
        w.close()

async def main():
    tasks = [asyncio.wait_for(dialog(i), timeout) for i in range(n)]
    res = await asyncio.gather(*tasks, return_exceptions=True)
    bad = [r for r in res if r is not None]
    n421 = sum(1 for b in bad if "421 " in str(b))
    print("ok %d failed %d (421: %d)" % (n - len(bad), len(bad), n421))
    for b in bad[:5]:
        print("  %r" % (b,))

asyncio.run(main())
