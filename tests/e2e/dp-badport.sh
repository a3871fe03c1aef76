#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A wrong WAN device name: straitd exits 1 naming it, and has not touched
# the LAN port (configured, started, made promiscuous) on its way out.
#
#   ns dp-bp-N
#  +--------------------------------------+
#  | dpb-N (LAN: net_af_packet0) -- dpbp-N |   WAN: Port = net_nosuch (absent)
#  +--------------------------------------+
#
#   dp-badport.sh STRAITD
set -euo pipefail
STRAITD=$(readlink -f "$1")
N=$$
NS=dp-bp-$N
PREFIX=dp-bp-$N
WORK=$(mktemp -d /tmp/dp-bp-XXXXXX)
cleanup() {
  set +e
  ip netns pids $NS 2>/dev/null | xargs -r kill 2>/dev/null
  ip netns del $NS 2>/dev/null
  rm -rf "$WORK" /var/run/dpdk/$PREFIX
}
trap cleanup EXIT
ip netns add $NS
ip netns exec $NS ip link add dpb-$N type veth peer name dpbp-$N
ip netns exec $NS ip link set dpb-$N up
ip netns exec $NS ip link set dpbp-$N up
cat > "$WORK/a.conf" <<CONF
[Appliance]
Workers = 0
[LAN]
Port = net_af_packet0
Address = 198.18.12.1/24
[WAN]
Port = net_nosuch
CONF
set +e
ip netns exec $NS timeout 60 "$STRAITD" --no-huge --no-pci --iova-mode=va -m 256 -l 0 \
  --file-prefix=$PREFIX --log-level=lib.eal:error --vdev=net_af_packet0,iface=dpb-$N \
  -- -c "$WORK/a.conf" >"$WORK/log" 2>&1
rc=$?
set -e
cat "$WORK/log"
[ $rc -ne 0 ] || { echo "FAIL: exit 0 with a missing WAN port"; exit 1; }
grep -q "\[WAN\] Port net_nosuch: no such DPDK port" "$WORK/log" || { echo "FAIL: error does not name the WAN port"; exit 1; }
if ip netns exec $NS ip link show dpb-$N | grep -q PROMISC; then
  echo "FAIL: the LAN interface was left promiscuous"; exit 1
fi
echo "ok: exit $rc, LAN untouched"
