#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Replays frames of a WAN capture into a live appliance, as a hostile
party on the WAN would: handshake messages and ESP frames from the capture,
untouched (replays) or with one byte changed (forgeries).

  wan_inject.py CAPTURE.pcap IFACE --src IP --kind init|esp [--spi HEX]
                [--flip OFFSET] [--count N] [--last]

Picks UDP/4500 frames whose outer source is IP: --kind init takes the
handshake INITs (behind the non-ESP marker), --kind esp the ESP frames (of
SPI --spi only, if given). --flip XORs 0x01 into the UDP payload byte at
OFFSET (counted from the first byte after the marker for a handshake, from
the SPI for ESP). Sends the first N (or, with --last, the last N) on IFACE
through an AF_PACKET socket, and prints how many it sent and their SPIs."""
import argparse
import ipaddress
import json
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from pktlib import read_pcap  # noqa: E402


def udp_payload(fr):
    """(outer source address, UDP payload offset in fr, payload length) of an
    Ethernet frame to UDP port 4500 (VLAN tags skipped), or None."""
    off, et = 12, struct.unpack("!H", fr[12:14])[0]
    while et in (0x8100, 0x88A8):
        off += 4
        et = struct.unpack("!H", fr[off:off + 2])[0]
    ip = off + 2
    if et == 0x0800 and fr[ip + 9] == 17:
        hl = (fr[ip] & 15) * 4
        src = ipaddress.ip_address(fr[ip + 12:ip + 16])
        udp = ip + hl
    elif et == 0x86DD and fr[ip + 6] == 17:
        src = ipaddress.ip_address(fr[ip + 8:ip + 24])
        udp = ip + 40
    else:
        return None
    if struct.unpack("!H", fr[udp + 2:udp + 4])[0] != 4500:
        return None
    n = struct.unpack("!H", fr[udp + 4:udp + 6])[0] - 8
    return src, udp + 8, n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("capture")
    ap.add_argument("iface")
    ap.add_argument("--src", required=True)
    ap.add_argument("--kind", choices=("init", "esp"), required=True)
    ap.add_argument("--spi", type=lambda s: int(s, 16))
    ap.add_argument("--flip", type=int)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--last", action="store_true")
    a = ap.parse_args()
    want = ipaddress.ip_address(a.src)
    picked = []
    for fr in read_pcap(a.capture):
        u = udp_payload(fr)
        if not u or u[0] != want:
            continue
        _, at, n = u
        p = fr[at:at + n]
        if a.kind == "init":
            if n < 5 or p[:4] != b"\0\0\0\0" or p[4] != 1:
                continue
            at += 4
        else:
            if n < 8 or p[:4] == b"\0\0\0\0" or n == 1:
                continue
            if a.spi is not None and struct.unpack("!I", p[:4])[0] != a.spi:
                continue
        picked.append((bytearray(fr), at))
    picked = picked[-a.count:] if a.last else picked[:a.count]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    spis = []
    for fr, at in picked:
        if a.kind == "esp":
            spis.append("%08x" % struct.unpack("!I", fr[at:at + 4])[0])
        if a.flip is not None:
            fr[at + a.flip] ^= 1
        s.send(bytes(fr))
    print(json.dumps({"sent": len(picked), "spis": sorted(set(spis))}))


if __name__ == "__main__":
    main()
