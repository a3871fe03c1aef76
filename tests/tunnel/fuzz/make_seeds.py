#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Writes the seed corpus of fuzz-esp-open (tests/fuzz/corpus/esp-open/),
matching the keys in fuzz_esp_open.c. Usage: make_seeds.py STRAIT_ESP OUTDIR"""
import os
import struct
import subprocess
import sys
import tempfile
import time

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import gen_inner  # noqa: E402

strait_esp, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
keymat = bytes(range(36)).hex()
pkts = gen_inner.packets(8)
with tempfile.TemporaryDirectory() as tmp:
    raw = os.path.join(tmp, "in.pcap")
    with open(raw, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
        for p in pkts:
            f.write(struct.pack("<IIII", 0, 0, len(p), len(p)) + p)
    for fam, src, dst in ((4, "198.18.0.1:4500", "198.18.0.2:4500"),
                          (6, "[fd00::1]:4500", "[fd00::2]:4500")):
        sealed = os.path.join(tmp, "s.pcap")
        subprocess.run([strait_esp, "seal", "--spi", "0x1000", "--key", keymat, "--src", src,
                        "--dst", dst, raw, sealed], check=True, capture_output=True)
        data = open(sealed, "rb").read()
        off, i = 24, 0
        while off < len(data):
            n = struct.unpack("<I", data[off + 8:off + 12])[0]
            open(os.path.join(out, "frame-v%d-%d" % (fam, i)), "wb").write(b"\0" + data[off + 16:off + 16 + n])
            off += 16 + n
            i += 1
for i, p in enumerate(pkts[:4]):
    nh = 4 if p[0] >> 4 == 4 else 41
    open(os.path.join(out, "inner-%d" % i), "wb").write(b"\1" + bytes([nh]) + p)
open(os.path.join(out, "inner-dummy"), "wb").write(b"\1\x3b" + b"x" * 40)

# An INIT from node 2 to node 1, tenant 7, PSK 0x5a * 32, as tunnel.h specifies.
k_mac = HKDF(hashes.SHA256(), 32, b"strait kx v1", b"strait kx mac").derive(b"\x5a" * 32)
pub = X25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
msg = struct.pack("!BBHIIIQ", 1, 1, 0, 7, 2, 0x2000, time.time_ns()) + pub
h = hmac.HMAC(k_mac, hashes.SHA256())
h.update(msg)
msg += h.finalize()
open(os.path.join(out, "kx-init"), "wb").write(b"\2" + msg)
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 8 + 4 + len(msg), 0, 0x4000, 64, 17, 0,
                 bytes([198, 18, 0, 2]), bytes([198, 18, 0, 1]))
ip = ip[:10] + struct.pack("!H", gen_inner.csum(ip)) + ip[12:]
open(os.path.join(out, "kx-init-udp"), "wb").write(
    b"\0" + ip + struct.pack("!HHHH", 4500, 4500, 8 + 4 + len(msg), 0) + bytes(4) + msg)
