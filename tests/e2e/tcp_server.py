#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Linux counterparts of the link-test services, for baselines: discard on
one port, source (request 'N\\n', get N bytes, byte i = i % 251) on another."""
import os
import socket
import sys
import threading

BASE = bytes(i % 251 for i in range(251)) * 4096  # 1028096 bytes, period 251


def serve(port, handler):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if os.environ.get("TCP_CC"):  # accepted sockets inherit it
        ls.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, os.environ["TCP_CC"].encode())
    ls.bind(("0.0.0.0", port))
    ls.listen(64)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=handler, args=(c,), daemon=True).start()


def discard(c):
    buf = bytearray(1 << 20)
    while c.recv_into(buf):
        pass
    c.close()


def source(c):
    req = b""
    while not req.endswith(b"\n"):
        b = c.recv(32)
        if not b:
            c.close()
            return
        req += b
    n = int(req)
    view = memoryview(BASE)
    off = 0
    while n:
        k = min(n, len(BASE) - 251)
        start = off % 251
        c.sendall(view[start:start + k])
        off += k
        n -= k
    c.shutdown(socket.SHUT_WR)
    while c.recv(65536):
        pass
    c.close()


def main():
    threading.Thread(target=serve, args=(int(sys.argv[1]), discard), daemon=True).start()
    threading.Thread(target=serve, args=(int(sys.argv[2]), source), daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
