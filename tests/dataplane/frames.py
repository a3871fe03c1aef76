# SPDX-License-Identifier: BSD-3-Clause
"""Frame builders and pcap files for the dataplane tests and benchmarks.

Plain struct, no scapy: each builder returns the bytes of one Ethernet
frame, with correct checksums unless asked otherwise. The expected answers
(ARP reply, neighbour advertisement, echo replies) are built here from the
RFCs, independently of straitd's code, so the tests compare two
implementations.
"""
import ipaddress
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from pktlib import csum, l4_csum, read_pcap, write_pcap  # noqa: E402,F401

ETH_IP4, ETH_ARP, ETH_IP6, ETH_VLAN, ETH_QINQ = 0x0800, 0x0806, 0x86DD, 0x8100, 0x88A8
TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 1, 2, 4, 8, 16


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def ip(s):
    return ipaddress.ip_address(s).packed


def eth(dst, src, etype, payload, vlans=()):
    """vlans: outer first; each (tpid, vid)."""
    hdr = mac(dst) + mac(src)
    for tpid, vid in vlans:
        hdr += struct.pack("!HH", tpid, vid)
    return hdr + struct.pack("!H", etype) + payload


def ipv4(src, dst, proto, payload, ttl=64, ident=1, frag=0, opts=b"", bad_csum=False,
         total=None):
    ihl = 5 + len(opts) // 4
    tot = total if total is not None else ihl * 4 + len(payload)
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, tot, ident, frag, ttl, proto, 0,
                    ip(src), ip(dst)) + opts
    c = csum(h)
    if bad_csum:
        c ^= 0x5555
    return h[:10] + struct.pack("!H", c) + h[12:] + payload


def ipv6(src, dst, nh, payload, hlim=64, plen=None):
    p = plen if plen is not None else len(payload)
    return struct.pack("!IHBB16s16s", 0x60000000, p, nh, hlim, ip(src), ip(dst)) + payload


def tcp(src, dst, sport, dport, flags, seq=1000, ack=0, data=b"", win=65535):
    h = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, win, 0, 0) + data
    c = l4_csum(ip(src), ip(dst), 6, h)
    return h[:16] + struct.pack("!H", c) + h[18:]


def udp(src, dst, sport, dport, data):
    h = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    c = l4_csum(ip(src), ip(dst), 17, h) or 0xFFFF
    return h[:6] + struct.pack("!H", c) + h[8:]


def tcp_frame(smac, dmac, src, dst, sport, dport, flags, data=b"", vlans=(), seq=1000, ack=0):
    seg = tcp(src, dst, sport, dport, flags, seq=seq, ack=ack, data=data)
    if ":" in src:
        return eth(dmac, smac, ETH_IP6, ipv6(src, dst, 6, seg), vlans)
    return eth(dmac, smac, ETH_IP4, ipv4(src, dst, 6, seg), vlans)


def icmp4_echo(smac, dmac, src, dst, ident=7, seq=1, data=b"strait-ping", typ=8, ttl=64,
               bad=False, vlans=()):
    m = struct.pack("!BBHHH", typ, 0, 0, ident, seq) + data
    c = csum(m) ^ (0x1111 if bad else 0)
    m = m[:2] + struct.pack("!H", c) + m[4:]
    return eth(dmac, smac, ETH_IP4, ipv4(src, dst, 1, m, ttl=ttl), vlans)


def icmp6(src, dst, typ, code, body):
    m = struct.pack("!BBH", typ, code, 0) + body
    c = l4_csum(ip(src), ip(dst), 58, m)
    return m[:2] + struct.pack("!H", c) + m[4:]


def icmp6_echo(smac, dmac, src, dst, ident=7, seq=1, data=b"strait-ping6", typ=128, hlim=64):
    m = icmp6(src, dst, typ, 0, struct.pack("!HH", ident, seq) + data)
    return eth(dmac, smac, ETH_IP6, ipv6(src, dst, 58, m, hlim=hlim))


def solicited_node(target):
    t = ip(target)
    return str(ipaddress.ip_address(bytes.fromhex("ff0200000000000000000001ff") + t[13:]))


def ns(smac, src, target, slla=True, dst=None):
    dst = dst or solicited_node(target)
    t = ip(target)
    dmac = "33:33:ff:%02x:%02x:%02x" % (t[13], t[14], t[15])
    body = b"\0\0\0\0" + t + (b"\x01\x01" + mac(smac) if slla else b"")
    return eth(dmac, smac, ETH_IP6, ipv6(src, dst, 58, icmp6(src, dst, 135, 0, body), hlim=255))


def fix_icmp6(frame):
    """Recomputes the ICMPv6 checksum of an untagged Ethernet/IPv6 frame
    without extension headers."""
    src, dst = frame[22:38], frame[38:54]
    body = frame[54:56] + b"\0\0" + frame[58:]
    c = l4_csum(src, dst, 58, body)
    return frame[:56] + struct.pack("!H", c) + frame[58:]


def na(smac, dmac, src, dst, target, flags=0x60):
    body = struct.pack("!B3x", flags) + ip(target) + b"\x02\x01" + mac(smac)
    return eth(dmac, smac, ETH_IP6, ipv6(src, dst, 58, icmp6(src, dst, 136, 0, body), hlim=255))


def arp(op, sha, spa, tha, tpa, dmac=None, vlans=(), pad=True):
    body = struct.pack("!HHBBH6s4s6s4s", 1, ETH_IP4, 6, 4, op, mac(sha), ip(spa), mac(tha), ip(tpa))
    f = eth(dmac or ("ff:ff:ff:ff:ff:ff" if op == 1 else tha), sha, ETH_ARP, body, vlans)
    if pad and len(f) < 60:
        f += b"\0" * (60 - len(f))
    return f


# ---- expected answers, from the RFCs ----

def arp_reply_for(req, mymac, myip):
    """RFC 826: the request turned around, padding kept."""
    l2 = 14
    sha, spa = req[l2 + 8:l2 + 14], req[l2 + 14:l2 + 18]
    body = struct.pack("!HHBBH", 1, ETH_IP4, 6, 4, 2) + mac(mymac) + ip(myip) + sha + spa
    return sha + mac(mymac) + req[12:14] + body + req[l2 + 28:]


def echo4_reply_for(req, mymac, myip):
    src = str(ipaddress.ip_address(req[26:30]))
    ihl = (req[14] & 15) * 4
    icmp = bytearray(req[14 + ihl:])
    icmp[0] = 0
    icmp[2:4] = b"\0\0"
    icmp[2:4] = struct.pack("!H", csum(bytes(icmp)))
    ident = struct.unpack("!H", req[18:20])[0]
    return eth(str_mac(req[6:12]), mymac, ETH_IP4,
               ipv4(myip, src, 1, bytes(icmp), ttl=64, ident=ident))


def echo6_reply_for(req, mymac, myip6):
    src = str(ipaddress.ip_address(req[22:38]))
    body = req[14 + 40 + 4:]
    m = icmp6(myip6, src, 129, 0, body)
    return eth(str_mac(req[6:12]), mymac, ETH_IP6, ipv6(myip6, src, 58, m, hlim=64))


def str_mac(b):
    return ":".join("%02x" % x for x in b)
