#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# straitd's own TCP: the link-test services on the appliance's LAN address,
# measured from a Linux client; optionally with straitd's test knob
# (--tcp-impair) dropping, duplicating and reordering the segments its TCP
# receives and sends.
#
#   ns knc-N                ns kna-N (straitd)                     ns kns-N
#  +-----------------+     +--------------------------------+     +-----------------+
#  | tcp_client.py   |     | knlN (LAN)          knwN (WAN) |     | tcp_server.py   |
#  | kncN            |-----| net_af_packet0   net_af_packet1|-----| knsN            |
#  | 198.18.S.10     | veth| 198.18.S.1       198.18.S+1.1  | veth| 198.18.S.20     |
#  | 2001:2:0:1SS::10|     | 2001:2:0:1SS::1  (bridge)      |     | 9000, 9019      |
#  +-----------------+     +--------------------------------+     +-----------------+
#   S = SUBNET (default 180), SS = S in hex; the server is reached through
#   straitd's bridge (same subnet as the client).
#
# Checks, over IPv4 and IPv6: discard, source and echo byte-exact (1 B and
# 1 MiB, or the sizes given), concurrent verified echo/source connections,
# aborts from the client, and (with --close) the appliance's own closes:
# FIN after exactly N bytes and RST ("N reset") after exactly N bytes;
# straitd exits 0 on SIGTERM. TCP telemetry (dpdk-telemetry.py -f knob-N):
# /strait/tcp counts the segments, a held discard connection is listed in
# /strait/tcp/conns with its bytes and RTT and counted in
# /strait/tcp/tenant,local, and established returns to 0 once it closes.
# With IMPAIR set: the knob's counters move both ways, a bridged transfer
# to the Linux server leaves them unchanged (bridged traffic is never
# impaired), and the exit statistics (--stats-json) carry them.
#
#   [WORKERS=N] [SUBNET=S] [IMPAIR=SPEC] [MBUFS=N] [QUICK=1] \
#     tcp-straitd.sh STRAITD [CLIENT ARGS...]
# With N > 1 worker lcores each worker runs its own stack: a connection's
# segments reach one worker (by the flow hash) and are answered there.
# QUICK=1 skips the telemetry connection checks (tests that run the client
# only).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
straitd=$(readlink -f "${1:?straitd binary}"); shift
client=("$@")
n=$$
workers=${WORKERS:-1}
sub=${SUBNET:-180}
[ "$sub" -ge 180 ] && [ "$sub" -le 198 ] || { echo "SUBNET 180..198" >&2; exit 2; }
v6=2001:2:0:1$(printf %02x "$sub")
impair=${IMPAIR:-}
cpus=$(nproc)
lcores=0@0; for i in $(seq 1 "$workers"); do lcores=$lcores,$i@$((i % cpus)); done
C=knc-$n A=kna-$n S=kns-$n
work=$(mktemp -d /tmp/knob-e2e-XXXXXX)
pid= spid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  [ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null || true
  for ns in $C $A $S; do ip netns del "$ns" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] && cp "$work/straitd.log" /tmp/knob-straitd.log; rm -rf "$work" "/var/run/dpdk/knob-$n"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$work/straitd.log" ] && tail -n 20 "$work/straitd.log" >&2; exit 1; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
t0=$(date +%s)

for ns in $C $A $S; do ip netns add "$ns"; nsx "$ns" ip link set lo up; done
ip link add knc$n netns $C type veth peer name knl$n netns $A
ip link add knw$n netns $A type veth peer name kns$n netns $S
nsx $C ip addr add 198.18.$sub.10/24 dev knc$n
nsx $C ip addr add $v6::10/64 dev knc$n nodad
nsx $S ip addr add 198.18.$sub.20/24 dev kns$n
for l in "$C knc$n" "$A knl$n" "$A knw$n" "$S kns$n"; do set -- $l; nsx $1 ip link set $2 up; done
nsx $C ethtool -K knc$n tx off tso off gso off >/dev/null 2>&1 || true
nsx $S ethtool -K kns$n tx off tso off gso off >/dev/null 2>&1 || true
nsx $A ethtool -K knl$n gro off >/dev/null 2>&1 || true
nsx $A ethtool -K knw$n gro off >/dev/null 2>&1 || true
nsx $A sysctl -qw net.ipv6.conf.all.disable_ipv6=1

