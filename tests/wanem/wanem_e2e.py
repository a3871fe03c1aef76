#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""strait-wanem end to end, real frames through real namespaces.

     netns wnc<id>            netns wnw<id>              netns wns<id>
  +-----------------+   +-----------------------+   +-----------------+
  | client          |   |     strait-wanem      |   | server          |
  | wc<id>          |---| wa<id> (A)  (B) wb<id>|---| ws<id>          |
  | 198.18.100.1/24 |   | no addresses          |   | 198.18.100.2/24 |
  +-----------------+   +-----------------------+   +-----------------+
  (namespaces set up by bench/wanem_lab.py; veths, no bridge)

usage: wanem_e2e.py STRAIT_WANEM quick|slow
quick: bad options (exit 2, one line), a short pass-through with the
       emulator completing partial checksums, SIGUSR1's line, SIGTERM's
       stats, and an interface that goes away.
slow:  seeded losses (same seed, same drops; binomial interval; burst
       length), rate (never above R), jitter keeps order, reorder, dup,
       a TCP flow filling the queue (tail drops counted).
Timing is asserted only where it cannot be flaky (a frame never leaves
before its delay; a rate is never exceeded); the accuracy figures are
bench/wanem-check's.
"""
import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
import wanem_lab as W   # noqa: E402
import wanem_udp as U   # noqa: E402

failures = []

TCP_BYTES = 4 << 20
TCP_SINK = """
import hashlib, socket
s = socket.create_server(("0.0.0.0", 9100)); c, _ = s.accept(); h = hashlib.sha256(); n = 0
while True:
    b = c.recv(1 << 16)
    if not b: break
    h.update(b); n += len(b)
