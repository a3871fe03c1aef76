#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""strait-profile on small deterministic captures (captures.py): every
reassembled direction is compared byte for byte with what was sent (or
with what was sent minus exactly the gaps the capture has), and the JSON
report's gaps, tenants, anomalies and totals are checked.

usage: profile_test.py STRAIT_PROFILE STRAIT_DEDUPE
"""
import glob
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import captures as cp  # noqa: E402
from captures import C2S, S2C, Conn  # noqa: E402
from pktlib import Failures  # noqa: E402

PROFILE, DEDUPE = sys.argv[1], sys.argv[2]
TMP = tempfile.mkdtemp(prefix="strait-profile-test-")
F = Failures()


def run(caps, *opts, expect_rc=0, name="run"):
    """Runs the profiler; returns (json report, dump dir, stderr)."""
    out = os.path.join(TMP, name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    js, dump = os.path.join(out, "report.json"), os.path.join(out, "streams")
    args = [PROFILE, "--json", js, "--dump-streams", dump, *opts, *caps]
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    F.check(p.returncode == expect_rc, f"{name}: exit {p.returncode}, expected {expect_rc}: {p.stderr.strip()}")
    rep = json.load(open(js)) if os.path.exists(js) else None
    return rep, dump, p.stderr


def stream(dump, conn, d, suffix=""):
    c, s = conn, conn
    def ep(a, port):
        return f"[{a}].{port}" if ":" in a else f"{a}.{port}"
    name = f"tcp-{ep(c.client, c.cport)}-{ep(s.server, s.sport)}-{'c2s' if d == C2S else 's2c'}{suffix}"
    path = os.path.join(dump, name)
    return open(path, "rb").read() if os.path.exists(path) else b""


def flow_of(rep, conn):
    for f in rep["flows"]:
        if f["client_port"] == conn.cport and f["server_port"] == conn.sport and f["client"] == conn.client:
            return f
    return None


def check_streams(name, dump, conn, c2s, s2c):
    F.check(stream(dump, conn, C2S) == c2s, f"{name}: c2s stream differs from what was sent ({len(stream(dump, conn, C2S))} vs {len(c2s)} bytes)")
    F.check(stream(dump, conn, S2C) == s2c, f"{name}: s2c stream differs from what was sent ({len(stream(dump, conn, S2C))} vs {len(s2c)} bytes)")


def cap(name):
    return os.path.join(TMP, name)


# 1. A clean conversation with retransmissions, reordering and a consistent
#    overlap, both directions, IPv4 over Ethernet; the same as pcapng.
def case_basic():
    up, down = cp.payload(60000, 1, repeat=20000), cp.payload(9000, 2)
    c = Conn("198.18.1.2", "198.18.2.9", 40001, 873).handshake()
    c.send(C2S, up).send(S2C, down).close()
    segs = list(c.segs)
    data = c.data_segs(C2S)
    at = lambda s: next(i for i, x in enumerate(segs) if x is s)  # noqa: E731
    segs.insert(at(data[10]) + 1, dict(data[5]))            # a retransmission
    a, b = at(data[20]), at(data[21])
    segs[a], segs[b] = segs[b], segs[a]                     # reordered
    over = dict(data[30])                                   # overlapping re-send
    over["seq"] -= 500
    over["data"] = up[29 * 1000 + 500:31 * 1000]
    segs.insert(at(data[31]) + 2, over)
    cp.write(cap("basic.pcap"), segs)
    rep, dump, _ = run([cap("basic.pcap")], name="basic")
    check_streams("basic", dump, c, up, down)
    f = flow_of(rep, c)
    F.check(f and f["handshake_seen"] and f["end"] == "fin", "basic: handshake and FIN")
    F.check(f and f["c2s"]["gap_count"] == 0 and f["s2c"]["gap_count"] == 0, "basic: no gaps")
    F.check(f and f["c2s"]["retransmitted_bytes"] >= 1000 + 1500, "basic: retransmitted bytes counted")
    F.check(f and f["c2s"]["out_of_order_segments"] >= 1, "basic: out-of-order segment held")
    F.check(f and f["c2s"]["inconsistent_overlaps"] == 0, "basic: no inconsistent overlap")
    F.check(rep["total"]["raw_bytes"] == len(up) + len(down), "basic: total raw bytes")
    F.check(0 < rep["total"]["strait_bytes"] < rep["total"]["raw_bytes"] // 2, "basic: dedupe + zstd reduce text that repeats")
    F.check(f and f["c2s"]["cache_hits"] > 0, "basic: cache hits on the repeated part")
    frames = [cp.frame(s) for s in segs]
    cp.write_pcapng(cap("basic.pcapng"), frames)
    rep2, dump2, _ = run([cap("basic.pcapng")], name="basic-ng")
    check_streams("basic pcapng", dump2, c, up, down)
    F.check(rep2["total"] == rep["total"] or rep2["total"]["strait_bytes"] == rep["total"]["strait_bytes"],
            "basic: pcapng gives the same estimate as pcap")


# 2. Captures that start mid-stream: no SYN, the first data segments lost.
def case_midstream():
    up, down = cp.payload(30000, 3), cp.payload(5000, 4)
    c = Conn("198.18.1.2", "198.18.2.9", 40002, 873).handshake()
    c.send(C2S, up).send(S2C, down).close()
    first = [i for i, s in enumerate(c.segs) if s["d"] == C2S and s["data"]][7]
    cp.write(cap("mid.pcap"), c.segs[first:])
    rep, dump, _ = run([cap("mid.pcap")], "--ports", "873", name="midstream")
    f = flow_of(rep, c)
    F.check(f is not None, "midstream: the server is the side on port 873")
    F.check(f and not f["handshake_seen"] and "first byte seen" in f.get("note", ""), "midstream: said so")
    check_streams("midstream", dump, c, up[7000:], down)


# 3. Segments removed from the capture: gaps with their offsets and sizes.
def case_gaps():
    up, down = cp.payload(40000, 5), cp.payload(8000, 6)
    c = Conn("198.18.1.2", "198.18.2.9", 40003, 873).handshake()
    c.send(C2S, up).send(S2C, down).close()
    cd, sd = c.data_segs(C2S), c.data_segs(S2C)
    drop = [cd[5], cd[6], cd[20], cd[-1], sd[3]]
    segs = [s for s in c.segs if not any(s is d for d in drop)]
    cp.write(cap("gaps.pcap"), segs)
    rep, dump, _ = run([cap("gaps.pcap")], name="gaps")
    f = flow_of(rep, c)
    g = [(x["offset"], x["length"], x["reason"]) for x in f["c2s"]["gaps"]]
    F.check(g == [(5000, 2000, "ack"), (20000, 1000, "ack"), (39000, 1000, "end")], f"gaps: c2s gaps {g}")
    F.check([(x["offset"], x["length"]) for x in f["s2c"]["gaps"]] == [(3000, 1000)], "gaps: s2c gap")
    F.check(f["c2s"]["gap_bytes"] == 4000 and f["c2s"]["runs"] == 3, "gaps: c2s gap bytes and runs")
    want = up[:5000] + up[7000:20000] + up[21000:39000]
    check_streams("gaps", dump, c, want, down[:3000] + down[4000:])
    F.check(f["c2s"]["raw_bytes"] == len(want), "gaps: raw bytes are the bytes the capture holds")


# 4. IPv6 with extension headers over QinQ, IPv4 over 802.1Q, and the
#    Linux cooked (SLL, SLL2), raw IP and BSD loopback link types.
def case_links():
    up, down = cp.payload(12000, 7), cp.payload(3000, 8)
    c6 = Conn("2001:db8:1::2", "2001:db8:2::9", 40004, 873, vlans=((0x88A8, 100), (0x8100, 7)))
    c6.handshake().send(C2S, up).send(S2C, down).close()
    c4 = Conn("198.18.1.2", "198.18.2.9", 40005, 873, vlans=((0x8100, 42),))
    c4.handshake().send(C2S, down).send(S2C, up).close()
    segs = [s for pair in zip(c6.segs, c4.segs) for s in pair]
    cp.write(cap("vlan6.pcap"), segs, ext6=True)
    rep, dump, _ = run([cap("vlan6.pcap")], name="vlan6")
    check_streams("ipv6 qinq", dump, c6, up, down)
    check_streams("ipv4 vlan", dump, c4, down, up)
    f6, f4 = flow_of(rep, c6), flow_of(rep, c4)
    F.check(f6 and f6["ip_version"] == 6 and f6["vlan"] == [100, 7], "vlan6: IPv6 flow with both tags")
    F.check(f4 and f4["vlan"] == [42], "vlan6: IPv4 flow with its tag")
    for link in (cp.LINK_SLL, cp.LINK_SLL2, cp.LINK_RAW, cp.LINK_NULL):
        c = Conn("198.18.1.2", "198.18.2.9", 40006, 873).handshake().send(C2S, up).send(S2C, down).close()
        cp.write(cap(f"link{link}.pcap"), c.segs, link=link)
        rep, dump, _ = run([cap(f"link{link}.pcap")], name=f"link{link}")
        check_streams(f"link type {link}", dump, c, up, down)


# 5. Several tenants, from the shipped example files (configs/tenants: so
#    they stay what the configuration library accepts): the longest prefix
#    wins; a flow no rule selects; a mid-stream flow classified by the side
#    whose port matches; key files that do not exist are no obstacle; each
#    tenant's CacheSize and CacheWindow, and --cache and --window over them.
def case_tenants():
    tdir = os.path.join(TMP, "tenant-files")
    os.makedirs(tdir, exist_ok=True)
    for path in glob.glob(os.path.join(HERE, "..", "..", "configs", "tenants", "*.conf")):
        text = open(path).read()
        if os.path.basename(path) == "acme.conf":
            text = re.sub(r"(?m)^CacheSize *=.*$", "CacheSize = 64M\nCacheWindow = 4M", text)
        open(os.path.join(tdir, os.path.basename(path)), "w").write(text)
    # acme: 10.1.0.0/16, 2001:db8:1::/48 -> 10.2.0.0/16, 2001:db8:2::/48 on 31031, 44046, 9443, 873
    # globex: 10.1.7.20/32 -> 10.2.5.0/24 on 5432, 1521-1522
    a = Conn("10.1.2.3", "10.2.9.9", 40010, 873).handshake().send(C2S, cp.payload(20000, 9)).close()
    b = Conn("10.1.7.20", "10.2.5.5", 40011, 5432).handshake().send(C2S, cp.payload(15000, 10)).close()
    n = Conn("10.1.2.3", "10.2.9.9", 40012, 22).handshake().send(C2S, cp.payload(5000, 11)).close()
    v6 = Conn("2001:db8:1::5", "2001:db8:2::5", 40013, 9443).handshake().send(S2C, cp.payload(7000, 12)).close()
    m = Conn("10.1.7.20", "10.2.5.5", 40014, 1521).handshake().send(S2C, cp.payload(9000, 13)).close()
    g = Conn("10.1.7.20", "10.2.5.5", 40015, 873).handshake().send(C2S, cp.payload(3000, 14)).close()
    mid = [s for s in m.segs if s["data"]][2:] + m.segs[-3:]
    flows, segs = [a.segs, b.segs, n.segs, v6.segs, mid, g.segs], []
    while any(flows):  # interleaved, each flow in order
        for fl in flows:
            if fl:
                segs.append(fl.pop(0))
    cp.write(cap("tenants.pcap"), segs)
    rep, dump, _ = run([cap("tenants.pcap")], "--tenants", tdir, name="tenants")
    names = {t["name"]: t for t in rep["tenants"]}
    F.check(sorted(names) == ["acme", "globex"], "tenants: both loaded, key files absent")
    F.check(names["acme"]["cache_bytes"] == 64 << 20 and names["globex"]["cache_bytes"] == 1 << 30, "tenants: CacheSize")
    F.check(names["acme"]["window_bytes"] == 4 << 20 and names["globex"]["window_bytes"] == 128 << 20,
            f"tenants: CacheWindow, and the default (1/8 of the cache, 128M at most): "
            f"{names['acme']['window_bytes']} {names['globex']['window_bytes']}")
    ten = {(f["client"], f["client_port"]): f["tenant"] for f in rep["flows"]}
    F.check(ten.get(("10.1.2.3", 40010)) == "acme", "tenants: acme's flow")
    F.check(ten.get(("10.1.7.20", 40011)) == "globex", "tenants: the longest prefix (globex) wins")
    F.check(ten.get(("10.1.7.20", 40015)) == "acme", "tenants: globex has no port 873: acme")
    F.check(ten.get(("2001:db8:1::5", 40013)) == "acme", "tenants: acme's IPv6 flow")
    F.check(ten.get(("10.1.7.20", 40014)) == "globex", "tenants: mid-stream flow, server by port")
    F.check(("10.1.2.3", 40012) not in ten and rep["not_selected"]["flows"] == 1, "tenants: port 22 not selected")
    F.check(names["acme"]["raw_bytes"] == 20000 + 7000 + 3000 and names["globex"]["raw_bytes"] == 15000 + 7000,
            f"tenants: raw bytes per tenant {names['acme']['raw_bytes']} {names['globex']['raw_bytes']}")
    F.check(names["globex"]["s2c"]["raw_bytes"] == 7000, "tenants: mid-stream flow's bytes from the first seen")
    check_streams("tenants, mid-stream", dump, m, b"", cp.payload(9000, 13)[2000:])
    # --cache overrides CacheSize
    rep, _, _ = run([cap("tenants.pcap")], "--tenants", tdir, "--cache", "8M", name="tenants-cache")
    F.check(all(t["cache_bytes"] == 8 << 20 and t["window_bytes"] == 2 << 20 for t in rep["tenants"]),
            "tenants: --cache overrides, with its default window")
    rep, _, _ = run([cap("tenants.pcap")], "--tenants", tdir, "--window", "2M", name="tenants-window")
    F.check(all(t["window_bytes"] == 2 << 20 for t in rep["tenants"]), "tenants: --window overrides CacheWindow")
    # a window above 1/8 of a cache: refused, as the appliance refuses it
    p = subprocess.run([PROFILE, "--tenants", tdir, "--window", "16M", cap("tenants.pcap")],
                       capture_output=True, text=True, timeout=30)
    F.check(p.returncode == 1 and "acme.conf" in p.stderr and "1/8 of the cache" in p.stderr,
            f"tenants: --window 16M above acme's 64M cache refused ({p.stderr.strip()})")


# 6. An overlap whose bytes differ: first seen wins, and it is reported.
def case_conflict():
    up = cp.payload(20000, 14)
    c = Conn("198.18.1.2", "198.18.2.9", 40020, 873).handshake().send(C2S, up).close()
    segs = list(c.segs)
    cd = c.data_segs(C2S)
    at = lambda s: next(i for i, x in enumerate(segs) if x is s)  # noqa: E731
    bad = dict(cd[3])
    bad["data"] = b"X" * 1000
    segs.insert(at(cd[4]), bad)   # a late copy of delivered bytes, different
    ooo = dict(cd[12])
    segs.insert(at(cd[10]), ooo)  # held out of order, then a different copy
    bad2 = dict(ooo)
    bad2["data"] = b"Y" * 1000
    segs.insert(at(cd[10]), bad2)
    frag = cp.fr.eth("02:00:00:00:00:02", "02:00:00:00:00:01", 0x0800,
                     cp.fr.ipv4("198.18.1.2", "198.18.2.9", 6, b"z" * 64, frag=0x2000))
    cp.write(cap("conflict.pcap"), segs, extra=[(5, frag)])
    rep, dump, _ = run([cap("conflict.pcap")], name="conflict")
    f = flow_of(rep, c)
    F.check(f["c2s"]["inconsistent_overlaps"] == 2 and f["c2s"]["inconsistent_bytes"] > 1000,
            f"conflict: two inconsistent overlaps ({f['c2s']['inconsistent_overlaps']})")
    check_streams("conflict", dump, c, up, b"")
    F.check(rep["packets"]["ip_fragment"] == 1, "conflict: the IPv4 fragment is counted and skipped")


# 7. The out-of-order limit: a hole never filled and never acknowledged.
def case_ooo_limit():
    up = cp.payload(300000, 15)
    c = Conn("198.18.1.2", "198.18.2.9", 40030, 873).handshake().send(C2S, up, ack_every=10**9)
    cd = c.data_segs(C2S)
    segs = [s for s in c.segs if s is not cd[2] and not (s["d"] == S2C and s["flags"] == cp.fr.TCP_ACK and s is not c.segs[1])]
    cp.write(cap("ooo.pcap"), segs)
    rep, dump, _ = run([cap("ooo.pcap")], "--ooo-limit", "64K", name="ooo")
    f = flow_of(rep, c)
    F.check(f["c2s"]["ooo_limit_hits"] == 1 and f["c2s"]["gaps"][0]["reason"] == "ooo-limit"
            and (f["c2s"]["gaps"][0]["offset"], f["c2s"]["gaps"][0]["length"]) == (2000, 1000),
            f"ooo: the limit gives up the hole ({f['c2s']['gaps']})")
    F.check(f["c2s"]["out_of_order_peak_bytes"] <= 64 * 1024 + 1000 + 64, "ooo: held bytes bounded")
    check_streams("ooo", dump, c, up[:2000] + up[3000:], b"")


# 8. The estimate against strait-dedupe encode of the same bytes; the
#    codec-off mode; --rpo and --plot.
def case_codec():
    up = cp.payload(3000000, 16, repeat=700000)
    c = Conn("198.18.1.2", "198.18.2.9", 40040, 873).handshake().send(C2S, up, mss=1448).close()
    cp.write(cap("codec.pcap"), c.segs)
    png = os.path.join(TMP, "rate.png")
    # a long flush interval: the test's frames are 1 ms apart (1.4 MB/s), and
    # at that rate the appliance's 10 ms flushes cut the stream in 14 KB
    # pieces, which costs 1.7 % here; the comparison is of the codec's work
    rep, dump, _ = run([cap("codec.pcap")], "--rpo", "5", "--plot", png, "--flush-ms", "1000", name="codec")
    src = os.path.join(TMP, "codec-up.bin")
    open(src, "wb").write(up)
    stats = os.path.join(TMP, "dedupe.json")
    subprocess.run([DEDUPE, "encode", "--stats", stats, src], stdout=subprocess.DEVNULL, check=True, timeout=120)
    want = json.load(open(stats))["bytes_out"]
    got = rep["tenants"][0]["c2s"]["codec_bytes"]
    F.check(abs(got - want) <= 0.01 * want, f"codec: estimate {got} vs strait-dedupe encode {want} (1 %)")
    F.check("rpo" in rep["total"]["c2s"] and rep["total"]["c2s"]["rpo"]["raw_bps"] > rep["total"]["c2s"]["rpo"]["strait_bps"] > 0,
            "codec: RPO rates")
    F.check(os.path.exists(png) and open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n", "codec: the plot is a PNG")
    w = {x["profile"]: x for x in rep["total"]["wan"]}
    F.check(set(w) == {"metro", "regional", "transcon", "intercont", "geo-sat"}, "codec: five WAN profiles")
    F.check(w["intercont"]["raw_seconds"] > w["intercont"]["strait_seconds"] > 0, "codec: Strait is faster on intercont")
    rep, dump, _ = run([cap("codec.pcap")], "--no-codec", name="nocodec")
    F.check(rep["total"]["strait_bytes"] == rep["total"]["raw_bytes"] == len(up), "no-codec: strait = raw")
    check_streams("no-codec", dump, c, up, b"")


# 9. The snap length cut every segment: the rest is reported missing.
def case_snapped():
    up = cp.payload(10000, 17)
    c = Conn("198.18.1.2", "198.18.2.9", 40050, 873).handshake().send(C2S, up).close()
    frames = [cp.frame(s) for s in c.segs]
    path = cap("snap.pcap")
    with open(path, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 554, 1))
        for i, f in enumerate(frames):
            fh.write(struct.pack("<IIII", 1700000000, i, min(len(f), 554), len(f)) + f[:554])
    rep, dump, _ = run([path], name="snap")
    f = flow_of(rep, c)
    F.check(f["c2s"]["gap_bytes"] == 10 * 500 and f["c2s"]["raw_bytes"] == 10 * 500, f"snap: {f['c2s']['gap_bytes']} bytes missing")
    F.check(rep["packets"]["snapped"] == 10, "snap: snapped segments counted")
    F.check(stream(dump, c, C2S) == b"".join(up[i:i + 500] for i in range(0, 10000, 1000)), "snap: only captured bytes")


# 10. Hostile files: a clear error, exit 1, never a crash or a wrong byte.
def case_hostile():
    base = open(cap("basic.pcap"), "rb").read()
    cases = {
        "empty": b"",
        "garbage": bytes(random.Random(1).randrange(256) for _ in range(5000)),
        "header-only-cut": base[:20],
        "cut-record": base[:24 + 16 + 30],
        "cut-middle": base[:len(base) // 2 + 7],
        "huge-caplen": base[:24] + bytes.fromhex("00f15365 00000000 ffffff0f ffffff0f") + base[40:200],
        "bad-link": base[:20] + (147).to_bytes(4, "little") + base[24:],
    }
    for name, data in cases.items():
        path = cap(f"hostile-{name}.pcap")
        open(path, "wb").write(data)
        rep, dump, err = run([path], expect_rc=1, name=f"hostile-{name}")
        F.check(err.startswith("strait-profile: ") and "Traceback" not in err and len(err.splitlines()) <= 3,
                f"hostile {name}: one clear error line ({err.strip()!r})")
        F.check(rep is not None and rep["captures"][0]["error"], f"hostile {name}: the report names the error")
    # a truncated capture still reports what it read, and no stream holds a wrong byte
    rep, dump, err = run([cap("hostile-cut-middle.pcap")], expect_rc=1, name="hostile-cut-middle")
    for path in glob.glob(os.path.join(dump, "*")):
        data = open(path, "rb").read()
        F.check(data in cp.payload(60000, 1, repeat=20000) + cp.payload(9000, 2) or data == b"",
                f"hostile cut-middle: {os.path.basename(path)} holds only sent bytes")
    # timestamps that jump a century forward and back: the clock stays monotonic
    c = Conn("198.18.1.2", "198.18.2.9", 40061, 873).handshake().send(C2S, cp.payload(5000, 19)).close()
    with open(cap("time.pcap"), "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, s in enumerate(c.segs):
            f = cp.frame(s)
            fh.write(struct.pack("<IIII", (0, 0xFFFFFFF0, 5)[i % 3], 999999, len(f), len(f)) + f)
    rep, dump, err = run([cap("time.pcap")], "--rpo", "1", "--plot", cap("time.png"), name="time")
    check_streams("time jumps", dump, c, cp.payload(5000, 19), b"")
    F.check(rep["packets"]["time_backwards"] > 0, "time: backward steps counted")
    # frames with lying lengths inside a good file
    c = Conn("198.18.1.2", "198.18.2.9", 40060, 873).handshake().send(C2S, cp.payload(3000, 18)).close()
    good = [cp.frame(s) for s in c.segs]
    lies = []
    for i, f in enumerate(good[:6]):
        b = bytearray(f)
        b[14 + 2:14 + 4] = (0xFFFF - i).to_bytes(2, "big")  # IPv4 total length
        lies.append(bytes(b))
        b = bytearray(f)
        b[14 + 20 + 12] = 0xF0  # TCP data offset 60 bytes
        lies.append(bytes(b))
        lies.append(f[:14 + i * 7])
    cp.fr.write_pcap(cap("lies.pcap"), lies + good)
    rep, dump, err = run([cap("lies.pcap")], "--verify-checksums", name="lies")
    check_streams("lying lengths", dump, c, cp.payload(3000, 18), b"")
    F.check(rep["packets"]["truncated"] + rep["packets"]["malformed"] >= 12 and rep["packets"]["bad_checksum"] >= 3,
            f"lies: counted as truncated, malformed or bad checksum ({rep['packets']})")


# 11. Usage errors.
def case_usage():
    for args in (["--ports", "0"], ["--cache", "12"], ["--rpo", "-1"], ["--ports", "1-x"], ["--window", "3M"],
                 ["--window", "1M"], []):
        p = subprocess.run([PROFILE, *args] + ([cap("basic.pcap")] if args else []), capture_output=True, text=True, timeout=30)
        F.check(p.returncode == 2 and p.stderr.startswith("strait-profile: "), f"usage {args}: exit 2 with a message")
    # a plot that cannot be written: said before the capture is read, nothing on stdout
    p = subprocess.run([PROFILE, "--plot", TMP + "/no/dir/x.png", cap("basic.pcap")], capture_output=True, timeout=30)
    F.check(p.returncode == 1 and not p.stdout and p.stderr.startswith(b"strait-profile: --plot ")
            and p.stderr.count(b"\n") == 1, f"usage: --plot into no directory ({p.returncode}, {p.stderr!r})")
    p = subprocess.run([PROFILE, "--tenants", TMP + "/nope", cap("basic.pcap")], capture_output=True, text=True, timeout=30)
    F.check(p.returncode == 1 and "not a directory" in p.stderr, "usage: --tenants of no directory")


CASES = (case_basic, case_midstream, case_gaps, case_links, case_tenants, case_conflict,
         case_ooo_limit, case_codec, case_snapped, case_hostile, case_usage)
failed = 0
try:
    for case in CASES:
        before = len(F)
        case()
        failed += len(F) != before
        print(f"{case.__name__[5:]}: {'ok' if len(F) == before else 'FAILED'}")
finally:
    if not F:
        shutil.rmtree(TMP, ignore_errors=True)
    else:
        print("kept", TMP)
print(f"{len(CASES) - failed} passed, {failed} failed")
sys.exit(1 if F else 0)
