#!/usr/bin/env bash
# Figure: a Linux client streaming to straitd's discard service (and from its
# source service) against the same client to a Linux server bridged through
# the same straitd. Alternating runs, median of RUNS (default 5). Prints JSON.
# A benchmark, not a test: it never fails on a number.
#
#   ns tcpc-N               ns tcpa-N (straitd, 1 worker)          ns tcps-N
#  +-----------------+     +--------------------------------+     +-----------------+
#  | tcp_client.py   |     | tl-N (LAN)          tw-N (WAN) |     | tcp_server.py   |
#  | 198.18.140.10   |-----| .1 discard 9, source 19   .2   |-----| 198.18.140.20   |
#  +-----------------+ veth+--------------------------------+ veth| 9000, 9019      |
#                                                                 +-----------------+
#   tcp-bench-services.sh STRAITD [MBYTES] [RUNS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
straitd=$(readlink -f "${1:?straitd binary}")
mb=${2:-128}; runs=${3:-5}
n=$$
C=tcpc-$n A=tcpa-$n S=tcps-$n
work=$(mktemp -d /tmp/tcp-bench-XXXXXX)
pid= spid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  [ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null || true
  for ns in $C $A $S; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$work" "/var/run/dpdk/tcpb-$n"
}
trap cleanup EXIT
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
for ns in $C $A $S; do ip netns add "$ns"; nsx "$ns" ip link set lo up; done
ip link add tc-$n netns $C type veth peer name tl-$n netns $A
ip link add tw-$n netns $A type veth peer name ts-$n netns $S
nsx $C ip addr add 198.18.140.10/24 dev tc-$n
nsx $S ip addr add 198.18.140.20/24 dev ts-$n
for l in "$C tc-$n" "$A tl-$n" "$A tw-$n" "$S ts-$n"; do set -- $l; nsx $1 ip link set $2 up; done
nsx $C ethtool -K tc-$n tx off tso off gso off >/dev/null 2>&1 || true
nsx $S ethtool -K ts-$n tx off tso off gso off >/dev/null 2>&1 || true
nsx $A ethtool -K tl-$n gro off >/dev/null 2>&1 || true
nsx $A ethtool -K tw-$n gro off >/dev/null 2>&1 || true
nsx $A sysctl -qw net.ipv6.conf.all.disable_ipv6=1
mkdir -p "$work/tenants"
cat > "$work/appliance.conf" <<CONF
[Appliance]
Name = tcp-bench
Workers = 1
TenantDir = tenants
[LAN]
Port = net_af_packet0
Address = 198.18.140.1/24
[WAN]
Port = net_af_packet1
Address = 198.18.140.2/24
CONF
ip netns exec $A "$straitd" --no-huge --no-pci --iova-mode=va -m 512 -l 0,1 --file-prefix=tcpb-$n \
  --log-level=lib.eal:error --vdev=net_af_packet0,iface=tl-$n --vdev=net_af_packet1,iface=tw-$n \
  -- -c "$work/appliance.conf" >"$work/straitd.log" 2>&1 &
pid=$!
ip netns exec $S python3 "$here/tcp_server.py" 9000 9019 >"$work/server.log" 2>&1 &
spid=$!
for _ in $(seq 1 100); do grep -q " up:" "$work/straitd.log" && grep -q ready "$work/server.log" && break; sleep 0.1; done
bytes=$((mb << 20))
cl() { nsx $C timeout 300 python3 "$here/tcp_client.py" "$@" --sizes $bytes --concurrent 0 --no-verify; }
# warm up both paths (neighbours learnt, caches)
cl 198.18.140.20 --only discard --port-discard 9000 >/dev/null
cl 198.18.140.1 --only discard >/dev/null
for i in $(seq 1 "$runs"); do
  cl 198.18.140.20 --only discard --port-discard 9000 | sed 's/^/base_discard /'
  cl 198.18.140.1 --only discard | sed 's/^/cand_discard /'
  cl 198.18.140.20 --only source --port-source 9019 | sed 's/^/base_source /'
  cl 198.18.140.1 --only source | sed 's/^/cand_source /'
done >"$work/runs.txt"
python3 - "$work/runs.txt" "$mb" "$runs" <<'PY'
import json, statistics, sys
res = {}
for line in open(sys.argv[1]):
    tag, js = line.split(" ", 1)
    v = list(json.loads(js).values())[0]
    res.setdefault(tag, []).append(v)
out = {"bench": "tcp-services-vs-bridged-linux", "mbytes": int(sys.argv[2]), "runs": int(sys.argv[3])}
for k in ("discard", "source"):
    b, c = statistics.median(res["base_" + k]), statistics.median(res["cand_" + k])
    out[k] = {"baseline_mbps": b, "straitd_tcp_mbps": c, "ratio": round(c / b, 3),
              "baseline_runs": res["base_" + k], "straitd_runs": res["cand_" + k]}
print(json.dumps(out))
PY
