#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A TCP transfer that lasts: the sender writes BYTES at a steady pace over
SECONDS, so a flow is alive while a test changes things around it.

  paced.py recv PORT OUT        accept one connection on PORT, write the
                                sha256 and size of what arrived to OUT
  paced.py send HOST PORT RATE STOP SEED
                                connect, send pseudo-random bytes (seeded)
                                at RATE bytes/s in 50 ms steps until the
                                file STOP exists (at most 10 minutes),
                                print their sha256 and size
"""
import hashlib
import os
import random
import socket
import sys
import time


def recv(port, out):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(1)
    c, _ = ls.accept()
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(1 << 16)
        if not b:
            break
        h.update(b)
        n += len(b)
    with open(out, "w") as f:
        f.write(f"{h.hexdigest()} {n}\n")


def send(host, port, rate, stop, seed):
    rng = random.Random(seed)
    s = socket.create_connection((host, port), timeout=30)
    h, n = hashlib.sha256(), 0
    per = max(1, rate // 20)
    t0 = time.monotonic()
    i = 0
    while not os.path.exists(stop) and time.monotonic() - t0 < 600:
        chunk = rng.randbytes(per)
        s.sendall(chunk)
        h.update(chunk)
        n += len(chunk)
        i += 1
        delay = t0 + i * 0.05 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)  # until the server closes: every byte was read
    s.close()
    print(f"{h.hexdigest()} {n}")


if __name__ == "__main__":
    if sys.argv[1] == "recv":
        recv(int(sys.argv[2]), sys.argv[3])
    else:
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6]))
