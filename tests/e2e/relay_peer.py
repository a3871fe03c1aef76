#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The Linux ends of tests/e2e/relay-two-sites.sh (real kernel TCP).

  relay_peer.py sink ADDR PORT N [IDLE [WAIT]]
                                        server: N connections, one after the
                                        other; reads each to its FIN, answers
                                        the sha256 and length of what it read,
                                        closes (IDLE s without a byte: prints
                                        "idle SHA LEN", a reset "error ...";
                                        none within WAIT s: "no connection")
  relay_peer.py source ADDR PORT FILE   server: one connection; sends FILE,
                                        half-closes, waits for the client's FIN
  relay_peer.py send ADDR PORT FILE     client: sends FILE, half-closes,
                                        prints the server's answer
  relay_peer.py fetch ADDR PORT         client: prints the sha256 of what
                                        the server sent
  relay_peer.py connect ADDR PORT SECS  client: prints how the open ended:
                                        ok, refused, unreachable, timeout

ADDR may be IPv4 or IPv6. Each prints one line; failures print an error word
(reset, timeout, ...) rather than a traceback, for the script to compare.
"""
import errno
import hashlib
import os
import socket
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def connect(addr, port, secs):
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.settimeout(secs)
    s.connect((addr, port))
    return s


PAUSE = [int(x) for x in os.environ.get("RELAY_PEER_PAUSE", "0:0").split(":")]


def read_all(c, h, n):
    """Reads c to its FIN into hash h; n[0] counts the bytes (kept when
    the read fails part way). RELAY_PEER_PAUSE=BYTES:SECS: once BYTES are
    in, stops reading for SECS (a server that stalls)."""
    paused = False
    while True:
        b = c.recv(1 << 18)
        if not b:
            return
        h.update(b)
        n[0] += len(b)
        if PAUSE[0] and not paused and n[0] >= PAUSE[0]:
            paused = True
            time.sleep(PAUSE[1])


def sink(addr, port, count, idle, wait):
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(8)
    s.settimeout(wait)
    for _ in range(count):
        try:
            c, _ = s.accept()
        except socket.timeout:
            print("no connection", flush=True)
            return
        c.settimeout(idle)
        h = hashlib.sha256()
        n = [0]
        try:
            read_all(c, h, n)
            c.sendall(("%s %d\n" % (h.hexdigest(), n[0])).encode())
            c.close()
            print("%s %d" % (h.hexdigest(), n[0]), flush=True)
        except socket.timeout:
            print("idle %s %d" % (h.hexdigest(), n[0]), flush=True)
        except OSError as e:
            print("error %s %s %d" % (errno.errorcode.get(e.errno, e), h.hexdigest(), n[0]),
                  flush=True)


def send_file(s, path):
    """Sends the file in 1 MiB pieces: the socket's timeout bounds each
    piece (no progress for that long), not the whole file (sendall's
    timeout is for all it sends)."""
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return
            s.sendall(b)


def source(addr, port, path):
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(1)
    s.settimeout(120)
    c, _ = s.accept()
    c.settimeout(120)
    send_file(c, path)
    c.shutdown(socket.SHUT_WR)
    c.recv(1)
    print("sent", flush=True)


def send(addr, port, path):
    try:
        s = connect(addr, port, 60)
        send_file(s, path)
        s.shutdown(socket.SHUT_WR)
        answer = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            answer += b
        print(answer.decode().strip() or "no answer")
    except ConnectionResetError:
        print("reset")
    except OSError as e:
        print("error %s" % errno.errorcode.get(e.errno, e))


def fetch(addr, port):
    try:
        s = connect(addr, port, 60)
        h = hashlib.sha256()
        n = [0]
        read_all(s, h, n)
        print("%s %d" % (h.hexdigest(), n[0]))
    except ConnectionResetError:
        print("reset")
    except OSError as e:
        print("error %s" % errno.errorcode.get(e.errno, e))


def try_connect(addr, port, secs):
    t0 = time.monotonic()
    try:
        s = connect(addr, port, secs)
        s.close()
        print("ok")
    except ConnectionRefusedError:
        # one SYN answered: before the first retransmission (1 s)
        print("refused" if time.monotonic() - t0 < 0.9 else "refused late")
    except socket.timeout:
        print("timeout")
    except OSError as e:
        if e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            print("unreachable")
        else:
            print("error %s" % errno.errorcode.get(e.errno, e))


def main():
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "sink":
        sink(addr, port, int(sys.argv[4]), float(sys.argv[5]) if len(sys.argv) > 5 else 120,
             float(sys.argv[6]) if len(sys.argv) > 6 else 120)
    elif mode == "source":
        source(addr, port, sys.argv[4])
    elif mode == "send":
        send(addr, port, sys.argv[4])
    elif mode == "fetch":
        fetch(addr, port)
    elif mode == "connect":
        try_connect(addr, port, float(sys.argv[4]))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
