#!/usr/bin/env python3
"""Linux TCP client for the appliance's link-test services (discard 9,
echo 7, source 19). Every transfer is checked byte for byte; any failure
raises and the exit status is non-zero. Prints one JSON line of results."""
import argparse
import hashlib
import json
import socket
import struct
import sys
import threading
import time

MiB = 1 << 20


def src_bytes(off, n):
    base = bytes(i % 251 for i in range(251))
    start = off % 251
    out = bytearray()
    rot = base[start:] + base[:start]
    while len(out) < n:
        out += rot
    return bytes(out[:n])


def payload(n, seed):
    out = bytearray()
    h = hashlib.sha256(seed.to_bytes(8, "little")).digest()
    while len(out) < n:
        h = hashlib.sha256(h).digest()
        out += h * 64
    return bytes(out[:n])


def conn(host, port, timeout):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def recv_all(s):
    h = hashlib.sha256()
    n = 0
    while True:
        b = s.recv(1 << 20)
        if not b:
            return n, h.hexdigest()
        h.update(b)
        n += len(b)


PORTS = {"discard": 9, "source": 19, "echo": 7}
VERIFY = True


def discard(host, n, timeout):
    s = conn(host, PORTS["discard"], timeout)
    data = payload(min(n, 64 * MiB), n)
    t0 = time.monotonic()
    left = n
    while left:
        k = min(left, len(data))
        s.sendall(data[:k])
        left -= k
    s.shutdown(socket.SHUT_WR)
    got, _ = recv_all(s)  # the service closes after our FIN: no RST
    dt = time.monotonic() - t0
    s.close()
    assert got == 0, "discard sent data"
    return dt


def source(host, n, timeout):
    s = conn(host, PORTS["source"], timeout)
    t0 = time.monotonic()
    s.sendall(b"%d\n" % n)
    got = 0
    buf = bytearray(1 << 20)
    while True:
        if VERIFY:
            b = s.recv(1 << 20)
            if not b:
                break
            assert b == src_bytes(got, len(b)), "source bytes differ at %d" % got
            got += len(b)
        else:
            k = s.recv_into(buf)
            if not k:
                break
            got += k
    dt = time.monotonic() - t0
    s.close()
    assert got == n, "source sent %d of %d" % (got, n)
    return dt


def echo(host, n, timeout, seed=1):
    s = conn(host, PORTS["echo"], timeout)
    data = payload(n, seed)
    err = []

    def writer():
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except Exception as e:  # noqa: BLE001
            err.append(e)

    t0 = time.monotonic()
    t = threading.Thread(target=writer)
    t.start()
    got, digest = recv_all(s)
    t.join()
    dt = time.monotonic() - t0
    s.close()
    if err:
        raise err[0]
    assert got == n, "echo returned %d of %d" % (got, n)
    assert digest == hashlib.sha256(data).hexdigest(), "echo bytes differ"
    return dt


def concurrent(host, nconn, n, timeout):
    errs = []

    def one(i):
        try:
            echo(host, n, timeout, seed=100 + i)
        except Exception as e:  # noqa: BLE001
            errs.append(e)

    ts = [threading.Thread(target=one, args=(i,)) for i in range(nconn)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errs:
        raise errs[0]


def abort_from_client(host, timeout):
    s = conn(host, 9, timeout)
    s.sendall(payload(100000, 7))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()  # RST
    s = conn(host, 19, timeout)
    s.sendall(b"%d\n" % (4 * MiB))
    s.recv(1000)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()  # RST while the appliance is sending
    # the services still answer
    assert echo(host, 1000, timeout) >= 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("--sizes", default="1,1048576")
    ap.add_argument("--concurrent", type=int, default=16)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--only", default="")
    ap.add_argument("--port-discard", type=int, default=9)
    ap.add_argument("--port-source", type=int, default=19)
    ap.add_argument("--no-verify", action="store_true",
                    help="benchmarks: count source bytes without checking them")
    a = ap.parse_args()
    global VERIFY
    VERIFY = not a.no_verify
    PORTS["discard"] = a.port_discard
    PORTS["source"] = a.port_source
    sizes = [int(x) for x in a.sizes.split(",")]
    res = {}
    only = set(a.only.split(",")) if a.only else None

    def want(k):
        return only is None or k in only

    for n in sizes:
        if want("discard"):
            dt = discard(a.host, n, a.timeout)
            res["discard_%d_mbps" % n] = round(n * 8 / dt / 1e6, 1)
        if want("source"):
            dt = source(a.host, n, a.timeout)
            res["source_%d_mbps" % n] = round(n * 8 / dt / 1e6, 1)
        if want("echo") and n <= 64 * MiB:
            echo(a.host, n, a.timeout)
            res["echo_%d" % n] = "ok"
    if want("concurrent") and a.concurrent:
        concurrent(a.host, a.concurrent, 256 * 1024, a.timeout)
        res["concurrent"] = a.concurrent
    if want("abort"):
        abort_from_client(a.host, a.timeout)
        res["abort"] = "ok"
    print(json.dumps(res))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001
        print("FAIL: %r" % (e,), file=sys.stderr)
        sys.exit(1)
