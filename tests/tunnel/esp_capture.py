#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Capture checks for strait-esp, against two independent implementations.

1. `strait-esp seal` wraps a capture of inner IPv4/IPv6 packets; tshark,
   given the SA (RFC 4106 AES-GCM, 16-byte ICV), must decrypt every frame to
   the original inner packet, byte for byte.
2. tshark checks no ICV and knows no ESN, so every frame is also decrypted
   with python3-cryptography's AESGCM, with the ESN high half in the AAD
   (RFC 4106 section 5), across the 2^32 sequence boundary; the outer
   headers (UDP/4500, IPv6 UDP checksum) are checked too.
3. `strait-esp open` gets the inner packets back, and counts a replayed,
   a forged-ICV, a truncated and a wrong-SPI frame, each under its reason.

Usage: esp_capture.py STRAIT_ESP GEN_INNER_PY
"""
import ipaddress
import json
import os
import struct
import subprocess
import sys
import tempfile

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from pktlib import Failures, csum, read_pcap_link, write_pcap  # noqa: E402

STRAIT_ESP, GEN = sys.argv[1], sys.argv[2]
KEYMAT = bytes(range(0x40, 0x40 + 36))
KEY, SALT = KEYMAT[:32], KEYMAT[32:]
SPI = 0x0000C0DE
failures = Failures()
check = failures.check


def inner_packets(path):
    link, frames = read_pcap_link(path)
    if link == 1:
        return [p[14:] for p in frames if p[12:14] in (b"\x08\x00", b"\x86\xdd")]
    return frames


def run(*args):
    r = subprocess.run([STRAIT_ESP, *args], capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout, r.stderr)
    return r.returncode, (json.loads(r.stdout) if r.stdout.strip() else None)


def parse_outer(frame):
    """-> (family, src, dst, udp_payload); asserts on the outer headers."""
    v = frame[0] >> 4
    if v == 4:
        ihl = (frame[0] & 15) * 4
        check(csum(frame[:ihl]) == 0, "IPv4 header checksum")
        check(struct.unpack("!H", frame[2:4])[0] == len(frame), "IPv4 total length")
        check(frame[9] == 17, "outer protocol UDP")
        udp = frame[ihl:]
        src, dst = frame[12:16], frame[16:20]
        check(struct.unpack("!H", udp[6:8])[0] == 0, "IPv4 UDP checksum 0 (RFC 3948)")
    else:
        check(frame[6] == 17, "outer next header UDP")
        udp = frame[40:]
        src, dst = frame[8:24], frame[24:40]
        pseudo = src + dst + struct.pack("!IxxxB", len(udp), 17)
        check(struct.unpack("!H", udp[6:8])[0] != 0, "IPv6 UDP checksum present")
        check(csum(pseudo + udp) == 0, "IPv6 UDP checksum correct")
    sport, dport, ulen = struct.unpack("!HHH", udp[:6])
    check(dport == 4500 and ulen == len(udp), "UDP to 4500 with right length")
    return v, src, dst, udp[8:]


def independent_open(esp, want_seq):
    spi, lo = struct.unpack("!II", esp[:8])
    iv, ct, tag = esp[8:16], esp[16:-16], esp[-16:]
    check(spi == SPI, "SPI")
    check(lo == want_seq & 0xFFFFFFFF, "low sequence number %d" % want_seq)
    check(iv == struct.pack("!Q", want_seq), "IV is the 64-bit sequence number")
    aead = AESGCM(KEY)
    aad = struct.pack("!III", spi, want_seq >> 32, lo)
    plain = aead.decrypt(SALT + iv, ct + tag, aad)
    # the high half is authenticated: 32-bit AAD or a wrong high half fails
    for bad in (struct.pack("!II", spi, lo), struct.pack("!III", spi, (want_seq >> 32) ^ 1, lo)):
        try:
            aead.decrypt(SALT + iv, ct + tag, bad)
            check(False, "decrypt with a wrong AAD must fail (seq %d)" % want_seq)
        except Exception:
            pass
    check(len(ct) % 4 == 0, "trailer ends on a 4-byte boundary")
    pad, nh = plain[-2], plain[-1]
    check(plain[-2 - pad:-2] == bytes(range(1, pad + 1)), "padding bytes 1,2,..")
    check(pad <= 3, "minimal padding")
    return plain[:-2 - pad], nh


def tshark_inner(pcap, family, src, dst):
    proto = "IPv4" if family == 4 else "IPv6"
    sa = '"%s","%s","%s","0x%08x","AES-GCM with 16 octet ICV [RFC4106]","0x%s","NULL",""' % (
        proto, src, dst, SPI, KEYMAT.hex())
    r = subprocess.run(["tshark", "-r", pcap, "-o", "esp.enable_encryption_decode:TRUE",
                        "-o", "uat:esp_sa:" + sa, "-T", "fields", "-e", "esp.contained_data",
                        "-e", "esp.protocol"], capture_output=True, text=True)
    check(r.returncode == 0, "tshark ran: " + r.stderr[-300:])
    rows = [l.split("\t") for l in r.stdout.splitlines()]
    return [(bytes.fromhex(d.replace(":", "")), int(nh, 16)) for d, nh in rows]


def seal_case(tmp, name, src, dst, first_seq, inner_pcap, inner):
    out = os.path.join(tmp, name + ".pcap")
    rc, res = run("seal", "--spi", hex(SPI), "--key", KEYMAT.hex(), "--src", src, "--dst", dst,
                  "--seq", str(first_seq), inner_pcap, out)
    check(rc == 0 and res["sealed"] == len(inner), "%s: seal all (%s)" % (name, res))
    check(res["last_seq"] == first_seq + len(inner) - 1, name + ": last_seq")
    _, frames = read_pcap_link(out)
    check(len(frames) == len(inner), name + ": frame count")
    fam, s, d = 0, None, None
    for i, f in enumerate(frames):
        fam, s, d, esp = parse_outer(f)
        got, nh = independent_open(esp, first_seq + i)
        check(got == inner[i], "%s: frame %d decrypts (AESGCM) to the inner packet" % (name, i))
        check(nh == (4 if inner[i][0] >> 4 == 4 else 41), "%s: next header %d" % (name, nh))
    # tshark, given the SA
    ts = tshark_inner(out, fam, str(ipaddress.ip_address(s)), str(ipaddress.ip_address(d)))
    check(len(ts) == len(inner), "%s: tshark saw every frame" % name)
    for i, (data, nh) in enumerate(ts):
        check(data == inner[i], "%s: tshark decrypts frame %d to the inner packet" % (name, i))
    # strait-esp open
    back = os.path.join(tmp, name + "-back.pcap")
    rc, res = run("open", "--spi", str(SPI), "--key", KEYMAT.hex(), "--seq", str(first_seq), out,
                  back)
    check(rc == 0 and res["opened"] == len(inner) and not any(res["rejected"].values()),
          "%s: open all (%s)" % (name, res))
    check(inner_packets(back) == inner, name + ": open gives back the inner packets")
    return out


def main():
    with tempfile.TemporaryDirectory() as tmp:
        eth = os.path.join(tmp, "inner-eth.pcap")
        raw = os.path.join(tmp, "inner-raw.pcap")
        subprocess.run([sys.executable, GEN, eth, "--count", "80"], check=True)
        subprocess.run([sys.executable, GEN, raw, "--raw", "--count", "24"], check=True)
        inner = inner_packets(eth)
        # a non-IP frame (ARP) in the capture is skipped, not sealed
        link, frames = read_pcap_link(eth)
        arp = bytes(6) + b"\x02\0\0\0\0\x01\x08\x06" + bytes(28)
        with_arp = os.path.join(tmp, "with-arp.pcap")
        write_pcap(with_arp, [frames[0], arp, frames[1]], link)
        rc, res = run("seal", "--spi", str(SPI), "--key", KEYMAT.hex(), "--src", "198.18.0.1:4500",
                      "--dst", "198.18.0.2:4500", with_arp, os.path.join(tmp, "x.pcap"))
        check(rc == 0 and res["sealed"] == 2 and res["skipped"] == 1, "ARP skipped")

        # a frame longer than any IP packet (a capture with a 256 KiB snaplen)
        big = os.path.join(tmp, "big.pcap")
        with open(big, "wb") as fh:
            fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 101))
            p = bytes([0x45]) + bytes(69999)
            fh.write(struct.pack("<IIII", 0, 0, len(p), len(p)) + p)
        rc, res = run("seal", "--spi", str(SPI), "--key", KEYMAT.hex(), "--src", "198.18.0.1:4500",
                      "--dst", "198.18.0.2:4500", big, os.path.join(tmp, "y.pcap"))
        check(rc == 0 and res["sealed"] == 0 and res["skipped"] == 1, "oversize frame skipped")
        rc, res = run("open", "--spi", str(SPI), "--key", KEYMAT.hex(), big, os.path.join(tmp, "z.pcap"))
        check(rc == 0 and res["opened"] == 0 and res["rejected"]["malformed"] == 1,
              "oversize frame malformed (%s)" % res)

        v4 = seal_case(tmp, "v4", "198.18.0.1:4500", "198.18.0.2:4500", 1, eth, inner)
        seal_case(tmp, "v6-esn", "[2001:db8::1]:4500", "[2001:db8::2]:4500", (1 << 32) - 40, eth,
                  inner)
        seal_case(tmp, "raw", "198.18.0.1:54321", "198.18.0.2:4500", (5 << 32) - 3, raw,
                  inner_packets(raw))

        # rejections, each under its own reason
        _, f = read_pcap_link(v4)

        def reframe(esp):  # a well-formed outer IPv4/UDP around any ESP bytes
            udp = struct.pack("!HHHH", 4500, 4500, 8 + len(esp), 0) + esp
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                             bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2]))
            return ip[:10] + struct.pack("!H", csum(ip)) + ip[12:] + udp

        esp10 = f[10][28:]
        forged = reframe(esp10[:-1] + bytes([esp10[-1] ^ 1]))
        truncated = reframe(esp10[:30])
        wrong_spi = reframe(struct.pack("!I", SPI + 1) + esp10[4:])
        tampered = f[:10] + [forged] + f[10:] + [f[3], truncated, wrong_spi]
        bad = os.path.join(tmp, "bad.pcap")
        write_pcap(bad, tampered, 101)
        rc, res = run("open", "--spi", str(SPI), "--key", KEYMAT.hex(), bad,
                      os.path.join(tmp, "bad-back.pcap"))
        want = {"replay": 1, "icv": 1, "malformed": 1, "unknown_spi": 1}
        check(rc == 0 and res["opened"] == len(inner), "open: genuine frames all opened (%s)" % res)
        for k, v in want.items():
            check(res["rejected"][k] == v, "open counts %s = %d (%s)" % (k, v, res["rejected"]))
        check(inner_packets(os.path.join(tmp, "bad-back.pcap")) == inner,
              "nothing from a rejected frame reaches the output")

        # bad arguments get a clear error and exit code 2
        for args in (["seal", "--spi", "255", "--key", KEYMAT.hex()],
                     ["open", "--spi", "300", "--key", "abcd", "a", "b"],
                     ["seal", "--spi", "300", "--key", KEYMAT.hex(), "--src", "1.2.3.4",
                      "--dst", "1.2.3.5:4500", "a", "b"]):
            r = subprocess.run([STRAIT_ESP, *args], capture_output=True, text=True)
            check(r.returncode == 2 and r.stderr, "rejects %s" % args)

    if failures:
        print("%d failures" % len(failures))
        sys.exit(1)
    print("all capture checks passed")


main()
