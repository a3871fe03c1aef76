#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Intercepted flows while the tenant's peer appliance is down: PeerDown.
#
#   ns rpd-cli-N              ns rpd-app-N (straitd)               ns rpd-srv-N
#  +--------------+       +-----------------------------+       +--------------+
#  | rpc-N        |       | rpl-N (LAN)     rpw-N (WAN) |       |        rps-N |
#  | 198.18.12.10 |-------| net_af_packet0  net_af_packet1 |----| 198.18.12.20 |
#  +--------------+  veth +-----------------------------+ veth  +--------------+
#
# Three tenants, none with a reachable peer (its channel never connects):
#   bypass (port 5001, PeerDown = bypass): the connection is bridged
#     unoptimized and works, byte-exact; counted as bypassed;
#   closed (port 5002, PeerDown = fail-closed): the client's SYN is refused
#     with a RST (connection refused at once), the server never sees it;
#   back (port 5003, client prefix on the WAN side): a SYN that comes from
#     the WAN is not one to terminate here: bridged, works, counted.
# The relay's telemetry (/strait/relay) says why: the channel is down.
#
#   relay-peerdown.sh STRAITD
set -euo pipefail
STRAITD=$(readlink -f "$1")
N=$$
CLI=rpd-cli-$N APP=rpd-app-$N SRV=rpd-srv-$N
PREFIX=rpd-e2e-$N
WORK=$(mktemp -d /tmp/rpd-e2e-XXXXXX)
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
ip link add rpc-$N netns $CLI type veth peer name rpl-$N netns $APP
ip link add rps-$N netns $SRV type veth peer name rpw-$N netns $APP
nsx $CLI ethtool -K rpc-$N tx off tso off gso off >/dev/null
nsx $SRV ethtool -K rps-$N tx off tso off gso off >/dev/null
nsx $APP ethtool -K rpl-$N gro off >/dev/null
nsx $APP ethtool -K rpw-$N gro off >/dev/null
nsx $CLI ip addr add 198.18.12.10/24 dev rpc-$N
nsx $SRV ip addr add 198.18.12.20/24 dev rps-$N
for l in "$CLI rpc-$N" "$SRV rps-$N" "$APP rpl-$N" "$APP rpw-$N"; do set -- $l; nsx $1 ip link set $2 up; done
nsx $APP sysctl -qw net.ipv6.conf.all.disable_ipv6=1

mkdir -p "$WORK/tenants"
cat > "$WORK/appliance.conf" <<CONF
[Appliance]
Name = peerdown
TenantDir = tenants
[LAN]
Port = net_af_packet0
Address = 198.18.12.1/24
[WAN]
Port = net_af_packet1
Address = 198.18.12.2/24
CONF
tenant() { # name port peerdown client server inner (also the Id)
  (umask 077; head -c 32 /dev/urandom | base64 > "$WORK/tenants/$1.key")
  cat > "$WORK/tenants/$1.conf" <<CONF
[Tenant]
Name = $1
Id = $6
KeyFile = $1.key
PeerDown = $3
CacheSize = 4M
[Interception]
ClientPrefix = $4/32
ServerPrefix = $5/32
Ports = $2
[Peer]
Endpoint = 198.18.12.99
InnerAddress = 169.254.$6.1
PeerInnerAddress = 169.254.$6.2
CONF
}
tenant bypass 5001 bypass 198.18.12.10 198.18.12.20 1
tenant closed 5002 fail-closed 198.18.12.10 198.18.12.20 2
tenant back 5003 fail-closed 198.18.12.20 198.18.12.10 3

ip netns exec $APP "$STRAITD" --no-huge --no-pci --iova-mode=va -m 512 -l 0,1 --file-prefix=$PREFIX \
  --log-level=lib.eal:error \
  --vdev=net_af_packet0,iface=rpl-$N --vdev=net_af_packet1,iface=rpw-$N \
  -- -c "$WORK/appliance.conf" >"$WORK/straitd.log" 2>&1 &
PID=$!
for i in $(seq 1 300); do grep -q " up:" "$WORK/straitd.log" && break; kill -0 $PID 2>/dev/null || fail "straitd died"; sleep 0.1; done
grep -q " up:" "$WORK/straitd.log" || fail "straitd did not come up"
tele() { printf '%s\n' "$@" | dpdk-telemetry.py -f $PREFIX; }

