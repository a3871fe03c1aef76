#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Known transfers for the namespace capture test (tests/e2e/profile-capture.sh).

  transfer.py serve ADDR PORT UP_BYTES DOWN_BYTES SEED OUTDIR
      accepts one connection: sends DOWN_BYTES of payload(SEED + 1) while it
      reads the client's bytes to EOF, then closes; writes OUTDIR/recv-PORT
      (sha256 of what it received) and OUTDIR/down-PORT (what it sent).
  transfer.py send ADDR PORT UP_BYTES DOWN_BYTES SEED OUTDIR
      connects: sends UP_BYTES of payload(SEED), half-closes, reads to EOF;
      writes OUTDIR/up-PORT (what it sent) and OUTDIR/got-PORT (sha256 of
      what it received).
Payloads repeat text (captures.payload), so the codec finds duplicates;
two flows given the same SEED send the same bytes."""
import hashlib
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from captures import payload  # noqa: E402

TIMEOUT = 60


def data(seed, n):
    return payload(n, seed, repeat=min(n, 300000))


def pump_out(sock, buf):
    sock.sendall(buf)
    sock.shutdown(socket.SHUT_WR)


def drain(sock):
    h = hashlib.sha256()
    while True:
        b = sock.recv(1 << 16)
        if not b:
            return h.hexdigest()
        h.update(b)


def exchange(s, buf, sent, digest):
    """Sends buf (kept as OUTDIR/sent) while reading the peer to EOF (its
    sha256 into OUTDIR/digest)."""
    open(sent, "wb").write(buf)
    t = threading.Thread(target=pump_out, args=(s, buf))
    t.start()
    got = drain(s)
    t.join()
    s.close()
    open(digest, "w").write(got)


def main():
    mode, addr, port, up, down, seed, out = sys.argv[1:8]
    port, up, down, seed = int(port), int(up), int(down), int(seed)
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    if mode == "serve":
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((addr, port))
        ls.listen(1)
        ls.settimeout(TIMEOUT)
        open(os.path.join(out, f"listening-{port}"), "w").close()
        s, _ = ls.accept()
        s.settimeout(TIMEOUT)
        exchange(s, data(seed + 1, down), os.path.join(out, f"down-{port}"), os.path.join(out, f"recv-{port}"))
    else:
        s = socket.create_connection((addr, port), timeout=TIMEOUT)
        exchange(s, data(seed, up), os.path.join(out, f"up-{port}"), os.path.join(out, f"got-{port}"))


main()
