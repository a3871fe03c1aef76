#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Writes the seeds of fuzz-reasm into tests/fuzz/corpus/reasm/: a stream
in order, with retransmissions, reordered, with a hole acknowledged, with
a hole never filled (the limit), mid-stream, altered overlaps, and the
sequence space wrapping. Operation format: see fuzz_reasm.c."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fuzz", "corpus", "reasm")


def seg(off, n, fin=False, alter=False):
    return struct.pack("<BHBBHB", 0, off & 0xFFFF, (off >> 16) & 3, 0, n, (1 if fin else 0) | (2 if alter else 0))


def syn():
    return struct.pack("<BHBBHB", 1, 0, 0, 0, 0, 0)


def ack(off):
    return struct.pack("<BHBBHB", 2, off & 0xFFFF, (off >> 16) & 3, 0, 0, 0)


def end():
    return struct.pack("<BHBBHB", 3, 0, 0, 0, 0, 0)


seeds = {
    "in-order": b"\0" + syn() + b"".join(seg(i * 1000, 1000) for i in range(8)) + seg(8000, 0, fin=True),
    "retransmit": b"\0" + syn() + b"".join(seg(i * 1000, 1000) + seg(max(0, i - 2) * 1000, 1000) for i in range(8)),
    "reorder": b"\0" + syn() + seg(1000, 1000) + seg(3000, 500) + seg(0, 1000) + seg(2000, 1000) + seg(2500, 1500),
    "ack-gap": b"\0" + syn() + seg(0, 1000) + seg(2000, 1000) + ack(3000) + seg(1000, 1000) + seg(3000, 100),
    "limit": b"\0" + syn() + seg(0, 100) + b"".join(seg(2000 + i * 2900, 2900) for i in range(8)) + end(),
    "midstream": b"\0" + seg(5000, 1000) + seg(6000, 1000) + seg(4000, 1500) + seg(7000, 10, fin=True),
    "altered": b"\1" + syn() + seg(0, 1000) + seg(500, 1000, alter=True) + seg(3000, 1000) + seg(2500, 1000, alter=True) + seg(1500, 1500),
    "wrap": b"\0" + syn() + b"".join(seg(i * 2000, 2000) for i in range(6)) + seg(12000, 0, fin=True) + end(),
}
os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