mkdir -p "$work/tenants"
cat > "$work/appliance.conf" <<CONF
[Appliance]
Name = knob-e2e
Workers = $workers
TenantDir = tenants
[LAN]
Port = net_af_packet0
Address = 198.18.$sub.1/24
Address = $v6::1/64
[WAN]
Port = net_af_packet1
Address = 198.18.$((sub + 1)).1/24
CONF

opts=(-c "$work/appliance.conf" --stats-json "$work/stats.json")
[ -n "$impair" ] && opts+=(--tcp-impair "$impair")
[ -n "${MBUFS:-}" ] && opts+=(--mbufs "$MBUFS")
ip netns exec $A "$straitd" --no-huge --no-pci --iova-mode=va -m 512 --lcores=$lcores --file-prefix=knob-$n \
  --log-level=lib.eal:error \
  --vdev=net_af_packet0,iface=knl$n,qpairs=$workers --vdev=net_af_packet1,iface=knw$n,qpairs=$workers \
  -- "${opts[@]}" >"$work/straitd.log" 2>&1 &
pid=$!
ip netns exec $S python3 "$here/tcp_server.py" 9000 9019 >"$work/server.log" 2>&1 &
spid=$!
for _ in $(seq 1 100); do grep -q " up:" "$work/straitd.log" && break; kill -0 $pid 2>/dev/null || fail "straitd died"; sleep 0.1; done
grep -q " up:" "$work/straitd.log" || fail "straitd did not come up"
if [ -n "$impair" ]; then
  grep -q "TCP impairment ON" "$work/straitd.log" || fail "the knob is not announced in the start-up log"
fi

nsx $C timeout 600 python3 "$here/tcp_client.py" 198.18.$sub.1 "${client[@]}" || fail "IPv4 services"
if [ -z "${NO_V6:-}" ]; then
  nsx $C timeout 300 python3 "$here/tcp_client.py" $v6::1 --only discard,echo,source,close --close \
    --concurrent 0 || fail "IPv6 services"
fi

# Telemetry: snapshots are up to 100 ms old, so each check polls (bounded).
tel() { echo "$1" | timeout 10 dpdk-telemetry.py -f knob-$n 2>/dev/null | tail -n 1; }
# tel_until CMD PYTHON-EXPR: the reply's value is `v`; up to 5 s
tel_until() {
  local out
  for _ in $(seq 1 50); do
    out=$(tel "$1")
    if python3 -c "import json,sys; v=json.loads(sys.argv[1])[sys.argv[2].split(',')[0]]; sys.exit(0 if ($2) else 1)" \
        "$out" "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "last $1: $out" >&2; echo "/strait/tcp: $(tel /strait/tcp)" >&2; return 1
}
tel_until /strait/tcp 'v["segs_in"] > 0 and v["segs_out"] > 0 and v["workers"] == '$workers' and
    v["pending"] == 0 and v["pending_opens"] == 0' \
  || fail "telemetry: /strait/tcp counted no segments"
# TIME-WAIT and LAST-ACK may linger (the appliance closed first, or its FIN
# was dropped by the knob); no connection is still synchronized or half open
tel_until /strait/tcp 'v["state_established"] == 0 and v["close_wait"] == 0 and v["half_open"] == 0' \
  || fail "telemetry: connections still established after the transfers"

