#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Writes a pcap of inner packets for the ESP tests: IPv4 and IPv6, UDP and
TCP, sizes from 20 to 1500 bytes (every payload length mod 4, so every pad
length), each carrying a recognisable payload. Link type Ethernet by
default, raw IP with --raw. Usage: gen_inner.py OUT.pcap [--raw] [--count N]"""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from pktlib import LINK_ETHERNET, LINK_RAW, csum, l4_csum, write_pcap  # noqa: E402


def ipv4(src, dst, proto, payload, ident):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, 64,
                      proto, 0, bytes(src), bytes(dst))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def ipv6(src, dst, proto, payload):
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), proto, 64, bytes(src),
                       bytes(dst)) + payload


def with_csum(seg, at, src, dst, proto):
    """Fills in a UDP/TCP checksum at offset `at` over the pseudo-header."""
    c = l4_csum(src, dst, proto, seg) or (0xFFFF if proto == 17 else 0)
    return seg[:at] + struct.pack("!H", c) + seg[at + 2:]


def udp(sport, dport, data):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def tcp(sport, dport, seq, data):
    return struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x18, 65535, 0, 0) + data


def payload(i, n):
    tag = b"strait-inner-%06d|" % i
    body = (tag * (n // len(tag) + 1))[:n]
    return body


def packets(count):
    s4, d4 = [198, 18, 10, 1], [198, 18, 10, 2]
    s6 = [0x20, 0x01, 0x0d, 0xb8] + [0] * 11 + [1]
    d6 = [0x20, 0x01, 0x0d, 0xb8] + [0] * 11 + [2]
    out = []
    for i in range(count):
        n = [0, 1, 2, 3, 17, 100, 511, 1000, 1372, 1452][i % 10] + (i // 10) % 4
        kind = i % 4
        if kind == 0:
            p = ipv4(s4, d4, 17, with_csum(udp(40000 + i, 9000, payload(i, n)), 6, s4, d4, 17), i)
        elif kind == 1:
            p = ipv4(s4, d4, 6, with_csum(tcp(40000 + i, 3260, i * 1000, payload(i, n)), 16, s4,
                                          d4, 6), i)
        elif kind == 2:
            p = ipv6(s6, d6, 17, with_csum(udp(40000 + i, 9000, payload(i, n)), 6, s6, d6, 17))
        else:
            p = ipv6(s6, d6, 6, with_csum(tcp(40000 + i, 3260, i * 1000, payload(i, n)), 16, s6,
                                          d6, 6))
        out.append(p)
    return out


def main():
    args = sys.argv[1:]
    raw = "--raw" in args
    count = 64
    if "--count" in args:
        count = int(args[args.index("--count") + 1])
    path = [a for a in args if a.endswith(".pcap")][0]
    frames = []
    for p in packets(count):
        if not raw:
            et = 0x86DD if p[0] >> 4 == 6 else 0x0800
            p = bytes(6) + b"\x02\0\0\0\0\x01" + struct.pack("!H", et) + p
        frames.append(p)
    write_pcap(path, frames, LINK_RAW if raw else LINK_ETHERNET)

if __name__ == "__main__":
    main()
