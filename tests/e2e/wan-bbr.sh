#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Transport = bbr backs off on a bottleneck narrower than the tenant's
# guarantee: two straitd across strait-wanem at RATE (default 20M), the
# tenant granted 100M (Guaranteed = Ceiling = A's [WAN] Rate = 100M).
#
#   ns wla-N     ns wa-N (straitd A)          ns wm-N (strait-wanem)        ns wb-N (straitd B)     ns wlb-N
#  +-------+    +------------------------+   +-------------------------+   +-----------------------+   +-------+
#  | LAN A |----| walN (LAN)  wawN (WAN) |---| wmaN  RATE, 25 ms  wmbN |---| wbwN (WAN) wblN (LAN) |---| LAN B |
#  | S.10  |    | af_packet0  af_packet1 |   | queue 1 BDP each way,   |   | af_packet1 af_packet0 |   | S.20  |
#  +-------+    | 198.18.S.1  198.18.T.1 |   | no loss                 |   | 198.18.T.2 198.18.S.2 |   +-------+
#               +------------------------+   +-------------------------+   +-----------------------+
#   (wan-lib.sh with wanem set) S = SUBNET (default 186), T = S + 1.
#   Tenant bench, Id 9, inner 169.254.9.1 (A) - .2 (B), IPv4 WAN; A:
#   [Bandwidth] Guaranteed = Ceiling = 100M, Transport = bbr.
#
# Checks:
#  1. Tunnel and channel up.
#  2. A's channel echo test of MB MiB (every byte to B's echo service and
#     back, each compared): done, no mismatch, every byte back.
#  3. The emulator's A->B queue stayed bounded: tail drops at most 5 % of
#     the frames it received (the channel's start-up may overshoot by
#     about a BDP while it measures the path; with Transport = rate the
#     same run drops most of what exceeds 20 Mbit/s: bench/README.md).
#  4. The channel's connection was never reset (one connect, no down
#     reason counted, the tunnel's start included) and neither appliance
#     refused an ESP frame.
#
#   tests/e2e/wan-bbr.sh STRAITD STRAIT-WANEM      (root; env SUBNET, RATE, MB)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
straitd=$(readlink -f "$1")
wanem=$(readlink -f "$2")
n=$$
workers=1
sub=${SUBNET:-186}
mbufs=8191
RATE=${RATE:-20M} MB=${MB:-8}
wanem_args="--rate $RATE --delay 25ms --loss 0 --seed 14"
. "$here/wan-lib.sh"
cleanup() { set +e; wan_cleanup; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 143' INT TERM
fail() { echo "FAIL: $*" >&2; tail -n 20 "$work/a.log" "$work/b.log" "$work/wanem.log" >&2 || true; exit 1; }

wan_setup
echo "Rate = 100M" >> "$work/a/appliance.conf"
wan_tenant a bench 9 198.18.$wsub.2 169.254.9.1 169.254.9.2 "[Bandwidth]
Guaranteed = 100M
Ceiling = 100M
Transport = bbr"
wan_tenant b bench 9 198.18.$wsub.1 169.254.9.2 169.254.9.1
echo "1. tunnel and channel up"
wan_start_both 90 bench

echo "2. echo test of $MB MiB through a $RATE bottleneck"
run_test a bench echo $((MB << 20)) || fail "echo test"

echo "3. the emulator's queue"
a_tel=$(tel a /strait/tunnel,bench)
b_tel=$(tel b /strait/tunnel,bench)
wan_stop a || fail "straitd A did not stop cleanly"
wan_stop b || fail "straitd B did not stop cleanly"
kill -TERM "$wanem_pid"; wait "$wanem_pid" || true; wanem_pid=
[ -s "$work/wanem.json" ] || fail "no emulator stats"
python3 - "$work/wanem.json" "$a_tel" "$b_tel" <<'PY' || fail "bounds"
import json, sys
w = json.load(open(sys.argv[1]))["a2b"]
a = json.loads(sys.argv[2])["/strait/tunnel"]
b = json.loads(sys.argv[3])["/strait/tunnel"]
rx, q = w["rx_frames"], w["dropped"]["queue"]
print(f"   a2b: {rx} frames in, {q} tail drops ({100.0 * q / max(rx, 1):.2f} %), "
      f"queue high-water {w['queue_hwm_bytes']} of {w['config']['queue_bytes']} bytes; "
      f"channel retransmitted {a['test']['retrans_segs']} segments, srtt {a['test']['srtt_us']} us")
ok = True
if q > 0.05 * rx:
    print("   the queue was flooded: more than 5 % of the frames tail-dropped"); ok = False
print("4. no reset")
ch = a["channel"]
if ch["connects"] != 1 or any(ch["down"].values()):
    print(f"   the channel was reset: {ch}"); ok = False
for side, t in (("A", a), ("B", b)):
    if any(t["drops"].values()):
        print(f"   {side} refused frames: {t['drops']}"); ok = False
sys.exit(0 if ok else 1)
PY
echo "PASS"
