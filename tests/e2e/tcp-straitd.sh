#!/usr/bin/env bash
# straitd's own TCP: the link-test services on the appliance's LAN address,
# measured from a Linux client.
#
#   ns tcpc-N               ns tcpa-N (straitd, 1 worker)          ns tcps-N
#  +-----------------+     +--------------------------------+     +-----------+
#  | tcpc_client.py  |     | tl-N (LAN)          tw-N (WAN) |     |           |
#  | tc-N            |-----| net_af_packet0   net_af_packet1|-----| ts-N      |
#  | 198.18.140.10   | veth| 198.18.140.1     198.18.141.1  | veth| (silent)  |
#  | 2001:2:0:140::10|     | 2001:2:0:140::1  2001:2:0:141::1|    |           |
#  +-----------------+     +--------------------------------+     +-----------+
#
# Checks, over IPv4 and IPv6: discard, source and echo byte-exact (1 B and
# 1 MiB, or the sizes given), 16 concurrent echoes, aborts from the client;
# straitd exits 0 on SIGTERM. TCP telemetry (dpdk-telemetry.py -f tcpd-N):
# /strait/tcp counts the segments, a held discard connection is listed in
# /strait/tcp/conns with its bytes and RTT and counted in
# /strait/tcp/tenant,local, and established returns to 0 once it closes.
#
#   [WORKERS=N] tcp-straitd.sh STRAITD [CLIENT ARGS...]
# With N > 1 worker lcores each worker runs its own stack: a connection's
# segments reach one worker (RX hashing is per flow) and are answered there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
straitd=$(readlink -f "${1:?straitd binary}"); shift
client=("$@")
n=$$
workers=${WORKERS:-1}
cpus=$(nproc)
lcores=0@0; for i in $(seq 1 "$workers"); do lcores=$lcores,$i@$((i % cpus)); done
C=tcpc-$n A=tcpa-$n S=tcps-$n
work=$(mktemp -d /tmp/tcp-e2e-XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  for ns in $C $A $S; do ip netns del "$ns" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] && cp "$work/straitd.log" /tmp/tcpd.log; rm -rf "$work" "/var/run/dpdk/tcpd-$n"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$work/straitd.log" ] && tail -n 20 "$work/straitd.log" >&2; exit 1; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

for ns in $C $A $S; do ip netns add "$ns"; nsx "$ns" ip link set lo up; done
ip link add tc-$n netns $C type veth peer name tl-$n netns $A
ip link add tw-$n netns $A type veth peer name ts-$n netns $S
nsx $C ip addr add 198.18.140.10/24 dev tc-$n
nsx $C ip addr add 2001:2:0:140::10/64 dev tc-$n nodad
for l in "$C tc-$n" "$A tl-$n" "$A tw-$n" "$S ts-$n"; do set -- $l; nsx $1 ip link set $2 up; done
nsx $C ethtool -K tc-$n tx off tso off gso off >/dev/null 2>&1 || true
nsx $A ethtool -K tl-$n gro off >/dev/null 2>&1 || true
nsx $A sysctl -qw net.ipv6.conf.all.disable_ipv6=1

mkdir -p "$work/tenants"
cat > "$work/appliance.conf" <<CONF
[Appliance]
Name = tcp-e2e
Workers = $workers
TenantDir = tenants
[LAN]
Port = net_af_packet0
Address = 198.18.140.1/24
Address = 2001:2:0:140::1/64
[WAN]
Port = net_af_packet1
Address = 198.18.141.1/24
Address = 2001:2:0:141::1/64
CONF

ip netns exec $A "$straitd" --no-huge --no-pci --iova-mode=va -m 512 --lcores=$lcores --file-prefix=tcpd-$n \
  --log-level=lib.eal:error \
  --vdev=net_af_packet0,iface=tl-$n,qpairs=$workers --vdev=net_af_packet1,iface=tw-$n,qpairs=$workers \
  -- -c "$work/appliance.conf" >"$work/straitd.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do grep -q " up:" "$work/straitd.log" && break; kill -0 $pid 2>/dev/null || fail "straitd died"; sleep 0.1; done
grep -q " up:" "$work/straitd.log" || fail "straitd did not come up"

nsx $C timeout 600 python3 "$here/tcp_client.py" 198.18.140.1 "${client[@]}" || fail "IPv4 services"
nsx $C timeout 300 python3 "$here/tcp_client.py" 2001:2:0:140::1 --only echo,source \
  --concurrent 0 || fail "IPv6 services"

# Telemetry: snapshots are up to 100 ms old, so each check polls (bounded).
tel() { echo "$1" | timeout 10 dpdk-telemetry.py -f tcpd-$n 2>/dev/null | tail -n 1; }
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
tel_until /strait/tcp 'v["segs_in"] > 0 and v["segs_out"] > 0 and v["workers"] == '$workers \
  || fail "telemetry: /strait/tcp counted no segments"
tel_until /strait/tcp 'v["established"] == 0 and v["half_open"] == 0' \
  || fail "telemetry: connections still established after the transfers"
# hold a discard connection open with 100000 bytes sent, then look at it
nsx $C python3 -c '
import socket, sys, time
s = socket.create_connection(("198.18.140.1", 9), timeout=10)
s.sendall(bytes(100000)); print(s.getsockname()[1], flush=True); time.sleep(8); s.close()
' >"$work/held" &
held=$!
for _ in $(seq 1 50); do [ -s "$work/held" ] && break; sleep 0.1; done
cport=$(cat "$work/held")
[ -n "$cport" ] || fail "held connection did not open"
tel_until /strait/tcp/conns 'any(c["rport"] == '$cport' and c["state"] == "ESTABLISHED" and
  c["bytes_in"] == 100000 and c["srtt_us"] > 0 and c["lport"] == 9 for c in v.values())' \
  || fail "telemetry: held connection not listed in /strait/tcp/conns"
tel_until /strait/tcp/tenant,local 'v["established"] >= 1' \
  || fail "telemetry: held connection not counted in /strait/tcp/tenant,local"
[[ "$(tel /strait/tcp/tenant,no-such-tenant)" == *null* ]] \
  || fail "telemetry: an unknown tenant should get a null reply"
wait $held
tel_until /strait/tcp 'v["established"] == 0' \
  || fail "telemetry: established did not return to 0 after the close"

kill -TERM $pid
wait $pid || fail "straitd exit status $?"
pid=
echo "ok: straitd's TCP served discard, echo and source byte-exact"
