# SPDX-License-Identifier: BSD-3-Clause
"""Sequence-numbered UDP for measuring strait-wanem (bench/wanem-check,
tests/wanem/): the sender paces COUNT datagrams at PPS, the receiver says
which arrived, in which order, and how often.

  python3 wanem_udp.py send HOST PORT COUNT PPS SIZE
  python3 wanem_udp.py recv PORT COUNT TIMEOUT_S   (JSON on stdout)
"""
import json
import socket
import struct
import sys
import time

HDR = struct.Struct("!Q")


def send(host, port, count, pps, size):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    payload = bytearray(max(size, HDR.size))
    start = time.monotonic()
    burst = max(1, pps // 1000)      # paced in 1 ms slices
    for i in range(count):
        if i % burst == 0:
            ahead = start + i / pps - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        HDR.pack_into(payload, 0, i)
        while True:
            try:
                s.sendto(payload, (host, port))
                break
            except BlockingIOError:
                time.sleep(0.0005)


def recv(port, count, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:   # root: past net.core.rmem_max, so a busy machine drops nothing here
        s.setsockopt(socket.SOL_SOCKET, 33, 32 << 20)   # SO_RCVBUFFORCE
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 20)
    s.bind(("0.0.0.0", port))
    s.settimeout(0.5)
    print("ready", file=sys.stderr, flush=True)
    seen = bytearray(count)
    received = dups = reordered = nbytes = 0
    top = -1
    first = last = None
    deadline = time.monotonic() + timeout
    idle = 0
    buf = bytearray(65536)
    while time.monotonic() < deadline:
        try:
            n = s.recv_into(buf)
        except socket.timeout:
            idle += 1
            if first is not None and idle >= 3:
                break
            continue
        idle = 0
        now = time.monotonic()
        first = now if first is None else first
        last = now
        seq = HDR.unpack_from(buf, 0)[0]
        if seq >= count:
            continue
        received += 1
        nbytes += n
        if seen[seq]:
            dups += 1
        seen[seq] = 1
        if seq < top:
            reordered += 1
        top = max(top, seq)
    lost = [i for i in range(count) if not seen[i]]
    json.dump({"count": count, "received": received, "duplicates": dups,
               "reordered": reordered, "bytes": nbytes, "lost": lost,
               "seconds": (last - first) if first is not None else 0}, sys.stdout)


def loss_runs(lost):
    """Lengths of the runs of consecutive lost sequence numbers."""
    runs, prev = [], None
    for s in lost:
        if prev is not None and s == prev + 1:
            runs[-1] += 1
        else:
            runs.append(1)
        prev = s
    return runs


if __name__ == "__main__":
    if sys.argv[1] == "send":
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
    else:
        recv(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
