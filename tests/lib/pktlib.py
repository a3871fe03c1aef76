# SPDX-License-Identifier: BSD-3-Clause
"""Helpers shared by the Python tests and benchmarks: the Internet checksum
(RFC 1071), the TCP/UDP pseudo-header checksum, classic pcap files and a
failure collector. Plain struct, no scapy, so the checks stay independent
of the C code under test.

Import from a script in tests/X/ or bench/:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
"""
import struct

LINK_ETHERNET, LINK_RAW = 1, 101


def csum(data):
    """RFC 1071 ones' complement sum, complemented."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def l4_csum(src, dst, proto, seg):
    """Checksum of a TCP/UDP segment (its checksum field zero) with the
    IPv4 or IPv6 pseudo-header; src and dst are packed addresses."""
    src, dst = bytes(src), bytes(dst)
    if len(src) == 4:
        pseudo = src + dst + struct.pack("!BBH", 0, proto, len(seg))
    else:
        pseudo = src + dst + struct.pack("!IxxxB", len(seg), proto)
    return csum(pseudo + seg)


def write_pcap(path, frames, link=LINK_ETHERNET, start=1700000000, step_us=1000):
    """Little-endian microsecond pcap; frame i is stamped start + i*step_us."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, link))
        for i, fr in enumerate(frames):
            t = i * step_us
            f.write(struct.pack("<IIII", start + t // 1000000, t % 1000000, len(fr), len(fr)))
            f.write(fr)


def read_pcap_link(path):
    """(link type, [frame bytes]) of a classic pcap in either byte order;
    an empty or header-only file has no frames."""
    out = []
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            return LINK_ETHERNET, out
        magic = struct.unpack("<I", hdr[:4])[0]
        e = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
        link = struct.unpack(e + "I", hdr[20:24])[0]
        while True:
            rh = f.read(16)
            if len(rh) < 16:
                break
            _, _, incl, _ = struct.unpack(e + "IIII", rh)
            out.append(f.read(incl))
    return link, out


def read_pcap(path):
    """The frames of a classic pcap, as bytes."""
    return read_pcap_link(path)[1]


class Failures(list):
    """Collects failed checks so a scenario reports all of them."""

    def __init__(self, prefix="FAIL:"):
        super().__init__()
        self.prefix = prefix

    def check(self, cond, what):
        if not cond:
            self.append(what)
            print(self.prefix, what)
        return cond