if [ -n "$impair" ]; then
  # each share that is set moved its counters (both directions unless dir= says)
  want=$(python3 -c '
import sys
kv = dict(x.split("=", 1) for x in sys.argv[1].replace(" ", "").split(","))
d = kv.get("dir", "both")
dirs = ["rx", "tx"] if d == "both" else [d]
names = {"drop": "dropped", "dup": "dup", "reorder": "reordered"}
print(" and ".join("v[\"impair_%s_%s\"] > 0" % (names[k], x)
      for k in names if float(kv.get(k, "0").rstrip("%")) > 0 for x in dirs) or "True")' "$impair")
  tel_until /strait/tcp "$want" || fail "telemetry: the knob's counters did not move ($want)"
  # bridged traffic through the same straitd: the knob's counters stay put.
  # First the appliance's TCP goes quiet: nothing left but TIME-WAIT (which
  # sends nothing unless spoken to), so no segment of its own is drawn on.
  tel_until /strait/tcp 'v["conns"] == v["time_wait"]' \
    || fail "the appliance's connections did not settle"
  sleep 0.3  # the snapshot is fresh
  before=$(tel /strait/tcp | python3 -c 'import json,sys; v=json.load(sys.stdin)["/strait/tcp"]; print(json.dumps({k: v[k] for k in v if k.startswith("impair_")}))')
  for _ in $(seq 1 50); do grep -q ready "$work/server.log" && break; sleep 0.1; done
  nsx $C timeout 120 python3 "$here/tcp_client.py" 198.18.$sub.20 --only discard,source \
    --port-discard 9000 --port-source 9019 --sizes 4194304 --concurrent 0 >/dev/null \
    || fail "bridged transfer through straitd"
  sleep 0.3
  after=$(tel /strait/tcp | python3 -c 'import json,sys; v=json.load(sys.stdin)["/strait/tcp"]; print(json.dumps({k: v[k] for k in v if k.startswith("impair_")}))')
  [ "$before" = "$after" ] || fail "bridged traffic moved the knob's counters: $before -> $after"
fi

if [ -z "${QUICK:-}" ]; then
  # hold a discard connection open with 100000 bytes sent, look at it, then
  # let it go (held until the checks are done, at most 90 s: under load the
  # telemetry calls alone can take longer than a fixed hold)
  nsx $C python3 -c '
import os, socket, sys, time
s = socket.create_connection(("198.18.'$sub'.1", 9), timeout=10)
s.sendall(bytes(100000)); print(s.getsockname()[1], flush=True)
for _ in range(900):
    if os.path.exists(sys.argv[1]):
        break
    time.sleep(0.1)
s.close()
' "$work/release" >"$work/held" &
  held=$!
  for _ in $(seq 1 50); do [ -s "$work/held" ] && break; sleep 0.1; done
  cport=$(cat "$work/held")
  [ -n "$cport" ] || fail "held connection did not open"
  tel_until /strait/tcp/conns 'any(c["rport"] == '$cport' and c["state"] == "ESTABLISHED" and
    c["bytes_in"] == 100000 and c["srtt_us"] > 0 and c["lport"] == 9 for c in v.values())' \
    || { nsx $C ss -tin dport = :9 >&2; fail "telemetry: held connection not listed in /strait/tcp/conns"; }
  tel_until /strait/tcp/tenant,local 'v["established"] >= 1 and v["pending"] == 0' \
    || fail "telemetry: held connection not counted in /strait/tcp/tenant,local"
  [[ "$(tel /strait/tcp/tenant,no-such-tenant)" == *null* ]] \
    || fail "telemetry: an unknown tenant should get a null reply"
  touch "$work/release"
  wait $held
  tel_until /strait/tcp 'v["established"] == 0' \
    || fail "telemetry: established did not return to 0 after the close"
fi

kill -TERM $pid
wait $pid || fail "straitd exit status $?"
pid=
python3 - "$work/stats.json" "$impair" <<'PY' || fail "exit statistics"
import json, sys
t = json.load(open(sys.argv[1]))["tcp"]
assert t["segs_in"] > 0 and t["segs_out"] > 0, t
imp = {k: v for k, v in t.items() if k.startswith("impair_")}
if sys.argv[2]:
    assert imp["impair_dropped_rx"] > 0 and imp["impair_dropped_tx"] > 0, imp
    assert imp["impair_held"] == 0, imp  # every held segment released or freed
else:
    assert not any(imp.values()), imp
print("tcp exit stats:", json.dumps(imp))
PY
echo "ok: straitd's TCP served discard, echo and source byte-exact${impair:+ with --tcp-impair $impair} ($(( $(date +%s) - t0 )) s)"
