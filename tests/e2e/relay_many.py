#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Many concurrent flows, for tests/e2e/relay-many-flows.sh (real kernel TCP
at both ends, a thread per connection).

  relay_many.py serve ADDR PORT N SECS   server: accepts N connections, each
                                         read to its FIN in its own thread,
                                         answered with the sha256 and length
                                         of what it read; prints "served N"
                                         once all N are answered, or what
                                         went wrong, within SECS
  relay_many.py send ADDR PORT N SIZE SEED SECS [hold]
                                         client: N connections at once (hold:
                                         none sends before all are
                                         connected); flow
                                         i sends SIZE bytes of its own
                                         (a seeded pseudo-random block, half
                                         of which every flow shares, so the
                                         cache serves flows from each other),
                                         half-closes and checks the server's
                                         answer; prints "ok N" or the failures

Both bound every wait by SECS. ADDR may be IPv4 or IPv6.
"""
import hashlib
import random
import socket
import sys
import threading
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def flow_bytes(i, size, seed):
    shared = random.Random(seed).randbytes(size // 2)
    own = random.Random(seed * 100003 + i + 1).randbytes(size - size // 2)
    # own bytes first on odd flows: shared content at two alignments
    return own + shared if i % 2 else shared + own


def serve(addr, port, n, secs):
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(n)
    end = time.monotonic() + secs
    errors = []
    threads = []

    def one(c):
        try:
            c.settimeout(max(1.0, end - time.monotonic()))
            h = hashlib.sha256()
            got = 0
            while True:
                b = c.recv(1 << 16)
                if not b:
                    break
                h.update(b)
                got += len(b)
            c.sendall(("%s %d\n" % (h.hexdigest(), got)).encode())
            c.close()
        except OSError as e:
            errors.append(str(e))

    for _ in range(n):
        s.settimeout(max(0.1, end - time.monotonic()))
        try:
            c, _ = s.accept()
        except socket.timeout:
            break
        t = threading.Thread(target=one, args=(c,))
        t.start()
        threads.append(t)
    for t in threads:
        t.join(max(0.1, end - time.monotonic()))
    if len(threads) < n:
        print("accepted %d of %d" % (len(threads), n), flush=True)
    elif errors:
        print("errors %d: %s" % (len(errors), errors[0]), flush=True)
    else:
        print("served %d" % n, flush=True)


def send(addr, port, n, size, seed, secs, hold):
    end = time.monotonic() + secs
    bad = []
    barrier = threading.Barrier(n) if hold else None

    def one(i):
        data = flow_bytes(i, size, seed)
        want = "%s %d" % (hashlib.sha256(data).hexdigest(), len(data))
        try:
            c = socket.socket(family(addr), socket.SOCK_STREAM)
            c.settimeout(max(1.0, end - time.monotonic()))
            c.connect((addr, port))
            if barrier:
                barrier.wait(max(1.0, end - time.monotonic()))
            c.sendall(data)
            c.shutdown(socket.SHUT_WR)
            answer = b""
            while True:
                b = c.recv(4096)
                if not b:
                    break
                answer += b
            if answer.decode().strip() != want:
                bad.append("flow %d: %r" % (i, answer.decode().strip()))
        except (OSError, threading.BrokenBarrierError) as e:
            bad.append("flow %d: %s" % (i, e or "not all connected"))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.1, end - time.monotonic()))
    if any(t.is_alive() for t in threads):
        bad.append("%d flows still running after %s s" % (sum(t.is_alive() for t in threads), secs))
    print("ok %d" % n if not bad else "failed %d: %s" % (len(bad), "; ".join(bad[:3])), flush=True)


def main():
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "serve":
        serve(addr, port, int(sys.argv[4]), float(sys.argv[5]))
    elif mode == "send":
        send(addr, port, int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7]),
             sys.argv[8:] == ["hold"])
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
