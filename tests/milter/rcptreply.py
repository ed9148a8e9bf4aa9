#!/usr/bin/env python3
"""rcptreply.py SOCKET IP RCPT [AUTH] - print a milter's exact answer to RCPT.

miltertest's mt.getreply() says only *that* a filter set a reply at RCPT
('y', SMFIR_REPLYCODE), not which one; this speaks the milter protocol
(version 6, as Postfix and sendmail do) just far enough to print it:
  continue                       the recipient passes
  550 5.7.1 Relaying denied...   the SMFIR_REPLYCODE text, as the MTA sends it
  reply X                        any other response code X
SOCKET is a unix socket path; IP "unspec" sends an unknown address family.
AUTH, when given, is sent as the {auth_authen} macro before RCPT.
Exit 0 when an answer was read, 1 on a protocol or connection error.
"""
import socket
import struct
import sys

# Packet framing and protocol constants, shared with milterchat.py (this
# script's directory is first on sys.path).
from milterchat import SMFI_CURR_ACTS, SMFI_CURR_PROT, recv, send


def expect_continue(s, what):
    cmd, data = recv(s)
    if cmd != b"c":
        raise RuntimeError("%s: reply %r %r" % (what, cmd, data))


def main():
    if len(sys.argv) not in (4, 5):
        sys.stderr.write(__doc__)
        return 1
    path, ip, rcpt = sys.argv[1:4]
    auth = sys.argv[4] if len(sys.argv) == 5 else None
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    send(s, b"O", struct.pack(">III", 6, SMFI_CURR_ACTS, SMFI_CURR_PROT))
    cmd, _ = recv(s)
    if cmd != b"O":
        raise RuntimeError("negotiation: reply %r" % cmd)
    host = b"client.example\0"
    if ip == "unspec":
        conn = host + b"U"
    else:
        fam = b"6" if ":" in ip else b"4"
        conn = host + fam + struct.pack(">H", 12345) + ip.encode() + b"\0"
    send(s, b"C", conn)
    expect_continue(s, "connect")
    send(s, b"H", b"client.example\0")
    expect_continue(s, "helo")
    send(s, b"M", b"<sender@example.net>\0")
    expect_continue(s, "mail")
    if auth is not None:
        send(s, b"D", b"R{auth_authen}\0" + auth.encode() + b"\0")
    send(s, b"R", rcpt.encode() + b"\0")
    cmd, data = recv(s)
    if cmd == b"c":
        print("continue")
    elif cmd == b"y":
        print(data.rstrip(b"\0").decode(errors="replace"))
    else:
        print("reply " + cmd.decode(errors="replace"))
    send(s, b"Q")
    s.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, EOFError, RuntimeError) as e:
        sys.stderr.write("rcptreply: %s\n" % e)
        sys.exit(1)
