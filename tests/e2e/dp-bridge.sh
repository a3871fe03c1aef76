#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# straitd as a bump in the wire between a Linux client and a Linux server.
#
#   ns dp-cli-N              ns dp-app-N (straitd)                 ns dp-srv-N
#  +--------------+       +-----------------------------+       +--------------+
#  | dpc-N        |       | dpl-N (LAN)     dpw-N (WAN) |       |        dps-N |
#  | 198.18.10.10 |-------| net_af_packet0  net_af_packet1 |----| 198.18.10.20 |
#  | 2001:2:0:a::10       | .1 / ::1         .2 / ::2   |       | 2001:2:0:a::20
#  +--------------+  veth +-----------------------------+ veth  +--------------+
#
# Client and server share 198.18.10.0/24 and 2001:2:0:a::/64 (the wire is
# bridged); the appliance owns .1/::1 on its LAN side and .2/::2 on its WAN
# side and resolves the client (LAN gateway) and server (WAN gateway) itself.
# Checks: the appliance resolves its next hops (ARP and ND) before any
# traffic; ping through it (IPv4, IPv6) and to it (each side, both
# families); a TCP transfer on a tenant port and one on another port,
# byte-exact (sha256) both ways; telemetry (/strait/...) through
# dpdk-telemetry.py; a worker stopped 300 ms counted late (/strait/workers);
# SIGTERM exits 0.
#
#   dp-bridge.sh STRAITD [MBYTES [WORKERS]]
# WORKERS > 1 gives each af_packet port that many queue pairs (kernel
# fanout by flow hash) and maps the extra lcores onto this machine's CPUs.
set -euo pipefail
STRAITD=$(readlink -f "$1")
MB=${2:-16}
WORKERS=${3:-1}
LCORES=0@0
for i in $(seq 1 "$WORKERS"); do LCORES+=",$i@$((i % $(nproc)))"; done
N=$$
CLI=dp-cli-$N APP=dp-app-$N SRV=dp-srv-$N
PREFIX=dp-e2e-$N
WORK=$(mktemp -d /tmp/dp-e2e-XXXXXX)
PID=

