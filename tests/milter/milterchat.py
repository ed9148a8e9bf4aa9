#!/usr/bin/env python3
"""milterchat.py SOCKET IP [options] - one SMTP session through a milter,
printing the first answer that is not "continue", with its exact text.

miltertest's mt.getreply() says only *that* a filter set a reply, not
which one; this speaks the milter protocol (version 6, as Postfix and
sendmail do) to print it:
  STAGE: continue                 every step passed (STAGE is the last one)
  STAGE: 421 4.7.0 Too many ...   the SMFIR_REPLYCODE text, as the MTA sends it
  STAGE: reply X                  any other final response code X
STAGE is connect, helo, mail, rcpt, eoh or eom.  It respects what the
filter negotiated: steps it asked not to get (SMFIP_NO*) are not sent.

Options:
  --helo NAME        HELO argument (default client.example); repeatable:
                     each HELO is sent in turn, all answers printed
  --j NAME           the {j} macro (the MTA's host name), sent at connect
  --header 'N: V'    a header line (repeatable); none: no header stage
  --body TEXT        body text
  --rcpt ADDR        recipient (default <user@example.org>)
  --until STAGE      stop after this stage (connect, helo, mail, rcpt, eom)
  --pause FILE       after MAIL, wait until FILE exists (at most 30 s)
  --flags            print "flags 0xPFLAGS 0xACTIONS" from the negotiation
  --persist          after a refused HELO go on (as a client may) and
                     print each HELO's answer and MAIL's
IP "unspec" sends an unknown address family.  SOCKET is a unix socket path
or inet:PORT@HOST.  Exit 0 when the session ran, 1 on a protocol error.
"""
import os
import socket
import struct
import sys
import time

SMFI_CURR_ACTS = 0x1FF
SMFI_CURR_PROT = 0x1FFFFF
NOCONNECT, NOHELO, NOMAIL, NORCPT = 0x1, 0x2, 0x4, 0x8
NOBODY, NOHDRS, NOEOH = 0x10, 0x20, 0x40
MODIFY = set(b"+-2bemihpql")  # actions a filter may send before its answer


def send(s, cmd, data=b""):
    s.sendall(struct.pack(">I", len(data) + 1) + cmd + data)


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("filter closed the connection")
        buf += chunk
    return buf


def recv(s):
    (n,) = struct.unpack(">I", recv_exact(s, 4))
    body = recv_exact(s, n)
    return body[:1], body[1:]


def answer(s):
    """The final answer to a step, skipping message modifications."""
    while True:
        cmd, data = recv(s)
        if cmd[0] not in MODIFY:
            break
    if cmd == b"c" or cmd == b"s":  # skip: no more of this step
        return "continue"
    if cmd == b"y":
        return data.rstrip(b"\0").decode(errors="replace")
    return "reply " + cmd.decode(errors="replace")


def connect(spec):
    if spec.startswith("inet:"):
        port, host = spec[5:].split("@")
        s = socket.create_connection((host, int(port)), timeout=10)
    else:
        path = spec[5:] if spec.startswith("unix:") else spec
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(path)
    return s


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 1
    spec, ip = argv[0], argv[1]
    helos, headers, j, body, pause = [], [], None, None, None
    rcpt, until, flags, persist = "<user@example.org>", "eom", False, False
    i = 2
    while i < len(argv):
        o = argv[i]
        if o in ("--flags", "--persist"):
            flags = flags or o == "--flags"
            persist = persist or o == "--persist"
            i += 1
            continue
        v = argv[i + 1]
        if o == "--helo":
            helos.append(v)
        elif o == "--j":
            j = v
        elif o == "--header":
            headers.append(v)
        elif o == "--body":
            body = v
        elif o == "--rcpt":
            rcpt = v
        elif o == "--until":
            until = v
        elif o == "--pause":
            pause = v
        else:
            raise RuntimeError("unknown option " + o)
        i += 2
    if not helos:
        helos = ["client.example"]

    s = connect(spec)
    send(s, b"O", struct.pack(">III", 6, SMFI_CURR_ACTS, SMFI_CURR_PROT))
    cmd, data = recv(s)
    if cmd != b"O":
        raise RuntimeError("negotiation: reply %r" % cmd)
    _, acts, prot = struct.unpack(">III", data[:12])
    if flags:
        print("flags 0x%x 0x%x" % (prot, acts))

    def step(stage, c, payload, skip_flag):
        if prot & skip_flag:
            return True
        send(s, c, payload)
        a = answer(s)
        if a != "continue":
            print("%s: %s" % (stage, a))
            return False
        return True

    def done(stage):
        print("%s: continue" % stage)
        send(s, b"Q")
        s.close()
        return 0

    if j is not None:
        send(s, b"D", b"C" + b"j\0" + j.encode() + b"\0")
    host = b"client.example\0"
    if ip == "unspec":
        conn = host + b"U"
    else:
        fam = b"6" if ":" in ip else b"4"
        conn = host + fam + struct.pack(">H", 12345) + ip.encode() + b"\0"
    if not step("connect", b"C", conn, NOCONNECT):
        return 0
    if until == "connect":
        return done("connect")
    for h in helos:
        if step("helo", b"H", h.encode() + b"\0", NOHELO):
            if persist:
                print("helo: continue")
        elif not persist:
            return 0
    if until == "helo":
        return done("helo")
    # After a refused HELO a client may still try MAIL: the MTA lets it.
    if not step("mail", b"M", b"<sender@example.net>\0", NOMAIL):
        return 0
    if pause is not None:
        for _ in range(600):
            if os.path.exists(pause):
                break
            time.sleep(0.05)
    if until == "mail":
        return done("mail")
    if not step("rcpt", b"R", rcpt.encode() + b"\0", NORCPT):
        return 0
    if until == "rcpt":
        return done("rcpt")
    for h in headers:
        name, _, value = h.partition(":")
        if not step("header", b"L",
                    name.encode() + b"\0" + value.strip().encode() + b"\0",
                    NOHDRS):
            return 0
    if not step("eoh", b"N", b"", NOEOH):
        return 0
    if body is not None and not step("body", b"B", body.encode(), NOBODY):
        return 0
    if not step("eom", b"E", b"", 0):
        return 0
    return done("eom")


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (OSError, EOFError, RuntimeError, ValueError, IndexError) as e:
        sys.stderr.write("milterchat: %s\n" % e)
        sys.exit(1)
