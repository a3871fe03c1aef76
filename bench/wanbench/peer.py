# SPDX-License-Identifier: BSD-3-Clause
"""The replication product's two ends for bench/wan-bench: a sender on the
client and a receiver on the server, one TCP connection per phase.

  python3 peer.py send HOST PORT FILE|-     FILE with sendfile(2), '-' stdin;
                                            prints {"t_start"} (CLOCK_MONOTONIC)
  python3 peer.py recv PORT PROGRESS [--stdout]
      one connection; prints "ready" on stderr once listening, then the
      bytes either hashed (sha256) or, with --stdout, copied to stdout;
      PROGRESS: a file rewritten with the byte count about twice a second
  python3 peer.py hash PROGRESS             sha256 of stdin (after a decompressor)

Each prints "startup-cpu SECONDS" on stderr first: the CPU time the Python
interpreter took to start, which bench/wan-bench does not count as the
transfer's. recv (without --stdout) and hash print {"bytes", "sha256", "t_end"} with
t_end the CLOCK_MONOTONIC time of the last byte (after hashing it).
CLOCK_MONOTONIC is the same clock in every network namespace.
"""
import hashlib
import json
import os
import resource
import socket
import sys
import time

BUF = 1 << 20


class Progress:
    """The byte count, rewritten in place at most twice a second."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self.n = 0
        self.next = 0.0

    def add(self, k):
        self.n += k
        t = time.monotonic()
        if t >= self.next:
            self.next = t + 0.5
            os.pwrite(self.fd, b"%20d" % self.n, 0)

    def close(self):
        os.pwrite(self.fd, b"%20d" % self.n, 0)
        os.close(self.fd)


def stdin_blocks():
    """Standard input as it comes, up to BUF bytes a block (views of one buffer)."""
    buf = bytearray(BUF)
    view = memoryview(buf)
    src = open(0, "rb", buffering=0, closefd=False)
    while True:
        k = src.readinto(buf)
        if not k:
            return
        yield view[:k]


def send(host, port, path):
    t_start = time.monotonic()
    s = None
    for _ in range(100):         # the server listens before we start; a SYN lost on
        try:                     # the emulated WAN is retransmitted by the kernel
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            cc = os.environ.get("WAN_BENCH_CC")
            if cc:              # wan-bench --cc: not the host's default (bbr here)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
            s.settimeout(120)
            s.connect((host, int(port)))
            break
        except ConnectionRefusedError:
            s.close()
            s = None
            time.sleep(0.05)
    if s is None:
        sys.exit(f"peer send: {host}:{port} refused the connection")
    s.settimeout(None)
    if path == "-":
        for b in stdin_blocks():
            s.sendall(b)
    else:
        with open(path, "rb") as f:
            s.sendfile(f)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)                    # the server closes after the last byte
    s.close()
    print(json.dumps({"t_start": t_start}))


def recv(port, progress, to_stdout):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", int(port)))
    ls.listen(1)
    print("ready", file=sys.stderr, flush=True)
    c, _ = ls.accept()
    ls.close()
    p = Progress(progress)
    buf = bytearray(BUF)
    view = memoryview(buf)
    h = None if to_stdout else hashlib.sha256()
    out = open(1, "wb", buffering=0, closefd=False) if to_stdout else None
    while True:
        k = c.recv_into(buf)
        if not k:
            break
        if h:
            h.update(view[:k])
        else:
            done = 0
            while done < k:
                done += out.write(view[done:k])
        p.add(k)
    t_end = time.monotonic()
    p.close()
    if h:
        print(json.dumps({"bytes": p.n, "sha256": h.hexdigest(), "t_end": t_end}), flush=True)
    else:
        out.close()
    c.close()


def hash_stdin(progress):
    p = Progress(progress)
    h = hashlib.sha256()
    for b in stdin_blocks():
        h.update(b)
        p.add(len(b))
    t_end = time.monotonic()
    p.close()
    print(json.dumps({"bytes": p.n, "sha256": h.hexdigest(), "t_end": t_end}))


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(argv):
    # the interpreter's start-up, which the caller takes off this end's CPU
    print(f"startup-cpu {cpu_seconds():.6f}", file=sys.stderr, flush=True)
    if len(argv) == 4 and argv[0] == "send":
        send(*argv[1:])
    elif len(argv) in (3, 4) and argv[0] == "recv" and argv[3:] in ([], ["--stdout"]):
        recv(argv[1], argv[2], len(argv) == 4)
    elif len(argv) == 2 and argv[0] == "hash":
        hash_stdin(argv[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