print(n, h.hexdigest())
"""
TCP_SOURCE = """
import socket, sys
data = bytes((i * 7 + (i >> 11)) & 255 for i in range(%d))
c = socket.create_connection((sys.argv[1], 9100)); c.sendall(data); c.close()
""" % TCP_BYTES


def source_bytes():
    return bytes((i * 7 + (i >> 11)) & 255 for i in range(TCP_BYTES))


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def bad_options(binp):
    cases = [
        [], ["only-one"], ["a", "a"], ["a", "b", "--delay", "5"], ["a", "b", "--rate", "fast"],
        ["a", "b", "--loss", "150"], ["a", "b", "--queue", "20ms"], ["a", "b", "--profile", "moon"],
        ["a", "b", "--nope"], ["a", "b", "--delay"], ["a", "b", "--a2b-bogus", "1"],
        ["no-such-if0", "no-such-if1", "--delay", "1ms"],
    ]
    for args in cases:
        r = subprocess.run([binp, *args], capture_output=True, text=True, timeout=10)
        lines = r.stderr.strip().splitlines()
        check(r.returncode == 2 and len(lines) == 1 and lines[0].startswith("strait-wanem: ")
              and r.stdout == "", f"bad options {args}: exit {r.returncode}, {lines}")
    r = subprocess.run([binp, "--help"], capture_output=True, text=True, timeout=10)
    check(r.returncode == 0 and "--stats-json" in r.stdout, "--help exits 0 with the usage")


def quick(binp):
    bad_options(binp)
    with W.Lab(binp) as lab:   # transmit checksum offload on: partial checksums
        lab.start("--delay", "5ms", "--seed", "1")
        check("seed 1" in lab.output(), "the seed is printed at start")
        rtts = W.ping_rtts(lab, 20, 0.05)
        check(len(rtts) == 20, f"20 pings through, {len(rtts)} answered")
        # a frame may leave up to EARLY_NS (0.1 ms) before its due time
        check(rtts and min(rtts) >= 10.0 - 0.25, f"no ping faster than 2 x 5 ms: min {min(rtts or [0])}")
        sink = lab.server_bg("python3", "-c", TCP_SINK, stdout=subprocess.PIPE, text=True)
        time.sleep(0.4)
        lab.client("python3", "-c", TCP_SOURCE, W.SERVER, timeout=60, check=False)
        got = sink.communicate(timeout=60)[0].split()
        want = [str(TCP_BYTES), hashlib.sha256(source_bytes()).hexdigest()]
        check(got == want, f"TCP with partial checksums completed by the emulator: {got}")
        lab.signal(signal.SIGUSR1)
        time.sleep(0.3)
        lines = [l for l in lab.output().splitlines() if l.startswith("a2b:")]
        check(len(lines) == 1 and "; b2a:" in lines[0] and "queue max" in lines[0],
              f"SIGUSR1 prints one line with both directions: {lines}")
        st = lab.stop()   # SIGTERM, exit 0 checked
        for d in ("a2b", "b2a"):
            s = st[d]
            check(s["rx_frames"] >= 20 and s["rx_frames"] == s["tx_frames"]
                  and s["rx_bytes"] == s["tx_bytes"], f"{d}: every frame passed: {s}")
        check(st["end"] == "SIGTERM" and st["seed"] == 1, "stats: end and seed")

        # an interface that goes away ends the run, with a message
        lab.start("--delay", "1ms")
        W.sh("ip", "-n", lab.nc, "link", "del", lab.ifc)
        try:
            rc = lab.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            rc = None
        out = lab.output()
        check(rc == 1 and f"interface {lab.ifa} went away" in out,
              f"vanished interface: exit {rc}, message {'went away' in out}")
        try:
            with open(lab.stats_path) as f:
                check(json.load(f)["end"] == "interface gone", "stats written on the way out")
        except (OSError, ValueError) as e:
            check(False, f"stats written on the way out: {e}")
        lab.proc = None
        lab.log.close()


def binomial_sigma_range(n, p, z):
    m, s = n * p, math.sqrt(n * p * (1 - p))
    return m - z * s, m + z * s


def slow(binp):
    with W.Lab(binp, csum_offload=False) as lab:
        n = 60000
        lost = []
        for _ in range(2):
            lab.start("--loss", "2", "--seed", "5")
            r = W.udp_run(lab, n, 10000)
            st = lab.stop()
            lost.append(r["lost"])
            check(st["a2b"]["dropped"]["overrun"] == 0, "the emulator kept up (no ring overrun)")
            check(st["a2b"]["dropped"]["loss"] == len(r["lost"]) and r["received"] == n - len(r["lost"]),
                  f"every loss is the emulator's, counted: {len(r['lost'])} "
                  f"vs {st['a2b']['dropped']['loss']}")
        check(lost[0] == lost[1], "same seed, same drops")
        lo, hi = binomial_sigma_range(n, 0.02, 3.29)   # 99.9 %
        check(lo <= len(lost[0]) <= hi, f"--loss 2: {len(lost[0])} of {n} in [{lo:.0f}, {hi:.0f}]")
        lab.start("--loss", "2", "--seed", "6")
        r = W.udp_run(lab, n, 10000)
        lab.stop()
        check(r["lost"] != lost[0], "another seed, other drops")

        lab.start("--loss", "1", "--loss-burst", "4", "--seed", "8")
        r = W.udp_run(lab, 120000, 15000)
        lab.stop()
        runs = U.loss_runs(r["lost"])
        mean = sum(runs) / len(runs)
        half = 3.29 * math.sqrt(12) / math.sqrt(len(runs))
        check(abs(mean - 4) <= half, f"--loss-burst 4: mean burst {mean:.2f} over {len(runs)} bursts")

        lab.start("--delay", "5ms", "--jitter", "4ms", "--seed", "9")
        r = W.udp_run(lab, 20000, 10000, size=200)
        st = lab.stop()
        check(r["received"] == 20000 and r["reordered"] == 0 and st["a2b"]["reordered"] == 0,
              f"jitter keeps order: {r['received']} received, {r['reordered']} reordered")
        lab.start("--delay", "5ms", "--jitter", "4ms", "--reorder", "5", "--seed", "9")
        r = W.udp_run(lab, 20000, 10000, size=200)
        st = lab.stop()
        check(r["received"] == 20000 and r["reordered"] > 0 and st["a2b"]["reordered"] > 0,
              f"--reorder reorders: {r['reordered']} at the receiver, "
              f"{st['a2b']['reordered']} counted")
        lab.start("--dup", "2", "--seed", "10")
        r = W.udp_run(lab, 20000, 10000)
        st = lab.stop()
        check(r["duplicates"] == st["a2b"]["duplicated"] > 0,
              f"--dup: {r['duplicates']} duplicates, {st['a2b']['duplicated']} counted")

        # rate: never above R (the wire rate of what the receiver got)
        lab.start("--rate", "20M", "--delay", "10ms")
        t0 = time.monotonic()
        r = W.udp_run(lab, 6000, 2500, size=1472)   # 30 Mbit/s offered for 2.4 s
        st = lab.stop()
        wire = r["bytes"] + r["received"] * (8 + 20 + 14 + 24)
        secs = r["seconds"]
        mbps = wire * 8 / secs / 1e6 if secs else 0
        check(mbps <= 20 * 1.01 and r["received"] > 0,
              f"--rate 20M: {mbps:.2f} Mbit/s on the wire at the receiver")
        check(st["a2b"]["dropped"]["queue"] > 0 and
              st["a2b"]["dropped"]["queue"] == 6000 - r["received"],
              f"tail drops counted: {st['a2b']['dropped']['queue']}, lost {6000 - r['received']}")
        check(st["a2b"]["queue_hwm_bytes"] <= st["a2b"]["config"]["queue_bytes"],
              "the queue never holds more than its limit")

        # a TCP flow fills the queue: tail drops, RTT bounded by the queue
        lab.start("--rate", "100M", "--delay", "25ms", "--queue", "10ms")
        srv = lab.server_bg("iperf3", "-s", "-1", stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
        time.sleep(0.4)
        cl = lab.client_bg("iperf3", "-c", W.SERVER, "-C", "cubic", "-t", "10",
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(3)
        rtts = W.ping_rtts(lab, 300, 0.02)
        cl.wait(timeout=60)
        srv.wait(timeout=30)
        st = lab.stop()
        check(st["a2b"]["dropped"]["queue"] > 0, f"TCP fills the queue: {st['a2b']['dropped']['queue']} tail drops")
        rtts.sort()
        check(rtts and rtts[0] >= 50 - 0.25 and rtts[len(rtts) // 2] < 50 + 10 + 20,
              f"RTT under load: min {rtts[0] if rtts else 0} >= 50 ms, median "
              f"{rtts[len(rtts) // 2] if rtts else 0} within the queue's 10 ms (+20 ms slack)")


def main():
    binp, tier = os.path.abspath(sys.argv[1]), sys.argv[2]
    (quick if tier == "quick" else slow)(binp)
    print(f"{len(failures)} failed" if failures else "all passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
