#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The real capture of tests/e2e/profile-capture.sh, edited: segments the
capture holds once are removed from one connection (gaps at known
offsets), and another capture is cut after its handshake (a mid-stream
start). strait-profile must report exactly those gaps, never fill them,
and start the cut connection at its first byte seen.

  edited_capture.py STRAIT_PROFILE WORKDIR
WORKDIR holds eth-a.pcap, eth-b.pcap and what each port's transfer sent
(up-PORT, down-PORT). Prints 'N passed, N failed'."""
import json
import os
import shutil
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from pktlib import Failures, read_pcap_link, write_pcap  # noqa: E402

PROFILE, W = sys.argv[1], sys.argv[2]
F = Failures()


def tcp_of(frame):
    """(sport, dport, seq, flags, payload bytes) of an Ethernet frame, or None."""
    off, etype = 14, struct.unpack("!H", frame[12:14])[0]
    while etype == 0x8100:
        etype = struct.unpack("!H", frame[off + 2:off + 4])[0]
        off += 4
    if etype == 0x0800 and frame[off + 9] == 6:
        ihl, tot = (frame[off] & 15) * 4, struct.unpack("!H", frame[off + 2:off + 4])[0]
        t, end = off + ihl, off + tot
    elif etype == 0x86DD and frame[off + 6] == 6:
        t, end = off + 40, off + 40 + struct.unpack("!H", frame[off + 4:off + 6])[0]
    else:
        return None
    sport, dport, seq = struct.unpack("!HHI", frame[t:t + 8])
    return sport, dport, seq, frame[t + 13], frame[t + (frame[t + 12] >> 4) * 4:end]


def profile(caps, name):
    js, dump = os.path.join(W, name + ".json"), os.path.join(W, name + "-streams")
    shutil.rmtree(dump, ignore_errors=True)
    subprocess.run([PROFILE, "--quiet", "--ports", "873-875", "--json", js, "--dump-streams", dump, *caps],
                   check=True, timeout=120)
    return json.load(open(js)), dump


def stream(dump, f, d):
    ep = lambda a, p: f"[{a}].{p}" if ":" in a else f"{a}.{p}"  # noqa: E731
    path = os.path.join(dump, f"tcp-{ep(f['client'], f['client_port'])}-{ep(f['server'], f['server_port'])}-{d}")
    return open(path, "rb").read() if os.path.exists(path) else b""


# 1. Gaps: three data segments of 873's upload that the capture holds once
#    (no retransmission covers their bytes) are removed.
link, frames = read_pcap_link(os.path.join(W, "eth-a.pcap"))
segs = [(i, tcp_of(fr)) for i, fr in enumerate(frames)]
up = [(i, t) for i, t in segs if t and t[1] == 873]
isn = next(t[2] for _, t in up if t[3] & 2)
data = [(i, (t[2] - isn - 1) % 2**32, len(t[4])) for i, t in up if t[4]]


def held_once(x):
    """No other segment in the capture holds any byte of x."""
    return sum(1 for _, o, n in data if o < x[1] + x[2] and x[1] < o + n) == 1


pick = []
for k in (1, 2, 3):  # the first segment held once from a quarter, half, three quarters in
    pick.append(next(x for x in data[len(data) * k // 4:] if held_once(x)))
drop = {i for i, _, _ in pick}
write_pcap(os.path.join(W, "gaps.pcap"), [fr for i, fr in enumerate(frames) if i not in drop], link=link)
rep, dump = profile([os.path.join(W, "gaps.pcap")], "gaps")
f = next(x for x in rep["flows"] if x["server_port"] == 873)
want = sorted((o, n) for _, o, n in pick)
got = [(g["offset"], g["length"]) for g in f["c2s"]["gaps"]]
F.check(got == want, f"gaps: reported {got}, removed {want}")
sent = open(os.path.join(W, "up-873"), "rb").read()
kept, at = b"", 0
for o, n in want:
    kept += sent[at:o]
    at = o + n
kept += sent[at:]
F.check(stream(dump, f, "c2s") == kept, "gaps: the stream is what was sent without the removed bytes")
F.check(f["c2s"]["gap_bytes"] == sum(n for _, n in want) and f["c2s"]["runs"] == len(want) + 1,
        "gaps: missing bytes and codec runs")
print(f"gaps: removed {want}, reported {got}")

# 2. Mid-stream: the VLAN capture cut 200 frames after its handshake. Each
#    direction starts at its first byte seen; a hole the cut leaves (the
#    first segment seen can be a retransmission, the bytes after it sent
#    before the cut) must be a reported gap holding no byte of the capture.
link, frames = read_pcap_link(os.path.join(W, "eth-b.pcap"))
cut = frames[200:]
write_pcap(os.path.join(W, "mid.pcap"), cut, link=link)
isn = {}
for fr in frames[:200]:
    t = tcp_of(fr)
    if t and t[3] & 2:
        isn[t[0]] = t[2]  # by source port: the SYN and the SYN-ACK
first, held = {}, {}
for fr in cut:
    t = tcp_of(fr)
    if t and t[4]:
        o = (t[2] - isn[t[0]] - 1) % 2**32
        first.setdefault(t[0], o)
        held.setdefault(t[0], []).append((o, len(t[4])))
rep, dump = profile([os.path.join(W, "mid.pcap")], "mid")
f = next(x for x in rep["flows"] if x["server_port"] == 875)
F.check(not f["handshake_seen"] and "first byte seen" in f.get("note", ""), "mid-stream: said so")
F.check(f["vlan"] == [30], "mid-stream: VLAN 30")
for d, sender, name in (("c2s", f["client_port"], "up"), ("s2c", 875, "down")):
    sent = open(os.path.join(W, f"{name}-875"), "rb").read()
    gaps = [(first[sender] + g["offset"], g["length"]) for g in f[d]["gaps"]]
    for o, n in gaps:
        F.check(not any(a < o + n and o < a + m for a, m in held[sender]),
                f"mid-stream {d}: the gap at {o}+{n} holds no byte of the capture")
    end = first[sender] + f[d]["raw_bytes"] + f[d]["gap_bytes"]
    F.check(end >= len(sent) - 1, f"mid-stream {d}: bytes and gaps account for all that was sent "
            f"(but the last sequence number, which may be the FIN's): {end} of {len(sent)}")
    want, at = b"", first[sender]
    for o, n in gaps:
        want += sent[at:o]
        at = o + n
    want += sent[at:end]
    F.check(stream(dump, f, d) == want, f"mid-stream {d}: the stream is what was sent from the first byte seen, "
            f"less its reported gaps {gaps}")
print(f"mid-stream: starts at c2s {first.get(f['client_port'])}, s2c {first.get(875)}")
print(f"{0 if F else 1} passed, {1 if F else 0} failed")
sys.exit(1 if F else 0)
