#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Linux TCP client for the appliance's link-test services (discard 9,
echo 7, source 19). Every transfer is checked byte for byte; any failure
raises and the exit status is non-zero. Prints one JSON line of results.

Closes from each side: the client's FIN (discard: shutdown, then the
service's FIN), the client's RST (abort), the appliance's FIN (source: EOF
after exactly N bytes, never a reset) and the appliance's RST (source
"N reset": ECONNRESET after exactly N verified bytes)."""
import argparse
import errno
import hashlib
import json
import os
import resource
import selectors
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


def set_cc(s):
    """TCP_CC=NAME in the environment: this socket's congestion control
    (a netns inherits the host's default, which differs between machines;
    root may pick any the kernel has)."""
    cc = os.environ.get("TCP_CC")
    if cc:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())


def conn(host, port, timeout):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    set_cc(s)
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


class Conn:
    """One connection of the concurrent test: echo (send n bytes, half
    close, read them back) or source (ask for n bytes, read them)."""

    def __init__(self, host, kind, n, i, pool):
        self.kind, self.n, self.i = kind, n, i
        self.off = (i * 7919) % (len(pool) - n) if kind == "echo" else 0
        self.want = pool[self.off:self.off + n] if kind == "echo" else None
        self.out = memoryview(self.want) if kind == "echo" else memoryview(b"%d\n" % n)
        self.sent = 0
        self.got = 0
        self.connected = False
        self.eof = False
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.s = socket.socket(fam, socket.SOCK_STREAM)
        set_cc(self.s)
        self.s.setblocking(False)
        rc = self.s.connect_ex((host, PORTS[kind]))
        if rc not in (0, errno.EINPROGRESS):
            raise OSError(rc, "connect #%d: %s" % (i, errno.errorcode.get(rc, rc)))

    def events(self):
        ev = selectors.EVENT_READ if self.connected else 0
        if not self.connected or self.sent < len(self.out):
            ev |= selectors.EVENT_WRITE
        return ev

    def on_write(self):
        if not self.connected:
            err = self.s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, "connect #%d (%s): %s" % (self.i, self.kind, errno.errorcode.get(err, err)))
            self.connected = True
        if self.sent < len(self.out):
            try:
                self.sent += self.s.send(self.out[self.sent:self.sent + 65536])
            except BlockingIOError:
                return
            if self.sent == len(self.out) and self.kind == "echo":
                self.s.shutdown(socket.SHUT_WR)

    def on_read(self):
        try:
            b = self.s.recv(1 << 16)
        except BlockingIOError:
            return
        if not b:
            assert self.got == self.n, "%s #%d: %d of %d bytes before EOF" % (self.kind, self.i, self.got, self.n)
            self.eof = True
            return
        if self.kind == "echo":
            ok = b == self.want[self.got:self.got + len(b)]
        else:
            ok = b == src_bytes(self.got, len(b))
        assert ok, "%s #%d: bytes differ at %d" % (self.kind, self.i, self.got)
        self.got += len(b)
        assert self.got <= self.n, "%s #%d: more than %d bytes" % (self.kind, self.i, self.n)


CONC_TAIL = []


def concurrent(host, nconn, n, timeout):
    """nconn connections open at once, half echo and half source, n bytes
    each, verified byte for byte; one thread, non-blocking sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < nconn + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, nconn + 1024), hard))
    pool = payload((1 << 20) + n, 5)
    sel = selectors.DefaultSelector()
    conns = []
    t0 = time.monotonic()
    try:
        for i in range(nconn):
            c = Conn(host, "echo" if i % 2 == 0 else "source", n, i, pool)
            conns.append(c)
            sel.register(c.s, c.events(), c)
        live = nconn
        peak = 0
        deadline = t0 + timeout
        while live:
            if time.monotonic() > deadline:
                stuck = [c for c in conns if not c.eof]
                raise AssertionError("%d of %d connections unfinished after %ds (e.g. %s #%d: %d of %d bytes)" % (
                    len(stuck), nconn, timeout, stuck[0].kind, stuck[0].i, stuck[0].got, n))
            peak = max(peak, sum(1 for c in conns if c.connected and not c.eof))
            for key, ev in sel.select(1.0):
                c = key.data
                if ev & selectors.EVENT_WRITE:
                    c.on_write()
                if ev & selectors.EVENT_READ and c.connected:
                    c.on_read()
                if c.eof:
                    c.done_s = time.monotonic() - t0
                    sel.unregister(c.s)
                    c.s.close()
                    live -= 1
                else:
                    sel.modify(c.s, c.events(), c)
    finally:
        for c in conns:
            c.s.close()
        sel.close()
    CONC_TAIL[:] = sorted(((round(c.done_s, 2), c.kind, c.i) for c in conns), reverse=True)[:3]
    return time.monotonic() - t0, peak


def appliance_close(host, n, timeout):
    """The appliance closes: FIN after n bytes (source), then RST after n
    bytes ("n reset"). Returns once both are seen as expected."""
    s = conn(host, PORTS["source"], timeout)
    s.sendall(b"%d\n" % n)
    got = 0
    while True:
        b = s.recv(1 << 20)  # a reset raises ConnectionResetError: a failure here
        if not b:
            break
        assert b == src_bytes(got, len(b)), "source bytes differ at %d" % got
        got += len(b)
    assert got == n, "FIN after %d of %d bytes" % (got, n)
    s.close()

    s = conn(host, PORTS["source"], timeout)
    s.sendall(b"%d reset\n" % n)
    got = 0
    s.settimeout(3)
    deadline = time.monotonic() + timeout
    poked = False
    while True:
        try:
            b = s.recv(1 << 20)
        except ConnectionResetError:
            break
        except socket.timeout:
            assert time.monotonic() < deadline, "no RST after %d of %d bytes" % (got, n)
            if not poked and got == n:
                # the RST itself may have been dropped (the test knob): a
                # segment to a connection the appliance no longer has is
                # answered with RST
                s.send(b"x")
                poked = True
            continue
        assert b, "FIN instead of RST after %d of %d bytes" % (got, n)
        assert b == src_bytes(got, len(b)), "source bytes differ at %d" % got
        got += len(b)
        assert got <= n, "more than %d bytes before the RST" % n
    assert got == n, "RST after %d of %d bytes" % (got, n)
    s.close()
    return poked


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
    ap.add_argument("--concurrent-bytes", type=int, default=256 * 1024)
    ap.add_argument("--close", action="store_true",
                    help="also the appliance's closes: FIN (source) and RST "
                         "(source 'N reset', needs straitd's services poll)")
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
    if a.close and want("close"):
        for n in sizes:
            if appliance_close(a.host, min(n, 64 * MiB), a.timeout):
                res["close_rst_poked_%d" % n] = True
        res["close"] = "ok"
    if want("concurrent") and a.concurrent:
        dt, peak = concurrent(a.host, a.concurrent, a.concurrent_bytes, a.timeout)
        res["concurrent"] = a.concurrent
        res["concurrent_peak_open"] = peak
        res["concurrent_s"] = round(dt, 2)
        res["concurrent_slowest"] = CONC_TAIL
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