head -c $((4 * 1024 * 1024)) /dev/urandom > "$WORK/data"
want=$(sha256sum < "$WORK/data" | cut -d' ' -f1)
cat > "$WORK/sink.py" <<'PY'
import hashlib, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
s.settimeout(float(sys.argv[3]))
try:
    c, _ = s.accept()
except socket.timeout:
    print("no connection")
    sys.exit(0)
c.settimeout(30)
h = hashlib.sha256()
while True:
    b = c.recv(1 << 16)
    if not b:
        break
    h.update(b)
print(h.hexdigest())
PY
cat > "$WORK/send.py" <<'PY'
import socket, sys, time
t0 = time.monotonic()
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
except ConnectionRefusedError:
    # a SYN retransmission (1 s) would mean the first was not answered
    print("refused" if time.monotonic() - t0 < 0.9 else "refused late")
    sys.exit(0)
with open(sys.argv[3], "rb") as f:
    s.sendall(f.read())
s.shutdown(socket.SHUT_WR)
s.recv(1)
print("sent")
PY
listening() { # ns port
  for i in $(seq 1 100); do nsx $1 ss -Hltn "sport = :$2" | grep -q . && return 0; sleep 0.05; done
  fail "not listening on $2"
}

# 1. bypass: bridged unoptimized, byte-exact
nsx $SRV python3 "$WORK/sink.py" 198.18.12.20 5001 30 > "$WORK/got" &
sp=$!; listening $SRV 5001
r=$(nsx $CLI timeout 60 python3 "$WORK/send.py" 198.18.12.20 5001 "$WORK/data")
wait $sp
[ "$r" = sent ] && [ "$(cat "$WORK/got")" = "$want" ] || fail "bypass: $r, sha256 $(cat "$WORK/got")"
echo "ok: PeerDown = bypass: the flow is bridged unoptimized, byte-exact"

# 2. fail-closed: refused at once, the server sees nothing
nsx $SRV python3 "$WORK/sink.py" 198.18.12.20 5002 4 > "$WORK/got2" &
sp=$!; listening $SRV 5002
r=$(nsx $CLI timeout 30 python3 "$WORK/send.py" 198.18.12.20 5002 "$WORK/data")
wait $sp
[ "$r" = refused ] || fail "fail-closed: the client got '$r', not a refusal of its first SYN"
[ "$(cat "$WORK/got2")" = "no connection" ] || fail "fail-closed: the server got a connection"
echo "ok: PeerDown = fail-closed: the client's SYN is refused with a RST, the server sees nothing"

# 3. a SYN from the WAN side is not ours to terminate: bridged
nsx $CLI python3 "$WORK/sink.py" 198.18.12.10 5003 30 > "$WORK/got3" &
sp=$!; listening $CLI 5003
r=$(nsx $SRV timeout 60 python3 "$WORK/send.py" 198.18.12.10 5003 "$WORK/data")
wait $sp
[ "$r" = sent ] && [ "$(cat "$WORK/got3")" = "$want" ] || fail "WAN-side SYN: $r"
echo "ok: a tenant's SYN from the WAN side is bridged"

# 4. telemetry: why, and the counts
t=$(tele /strait/relay)
echo "$t" > "$WORK/relay.json"
python3 - "$WORK/relay.json" <<'PY' || fail "telemetry: $(cat "$WORK/relay.json")"
import json, sys
d = {}
for l in open(sys.argv[1]):
    if l.strip().startswith("{"):
        d.update(json.loads(l))
r = d["/strait/relay"]
for name in ("bypass", "closed", "back"):
    assert r[name]["channel"] == "down" and r[name]["why"] == "the channel is down", r[name]
assert r["bypass"]["bypassed"] == 1 and r["bypass"]["intercepted"] == 0, r["bypass"]
assert r["closed"]["refused_down"] >= 1 and r["closed"]["intercepted"] == 0, r["closed"]
assert r["back"]["wan_syn"] == 1, r["back"]
assert r["bypass"]["memory"] > 8 << 20, r["bypass"]
PY
echo "ok: /strait/relay: channel down, bypassed, refused, WAN-side SYN counted"

kill -TERM $PID; wait $PID || fail "straitd exit status $?"
PID=
echo "PASS"