cleanup() {
  set +e
  [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  for ns in $CLI $APP $SRV; do ip netns pids $ns 2>/dev/null | xargs -r kill 2>/dev/null; ip netns del $ns 2>/dev/null; done
  rm -rf "$WORK" /var/run/dpdk/$PREFIX
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- straitd log"; cat "$WORK/straitd.log" 2>/dev/null; exit 1; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

for ns in $CLI $APP $SRV; do ip netns add $ns; nsx $ns ip link set lo up; done
ip link add dpc-$N netns $CLI type veth peer name dpl-$N netns $APP
ip link add dps-$N netns $SRV type veth peer name dpw-$N netns $APP
# kernel ends: no partial checksums, no superframes; appliance ends: no GRO
nsx $CLI ethtool -K dpc-$N tx off tso off gso off >/dev/null
nsx $SRV ethtool -K dps-$N tx off tso off gso off >/dev/null
nsx $APP ethtool -K dpl-$N gro off >/dev/null
nsx $APP ethtool -K dpw-$N gro off >/dev/null
nsx $CLI ip addr add 198.18.10.10/24 dev dpc-$N
nsx $CLI ip addr add 2001:2:0:a::10/64 dev dpc-$N nodad
nsx $SRV ip addr add 198.18.10.20/24 dev dps-$N
nsx $SRV ip addr add 2001:2:0:a::20/64 dev dps-$N nodad
for l in "$CLI dpc-$N" "$SRV dps-$N" "$APP dpl-$N" "$APP dpw-$N"; do set -- $l; nsx $1 ip link set $2 up; done
# the appliance ends carry no kernel addresses; keep the kernel quiet there
nsx $APP sysctl -qw net.ipv6.conf.all.disable_ipv6=1

mkdir -p "$WORK/tenants"
cat > "$WORK/appliance.conf" <<CONF
[Appliance]
Name = e2e
Workers = $WORKERS
TenantDir = tenants
[LAN]
Port = net_af_packet0
Address = 198.18.10.1/24
Address = 2001:2:0:a::1/64
Gateway = 198.18.10.10
Gateway = 2001:2:0:a::10
[WAN]
Port = net_af_packet1
Address = 198.18.10.2/24
Address = 2001:2:0:a::2/64
Gateway = 198.18.10.20
Gateway = 2001:2:0:a::20
CONF
cat > "$WORK/tenants/repl.conf" <<CONF
[Tenant]
Name = repl
Id = 1
KeyFile = repl.key
PeerDown = bypass
[Interception]
ClientPrefix = 198.18.10.10/32, 2001:2:0:a::/64
ServerPrefix = 198.18.10.20/32, 2001:2:0:a::/64
Ports = 5001
[Peer]
Endpoint = 198.18.10.99
InnerAddress = 169.254.0.1
PeerInnerAddress = 169.254.0.2
CONF
# the tenant's tunnel key (its peer never answers here: the tunnel stays down)
(umask 077; head -c 32 /dev/urandom | base64 > "$WORK/tenants/repl.key")

# a bad configuration fails before any port is touched
echo "Workers = lots" >> "$WORK/bad.conf"
if "$STRAITD" -- -c "$WORK/bad.conf" 2>"$WORK/bad.err"; then fail "bad config accepted"; fi
grep -q "bad.conf:1:" "$WORK/bad.err" || fail "bad config error lacks file:line: $(cat "$WORK/bad.err")"

ip netns exec $APP "$STRAITD" --no-huge --no-pci --iova-mode=va -m 512 --lcores=$LCORES --file-prefix=$PREFIX \
  --log-level=lib.eal:error \
  --vdev=net_af_packet0,iface=dpl-$N,qpairs=$WORKERS --vdev=net_af_packet1,iface=dpw-$N,qpairs=$WORKERS \
  -- -c "$WORK/appliance.conf" >"$WORK/straitd.log" 2>&1 &
PID=$!
for i in $(seq 1 100); do grep -q " up:" "$WORK/straitd.log" && break; kill -0 $PID 2>/dev/null || fail "straitd died"; sleep 0.1; done
grep -q " up:" "$WORK/straitd.log" || fail "straitd did not come up"

tele() { printf '%s\n' "$@" | dpdk-telemetry.py -f $PREFIX; }

# 1. next hops resolved by the appliance itself, before any traffic
ok=
for i in $(seq 1 50); do
  t=$(tele /strait/neighbours,lan /strait/neighbours,wan)
  if grep -q '198.18.10.10 vlan 0' <<<"$t" && grep -q '198.18.10.20 vlan 0' <<<"$t" &&
     grep -q '2001:2:0:a::10 vlan 0' <<<"$t" && grep -q '2001:2:0:a::20 vlan 0' <<<"$t"; then ok=1; break; fi
  sleep 0.1
done
[ -n "$ok" ] || fail "next hops not resolved: $t"
cmac=$(nsx $CLI cat /sys/class/net/dpc-$N/address)
smac=$(nsx $SRV cat /sys/class/net/dps-$N/address)
grep -q "198.18.10.10 vlan 0 $cmac" <<<"$t" || fail "client MAC wrong: $t"
grep -q "198.18.10.20 vlan 0 $smac" <<<"$t" || fail "server MAC wrong: $t"
echo "ok: appliance resolved its next hops (ARP, ND)"

# 2. ping through and to the appliance
nsx $CLI ping -c 3 -i 0.2 -W 2 198.18.10.20 >/dev/null || fail "ping through (IPv4)"
nsx $CLI ping -c 3 -i 0.2 -W 2 2001:2:0:a::20 >/dev/null || fail "ping through (IPv6)"
nsx $CLI ping -c 3 -i 0.2 -W 2 198.18.10.1 >/dev/null || fail "ping appliance LAN (IPv4)"
nsx $CLI ping -c 3 -i 0.2 -W 2 2001:2:0:a::1 >/dev/null || fail "ping appliance LAN (IPv6)"
nsx $SRV ping -c 3 -i 0.2 -W 2 198.18.10.2 >/dev/null || fail "ping appliance WAN (IPv4)"
nsx $SRV ping -c 3 -i 0.2 -W 2 2001:2:0:a::2 >/dev/null || fail "ping appliance WAN (IPv6)"
# the server learnt the appliance's WAN address from its ARP
appmac=$(nsx $APP cat /sys/class/net/dpw-$N/address)
nsx $SRV ip neigh show 198.18.10.2 | grep -q "$appmac" || fail "server has no neighbour entry for the appliance"
echo "ok: ping through and to the appliance, both families"

# 3. TCP transfers, byte-exact
head -c $((MB * 1024 * 1024)) /dev/urandom > "$WORK/data"
want=$(sha256sum < "$WORK/data" | cut -d' ' -f1)
cat > "$WORK/sink.py" <<'PY'
import hashlib, socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
s.settimeout(30)
c, _ = s.accept()
c.settimeout(30)
h = hashlib.sha256()
mode = sys.argv[3]
if mode == "recv":
    while True:
        b = c.recv(1 << 16)
        if not b:
            break
        h.update(b)
    print(h.hexdigest())
else:
    with open(sys.argv[4], "rb") as f:
        c.sendall(f.read())
c.close()
PY
cat > "$WORK/source.py" <<'PY'
import hashlib, socket, sys, time
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
for i in range(50):
    try:
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
        break
    except OSError:
        time.sleep(0.1)
mode = sys.argv[3]
if mode == "send":
    with open(sys.argv[4], "rb") as f:
        s.sendall(f.read())
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
else:
    h = hashlib.sha256()
    while True:
        b = s.recv(1 << 16)
        if not b:
            break
        h.update(b)
    print(h.hexdigest())
PY
listening() { # port: wait for the server's socket, so no SYN is refused
  for i in $(seq 1 100); do nsx $SRV ss -Hltn "sport = :$1" | grep -q . && return 0; sleep 0.05; done
  fail "server not listening on $1"
}
transfer() { # server-addr port direction(up|down)
  if [ "$3" = up ]; then
    nsx $SRV python3 "$WORK/sink.py" "$1" "$2" recv > "$WORK/got" &
    local sp=$!
    listening $2
    nsx $CLI timeout 60 python3 "$WORK/source.py" "$1" "$2" send "$WORK/data"
  else
    nsx $SRV python3 "$WORK/sink.py" "$1" "$2" send "$WORK/data" &
    local sp=$!
    listening $2
    nsx $CLI timeout 60 python3 "$WORK/source.py" "$1" "$2" recv > "$WORK/got"
  fi
  wait $sp
  [ "$(cat "$WORK/got")" = "$want" ] || fail "transfer $1:$2 $3: sha256 $(cat "$WORK/got") != $want"
}
t0=$(date +%s.%N)
transfer 198.18.10.20 5001 up
t1=$(date +%s.%N)
transfer 198.18.10.20 5002 down
transfer 2001:2:0:a::20 5001 up
echo "ok: TCP ${MB} MiB byte-exact: client->server on the tenant port (IPv4, IPv6), server->client bridged"
echo "    ($(python3 -c "print('%.0f' % ($MB * 8 * 1.048576 / ($t1 - $t0)))") Mbit/s IPv4 upload here; figures: bench/dataplane-bench)"

# 4. telemetry: ports, flows, the tenant
t=$(tele /strait/ports /strait/flows /strait/tenant,repl /strait/drops /strait/malformed /strait/tenants)
w=$(tele /strait/ports,wan)
grep -q '"bridged_bytes"' <<<"$w" || fail "/strait/ports,wan: $w"
echo "$t" > "$WORK/telemetry.json"
python3 - "$WORK/telemetry.json" "$MB" <<'PY' || fail "telemetry: $(cat "$WORK/telemetry.json")"
import json, sys
mb = int(sys.argv[2])
docs = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
d = {}
for x in docs:
    d.update(x)
ports, flows, ten = d["/strait/ports"], d["/strait/flows"], d["/strait/tenant"]
assert ports["lan"]["bridged_bytes"] > 2 * mb << 20, ports
assert ports["wan"]["bridged_bytes"] > mb << 20, ports
assert ports["lan"]["local_out"] >= 6 and ports["wan"]["local_out"] >= 6, ports   # echo replies, NA, our ARP/NS
# three connections (two uploads, one download), each seen by one worker
# even with several: both directions meet on the flow's owner
assert flows["created"] == 3, flows
assert ten["flows"] == 2, ten            # the IPv4 and IPv6 uploads on port 5001
assert ten["bytes"] > 2 * mb << 20, ten
assert ten["active_flows"] <= 2, ten
assert d["/strait/tenants"] == ["repl"], d["/strait/tenants"]
print("ok: telemetry", json.dumps({"lan": ports["lan"]["bridged_packets"], "wan": ports["wan"]["bridged_packets"],
                                   "flows": flows["created"], "tenant_flows": ten["flows"]}))
PY

# 4b. each worker's loop: every iteration counted; stopped 300 ms (SIGSTOP,
#     as a CPU taken away would), each worker counts a late iteration of
#     at least 250 ms beyond the 2 ms default [WAN] RateBurst
tele /strait/workers > "$WORK/workers0.json"
kill -STOP $PID; sleep 0.3; kill -CONT $PID; sleep 0.2
tele /strait/workers > "$WORK/workers1.json"
python3 - "$WORK/workers0.json" "$WORK/workers1.json" "$WORKERS" <<'PY' || fail "/strait/workers: $(cat "$WORK"/workers*.json)"
import json, sys
def load(p):
    return [json.loads(l) for l in open(p) if l.strip().startswith("{")][0]["/strait/workers"]
w0, w1, n = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3])
assert sorted(w1) == [str(i) for i in range(n)], w1
for k, b in w1.items():
    a = w0[k]
    assert b["late_after_us"] == 2000, b
    assert b["loops"] > a["loops"] > 0, (a, b)
    assert b["late"] > a["late"], (a, b)
    assert b["max_gap_us"] >= 250000 and b["late_ms"] - a["late_ms"] >= 250, (a, b)
print("ok: /strait/workers", json.dumps(w1))
PY
# the threshold follows [WAN] RateBurst through a reload (SIGHUP)
echo "RateBurst = 5ms" >> "$WORK/appliance.conf"
kill -HUP $PID
ok=
for i in $(seq 1 50); do
  tele /strait/workers | grep -q '"late_after_us": 5000' && { ok=1; break; }
  sleep 0.1
done
[ -n "$ok" ] || fail "late_after_us after RateBurst = 5ms: $(tele /strait/workers)"
echo "ok: late_after_us 5000 after a reload to RateBurst = 5ms"

# 5. SIGTERM drains and exits 0
kill -TERM $PID
rc=0; wait $PID || rc=$?
PID=
[ $rc -eq 0 ] || fail "straitd exited $rc on SIGTERM"
grep -q "stopped" "$WORK/straitd.log" || fail "no clean stop"
echo "ok: SIGTERM, exit 0"
echo "PASS dp-bridge"
