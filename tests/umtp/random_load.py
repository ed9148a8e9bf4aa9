#!/usr/bin/env python3
"""random_load.py - the messages of exactly_once_random.t, and the count.

    random_load.py send PORT COUNT SEED MANIFEST [PAUSE_MS]
        Submit COUNT messages over SMTP to 127.0.0.1:PORT (site S), on a
        few connections, one every 0..PAUSE_MS ms (default 300).  Each has
        its own Subject, goes to bob@b.test and bob@c.test and, at random,
        to carol@b.test, dave@b2.test, carol@c.test and eve@d.test; one in
        four has no Message-ID (S's milter adds one).  MANIFEST gets one
        line per message: "SUBJECT RCPT,RCPT,...".  Exit 1 when a message
        is not accepted.
    random_load.py check MANIFEST SINKDIR...
        Count, in the smtp-sink capture files of the SINKDIRs, the copies
        of each (Subject, recipient).  Prints one line per recipient that
        did not get exactly one copy, and a summary; exit 0 when every
        recipient of every message has exactly one and nothing else came.
"""
import glob
import random
import smtplib
import sys
import time


def send(port, count, seed, manifest, pause_ms=300):
    rnd = random.Random(seed)
    conn = None
    with open(manifest, "w") as out:
        for i in range(count):
            if conn is None or i % 50 == 0:
                if conn is not None:
                    conn.quit()
                conn = smtplib.SMTP("127.0.0.1", port, "client.a.test", 20)
            rcpts = ["bob@b.test", "bob@c.test"]
            for r, p in (("carol@b.test", 0.3), ("dave@b2.test", 0.2),
                         ("carol@c.test", 0.3), ("eve@d.test", 0.2)):
                if rnd.random() < p:
                    rcpts.append(r)
            subject = "random-%d-%d" % (seed, i)
            msg = "From: alice@a.test\r\nTo: undisclosed-recipients:;\r\n"
            msg += "Subject: %s\r\n" % subject
            if rnd.random() >= 0.25:
                msg += "Message-ID: <r%d.%d@a.test>\r\n" % (i, seed)
            msg += "\r\nmessage %d\r\n" % i
            refused = conn.sendmail("alice@a.test", rcpts, msg)
            if refused:
                print("refused: %s %s" % (subject, refused))
                return 1
            out.write("%s %s\n" % (subject, ",".join(rcpts)))
            out.flush()
            time.sleep(rnd.uniform(0, pause_ms) / 1000)
    conn.quit()
    return 0


def check(manifest, sinkdirs):
    want = {}
    with open(manifest) as f:
        for line in f:
            subject, rcpts = line.split()
            for r in rcpts.split(","):
                want[(subject, r)] = 0
    extra = {}
    for d in sinkdirs:
        for path in glob.glob(d + "/m.*"):
            subject, rcpts = None, []
            with open(path, errors="replace") as f:
                for line in f:
                    if line.startswith("X-Rcpt-Args: <"):
                        rcpts.append(line[14:line.index(">")])
                    elif line.startswith("Subject: "):
                        subject = line[9:].strip()
                    elif line in ("\n", "\r\n"):
                        break
            if subject is None or not subject.startswith("random-"):
                continue
            for r in rcpts:
                k = (subject, r)
                if k in want:
                    want[k] += 1
                else:
                    extra[k] = extra.get(k, 0) + 1
    bad = 0
    for (subject, r), n in sorted(want.items()):
        if n != 1:
            print("%s for <%s>: %d copies" % (subject, r, n))
            bad += 1
    for (subject, r), n in sorted(extra.items()):
        print("%s for <%s>: %d unexpected copies" % (subject, r, n))
        bad += 1
    msgs = len({s for s, _ in want})
    print("messages=%d recipients=%d wrong=%d" % (msgs, len(want), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    a = sys.argv[1:]
    if a and a[0] == "send" and len(a) in (5, 6):
        sys.exit(send(int(a[1]), int(a[2]), int(a[3]), a[4],
                      *(int(x) for x in a[5:])))
    if a and a[0] == "check" and len(a) >= 3:
        sys.exit(check(a[1], a[2:]))
    sys.exit(__doc__)
