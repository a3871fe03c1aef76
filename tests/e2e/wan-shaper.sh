#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The WAN shaper on the real WAN TX path: two straitd across strait-wanem,
# two tenants of A sending at once through their channels, each held to
# its [Bandwidth] under A's [WAN] Rate.
#
#   ns wla-N     ns wa-N (straitd A)          ns wm-N (strait-wanem)     ns wb-N (straitd B)     ns wlb-N
#  +-------+    +------------------------+   +----------------------+   +-----------------------+   +-------+
#  | LAN A |----| walN (LAN)  wawN (WAN) |---| wmaN  --delay-- wmbN |---| wbwN (WAN) wblN (LAN) |---| LAN B |
#  | S.10  |veth| af_packet0  af_packet1 |veth| 100 Mbit/s, 5 ms   |veth| af_packet1 af_packet0 |veth| S.20  |
#  +-------+    | 198.18.S.1  198.18.T.1 |   |  each way            |   | 198.18.T.2 198.18.S.2 |   +-------+
#               +------------------------+   +----------------------+   +-----------------------+
#   (wan-lib.sh with wanem set) S = SUBNET (default 192), T = S + 1.
#   A: [WAN] Rate = RATE (default 24M). Tenants at both sides, IPv4 WAN:
#     capped  Id 21  inner 169.254.21.1 (A) - .2 (B)  Guaranteed 2M, Ceiling CEIL (8M)
#     open    Id 22  inner 169.254.22.1 (A) - .2 (B)  Guaranteed 4M, no ceiling (the link)
#   both Priority 1, Weight 1: open may borrow what capped cannot take.
#
# Checks:
#  1. Both tunnels and channels up.
#  2. A's channel test (discard: every byte to B's discard service, which
#     FINs once it has read them all) on both tenants at once, sized to
#     outlast the measurement; each second (wan_shaper_run.py, one
#     telemetry connection), A's /strait/tunnel,NAME "shaper": rate_bps,
#     the bytes charged on the WAN in 1 s windows (Ethernet, IP, UDP and
#     ESP headers included). The windows where both tenants had unlimited
#     demand (test running, bytes held back by the shaper) count:
#       capped's median within [0.35, 1.03] x CEIL and no window above
#         1.05 x CEIL (the ceiling holds);
#       open's median within [0.35, 1.05] x (RATE - CEIL) and above
#         capped's (it borrows what capped may not take); the sum never
#         above 1.05 x RATE (the link holds);
#       held bytes never above the channel's send buffer (4 MiB: the
#         back-pressure bounds the queue).
#     The lower margins are generous: a loaded machine may not push RATE
#     through an ASan build (the 2 ms burst does not make up for a
#     worker descheduled longer); exact figures come from bench/.
#  3. Both tests end with every byte sent and received (nothing dropped
#     inside the appliances), strait-wanem dropped nothing (its queue
#     never overflowed: the shaper, not the emulator, decided), and A's
#     tunnels counted no drop.
#
#   [SUBNET=S] [RATE=24M] [CEIL=8M] [SECS=8] [WORKERS=1] wan-shaper.sh STRAITD STRAIT-WANEM
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
straitd=$(readlink -f "${1:?straitd binary}")
wanem=$(readlink -f "${2:?strait-wanem binary}")
wanem_args="--rate 100M --delay 5ms"
n=$$
workers=${WORKERS:-1}
sub=${SUBNET:-192}
secs=${SECS:-8}
[ "$secs" -ge 4 ] || { echo "SECS >= 4" >&2; exit 2; }
rate_bps=$(python3 -c "import sys; s=sys.argv[1]; print(int(float(s[:-1]) * {'k':1e3,'M':1e6,'G':1e9}[s[-1]]))" "${RATE:-24M}")
ceil_bps=$(python3 -c "import sys; s=sys.argv[1]; print(int(float(s[:-1]) * {'k':1e3,'M':1e6,'G':1e9}[s[-1]]))" "${CEIL:-8M}")
. "$here/wan-lib.sh"
cleanup() {
  set +e
  wan_cleanup
  [ -n "${KEEP:-}" ] && cp -r "$work" /tmp/wan-shaper-kept
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' INT TERM
fail() {
  echo "FAIL: $*" >&2
  for s in a b; do [ -f "$work/$s.log" ] && { echo "--- straitd $s" >&2; tail -n 15 "$work/$s.log" >&2; }; done
  [ -f "$work/wanem.log" ] && { echo "--- strait-wanem" >&2; tail -n 5 "$work/wanem.log" >&2; }
  exit 1
}
t0=$(date +%s)
say() { echo "[$(( $(date +%s) - t0 ))s] $*"; }

wan_setup
echo "Rate = $rate_bps" >> "$work/a/appliance.conf"
capped="[Bandwidth]
Priority = 1
Guaranteed = 2M
Ceiling = $ceil_bps"
open="[Bandwidth]
Priority = 1
Guaranteed = 4M"
wan_tenant a capped 21 198.18.$wsub.2 169.254.21.1 169.254.21.2 "$capped"
wan_tenant b capped 21 198.18.$wsub.1 169.254.21.2 169.254.21.1
wan_tenant a open 22 198.18.$wsub.2 169.254.22.1 169.254.22.2 "$open"
wan_tenant b open 22 198.18.$wsub.1 169.254.22.2 169.254.22.1
"$straitd" -- -c "$work/a/appliance.conf" --check >/dev/null || fail "A's configuration refused"

say "1. both appliances, across strait-wanem ($wanem_args)"
wan_start a
wan_start b
for t in capped open; do
  until_ok a /strait/tunnel,$t 'v["state"] == "up" and v["channel"]["state"] == "up"' 60 \
    || fail "$t: tunnel or channel not up"
done

say "2. both tenants at once, ${secs}s measured"
# each test outlasts the measurement by 2 s at its expected rate (longer
# when the machine cannot keep that rate)
cap_bytes=$(( ceil_bps / 8 * (secs + 2) ))
open_bytes=$(( (rate_bps - ceil_bps) / 8 * (secs + 2) ))
python3 "$here/wan_shaper_run.py" /var/run/dpdk/wan-a-$n/dpdk_telemetry.v2 "$secs" \
  capped:$cap_bytes open:$open_bytes > "$work/samples.json" || fail "sampling"
python3 - "$work/samples.json" "$rate_bps" "$ceil_bps" <<'PY' || fail "rates outside their bounds (above)"
import json, statistics, sys
rows = json.load(open(sys.argv[1]))["samples"]
rate, ceil = int(sys.argv[2]), int(sys.argv[3])
# a window counts when both tenants had unlimited demand through it (busy
# at this sample and the one before), from the third second on
meas = [r for i, r in enumerate(rows) if i >= 2 and all(
    rows[j][t]["busy"] for j in (i - 1, i) for t in ("capped", "open"))]
cap = [r["capped"]["shaper"]["rate_bps"] for r in meas]
opn = [r["open"]["shaper"]["rate_bps"] for r in meas]
tot = [x + y for x, y in zip(cap, opn)]
held = [r[t]["shaper"]["held_bytes"] for r in rows for t in ("capped", "open")]
print(f"{len(meas)} windows of {len(rows)} with both busy")
print(f"capped Mbit/s {[round(x / 1e6, 2) for x in cap]} (ceiling {ceil / 1e6:g})")
print(f"open   Mbit/s {[round(x / 1e6, 2) for x in opn]} (what is left {(rate - ceil) / 1e6:g})")
print(f"held_bytes {held}")
if len(meas) < 2:
    sys.exit("fewer than 2 windows with both tenants busy")
mc, mo, mt = statistics.median(cap), statistics.median(opn), statistics.median(tot)
print(f"medians: capped {mc / 1e6:.2f}, open {mo / 1e6:.2f}, sum {mt / 1e6:.2f} (link {rate / 1e6:g})")
ok = True
def check(cond, what):
    global ok
    if not cond:
        print("  out of bounds:", what)
        ok = False
check(0.35 * ceil <= mc <= 1.03 * ceil, "capped median in [0.35, 1.03] x ceiling")
check(max(cap) <= 1.05 * ceil, "capped never above 1.05 x ceiling")
check(0.35 * (rate - ceil) <= mo <= 1.05 * (rate - ceil), "open median in [0.35, 1.05] x what is left")
check(mo > mc, "open, which may borrow, above capped")
check(max(tot) <= 1.05 * rate, "the sum never above 1.05 x the link")
check(max(held) <= 4 << 20, "held bytes within the channel's send buffer")
sys.exit(0 if ok else 1)
PY

say "3. every byte through, nothing dropped"
for t in capped open; do
  until_ok a /strait/tunnel,$t "v['test']['state'] in ('done', 'failed')" 120 || fail "$t: test did not end"
  python3 -c "import json,sys; v=json.loads(sys.argv[1])['/strait/tunnel']; t=v['test']
print('$t: test', t['state'], t['sent'], 'bytes,', t['mbit_s'], 'Mbit/s goodput, shaper', v['shaper'])
sys.exit(0 if t['state'] == 'done' and t['sent'] == t['bytes'] and not any(v['drops'].values()) else 1)" \
    "$ok_reply" || fail "$t: not every byte went through, or drops"
done
wan_stop a || fail "A exit status"
wan_stop b || fail "B exit status"
kill "$wanem_pid" 2>/dev/null; wait "$wanem_pid" 2>/dev/null || true; wanem_pid=
python3 - "$work/wanem.json" <<'PY' || fail "strait-wanem dropped frames"
import json, sys
s = json.load(open(sys.argv[1]))
d = {k: v["dropped"] for k, v in s.items() if isinstance(v, dict) and "dropped" in v}
print("strait-wanem dropped:", d)
sys.exit(0 if d and not any(n for x in d.values() for k, n in x.items() if k != "loss") else 1)
PY
say "ok"
