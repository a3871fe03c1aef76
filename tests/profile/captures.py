# SPDX-License-Identifier: BSD-3-Clause
"""Small deterministic captures for the strait-profile tests and the
fuzzer's seeds: TCP conversations built segment by segment, then edited
(segments dropped, repeated, reordered, changed) and written in the link
types and file formats the profiler reads. Frames come from
tests/dataplane/frames.py; pcap files from tests/lib/pktlib.py."""
import os
import random
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "dataplane"))
import frames as fr  # noqa: E402
from pktlib import write_pcap  # noqa: E402

LINK_NULL, LINK_ETH, LINK_RAW, LINK_SLL, LINK_SLL2 = 0, 1, 101, 113, 276
C2S, S2C = 0, 1


def payload(n, seed, repeat=0):
    """n bytes of text-like data; with repeat > 0 the stream repeats its
    first `repeat` bytes, so the codec finds duplicates."""
    rnd = random.Random(seed)
    words = [bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 9)))
             for _ in range(400)]
    out = bytearray()
    while len(out) < (repeat or n):
        out += rnd.choice(words) + (b"\n" if rnd.random() < 0.1 else b" ")
    out = bytes(out[:repeat or n])
    while len(out) < n:
        out += out[:n - len(out)]
    return out


class Conn:
    """One TCP connection: segments as dicts (d, seq, ack, flags, data)."""

    def __init__(self, client, server, cport, sport, isn=(1000, 900000), vlans=()):
        self.client, self.server, self.cport, self.sport = client, server, cport, sport
        self.isn = list(isn)
        self.vlans = vlans
        self.nxt = [isn[0], isn[1]]
        self.segs = []

    def seg(self, d, flags, data=b"", seq=None):
        s = {"d": d, "seq": self.nxt[d] if seq is None else seq, "flags": flags,
             "ack": self.nxt[1 - d], "data": data, "conn": self}
        self.segs.append(s)
        return s

    def handshake(self):
        self.seg(C2S, fr.TCP_SYN)["ack"] = 0
        self.nxt[C2S] += 1
        self.seg(S2C, fr.TCP_SYN | fr.TCP_ACK)
        self.nxt[S2C] += 1
        self.seg(C2S, fr.TCP_ACK)
        return self

    def send(self, d, data, mss=1000, ack_every=4):
        for i in range(0, len(data), mss):
            self.seg(d, fr.TCP_ACK | fr.TCP_PSH, data[i:i + mss])
            self.nxt[d] += len(data[i:i + mss])
            if (i // mss) % ack_every == ack_every - 1:
                self.seg(1 - d, fr.TCP_ACK)
        self.seg(1 - d, fr.TCP_ACK)
        return self

    def close(self):
        for d in (C2S, S2C):
            self.seg(d, fr.TCP_FIN | fr.TCP_ACK)
            self.nxt[d] += 1
        self.seg(C2S, fr.TCP_ACK)
        return self

    def data_segs(self, d):
        return [s for s in self.segs if s["d"] == d and s["data"]]


def hop_by_hop_dest_opts(seg):
    """IPv6 extension headers before TCP: hop-by-hop then destination
    options, each 8 bytes of PadN."""
    dest = struct.pack("!BB", 6, 0) + b"\x01\x04\0\0\0\0"
    hbh = struct.pack("!BB", 60, 0) + b"\x01\x04\0\0\0\0"
    return hbh + dest + seg


def ip_packet(s, ext6=False):
    c = s["conn"]
    src, dst = (c.client, c.server) if s["d"] == C2S else (c.server, c.client)
    sp, dp = (c.cport, c.sport) if s["d"] == C2S else (c.sport, c.cport)
    seg = fr.tcp(src, dst, sp, dp, s["flags"], seq=s["seq"] & 0xFFFFFFFF,
                 ack=s["ack"] & 0xFFFFFFFF, data=s["data"])
    if ":" in src:
        return fr.ipv6(src, dst, 0 if ext6 else 6, hop_by_hop_dest_opts(seg) if ext6 else seg)
    return fr.ipv4(src, dst, 6, seg)


def frame(s, link=LINK_ETH, ext6=False):
    pkt = ip_packet(s, ext6)
    etype = 0x86DD if pkt[0] >> 4 == 6 else 0x0800
    if link == LINK_ETH:
        return fr.eth("02:00:00:00:00:02", "02:00:00:00:00:01", etype, pkt, s["conn"].vlans)
    if link == LINK_RAW:
        return pkt
    if link == LINK_SLL:
        return struct.pack("!HHH8sH", 0, 1, 6, b"\x02\0\0\0\0\x01\0\0", etype) + pkt
    if link == LINK_SLL2:
        return struct.pack("!HHIHBB8s", etype, 0, 3, 1, 0, 6, b"\x02\0\0\0\0\x01\0\0") + pkt
    if link == LINK_NULL:
        return struct.pack("<I", 30 if etype == 0x86DD else 2) + pkt
    raise ValueError(link)


def write(path, segs, link=LINK_ETH, ext6=False, extra=()):
    """segs in capture order; extra: (index, raw frame) inserted."""
    frames = [frame(s, link, ext6) for s in segs]
    for i, f in extra:
        frames.insert(i, f)
    write_pcap(path, frames, link=link)


def write_pcapng(path, frames, link=LINK_ETH):
    """Section header, one interface (microseconds), enhanced packets."""
    def block(btype, body):
        body += b"\0" * (-len(body) % 4)
        n = 12 + len(body)
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)
    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack("<HHI", link, 0, 65535))
    for i, f in enumerate(frames):
        t = 1700000000 * 1000000 + i * 1000
        out += block(6, struct.pack("<IIIII", 0, t >> 32, t & 0xFFFFFFFF, len(f), len(f)) + f)
    with open(path, "wb") as fh:
        fh.write(out)
