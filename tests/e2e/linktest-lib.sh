# SPDX-License-Identifier: BSD-3-Clause
# Sourced by the scripts that drive tcp-linktest (the TCP engine alone on
# one af_packet port) against Linux: tests/e2e/tcp-linktest.sh,
# tests/e2e/tcp-cookies.sh, bench/tcp-loss-linktest.

# linktest_link NS VK VD V4 [V6]: netns NS holds the client end VK with V4/24
# (and V6/64); the engine's end VD stays in the root netns. Both ends see
# plain frames: no checksum offload, TSO or GSO at the client, no GRO at
# the engine's end; no IPv6 of the kernel's own on VD.
linktest_link() {
  local ns=$1 vk=$2 vd=$3 v4=$4 v6=${5:-}
  ip netns add "$ns"
  ip link add "$vk" type veth peer name "$vd"
  ip link set "$vk" netns "$ns"
  ip -n "$ns" addr add "$v4/24" dev "$vk"
  [ -n "$v6" ] && ip -n "$ns" -6 addr add "$v6/64" dev "$vk" nodad
  ip -n "$ns" link set "$vk" up
  ip -n "$ns" link set lo up
  ip link set "$vd" up
  ip netns exec "$ns" ethtool -K "$vk" tx off tso off gso off >/dev/null 2>&1 || true
  ethtool -K "$vd" gro off >/dev/null 2>&1 || true
  sysctl -qw "net.ipv6.conf.$vd.disable_ipv6=1" || true
}

# linktest_start BIN PREFIX VD LOG [ARGS...]: tcp-linktest on VD with EAL
# file prefix PREFIX, output to LOG; sets pid and waits (10 s at most) for
# "ready". Returns 1, with the log on stderr, if it does not come up.
linktest_start() {
  local bin=$1 prefix=$2 vd=$3 log=$4
  shift 4
  "$bin" --no-huge --no-pci --iova-mode=va -m 512 --file-prefix="$prefix" \
    --vdev="net_af_packet0,iface=$vd" --log-level=lib.eal:error -- "$@" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q ready "$log" && return 0; sleep 0.1; done
  cat "$log" >&2
  echo "tcp-linktest did not start" >&2
  return 1
}
