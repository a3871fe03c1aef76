#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Reloads (SIGHUP) at two appliances while a tenant's optimized flow runs
# through its channel: what each kind of change does to the WAN module's
# tunnel and the relay, end to end.
#
#   ns wla-N        ns wa-N (straitd A)                 ns wb-N (straitd B)          ns wlb-N
#  +---------+     +---------------------------+       +---------------------------+     +---------+
#  | client  |-----| walN (LAN)     wawN (WAN) |-------| wbwN (WAN)     wblN (LAN) |-----| server  |
#  | wlaN    |veth | net_af_packet0 .._packet1 | veth  | .._packet1 net_af_packet0 |veth | wlbN    |
#  | S.10    |     | 198.18.S.1     198.18.T.1 |       | 198.18.T.2     198.18.S.2 |     | S.20    |
#  +---------+     +---------------------------+       +---------------------------+     +---------+
#   (set up by wan-lib.sh) S = SUBNET (default 176), T = S + 1.
#   Tenant acme, Id 7: clients S.10, servers S.20, port 5001, inner
#   169.254.7.1 (A) - .2 (B). Tenant globex, Id 8, port 5006, added and
#   removed on the way.
#
# Checks, in order, while a paced upload on 5001 runs through acme's
# channel (steps 2-3):
#  1. Both up, acme's channel carries flows.
#  2. Key rotated at both (a new key in the same file, SIGHUP A then B,
#     well within PeerTimeout, 10 s): reported as 1 changed; acme's tunnel
#     starts again (new SPIs) and comes up; the channel's connection is
#     the same (no new connect), the flow is still optimized.
#  3. PeerTimeout and KeepaliveInterval changed at both: the tunnel starts
#     again, up again, the same connection. The upload then ends
#     byte-exact: nothing was lost or reset by either reload.
#  4. globex added at both: its tunnel and channel come up, a transfer on
#     5006 is optimized and byte-exact.
#  5. globex removed at both: gone from the WAN module and the relay.
#  6. acme's CacheSize changed at both: its session starts again (a new
#     connect), a transfer after it byte-exact.
#  7. Room: both appliances optimize OptimizedFlows = 16 connections at
#     once. 24 flows held open together on acme: at most 16 optimized, the
#     others bridged unoptimized (A's `full`), every one byte-exact; then a
#     flow is optimized again.
#
#   [SUBNET=S] ctl-reload-two-sites.sh STRAITD
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
straitd=$(readlink -f "${1:?straitd binary}")
n=$$
workers=1
sub=${SUBNET:-176}
. "$here/wan-lib.sh"
peer="$here/relay_peer.py"
many="$here/relay_many.py"
APP_EXTRA="OptimizedFlows = 16"
bg=()
cleanup() {
  for p in "${bg[@]}"; do kill "$p" 2>/dev/null || true; done
  for ns in ${LA:-} ${LB:-}; do ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true; done
  wan_cleanup
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for s in a b; do [ -f "$work/$s.log" ] && { echo "--- straitd $s" >&2; tail -n 20 "$work/$s.log" >&2; }; done
  for s in a b; do echo "--- $s: $(tel $s /strait/relay,acme) $(tel $s /strait/tunnel,acme)" >&2; done
  exit 1
}
t0=$(date +%s)
say() { echo "[$(( $(date +%s) - t0 ))s] $*"; }

wan_setup
C=198.18.$sub.10 S=198.18.$sub.20
# tenant SIDE NAME ID PORT [EXTRA]: the tenant file at SIDE (A's inner
# address .1 connects to B's .2), its key made once for both sides
tenant() {
  local d="$work/$1/tenants" h p ep
  [ "$1" = a ] && h=1 p=2 ep=2 || h=2 p=1 ep=1
  wan_key "$2"
  cat > "$d/$2.conf" <<CONF
[Tenant]
Name = $2
Id = $3
KeyFile = $2.key
PeerDown = fail-closed
CacheSize = ${CACHE:-64M}
[Interception]
ClientPrefix = $C/32
ServerPrefix = $S/32
Ports = $4
[Peer]
Endpoint = 198.18.$wsub.$ep
InnerAddress = 169.254.$3.$h
PeerInnerAddress = 169.254.$3.$p
PeerTimeout = ${TIMEOUT:-10s}
${5:-}
CONF
}
both() { tenant a "$@"; tenant b "$@"; }
# hup SIDE WHAT: SIGHUP, and wait for its log line (N added, removed, changed)
hup() {
  local before
  before=$(grep -c "reload (SIGHUP)" "$work/$1.log" || true)
  kill -HUP "${pid[$1]}"
  for _ in $(seq 1 100); do
    [ "$(grep -c "reload (SIGHUP)" "$work/$1.log" || true)" -gt "$before" ] && break; sleep 0.1
  done
  grep "reload (SIGHUP)" "$work/$1.log" | tail -n 1 | grep -q "$2" ||
    fail "$1: SIGHUP: $(grep "reload (SIGHUP)" "$work/$1.log" | tail -n 1), want $2"
}
lx() { local ns; [ "$1" = client ] && ns=$LA || ns=$LB; shift; ip netns exec "$ns" "$@"; }
listening() { # PORT
  for _ in $(seq 1 100); do lx server ss -Hltn "sport = :$1" | grep -q . && return 0; sleep 0.05; done
  fail "the server does not listen on $1"
}
# up TENANT: its channel carries flows at both sides
up() { until_ok a /strait/relay,$1 'v["channel"] == "up"' 60 &&
       until_ok b /strait/relay,$1 'v["channel"] == "up"' 60 || fail "$1's channel is not up again"; }
spi() { val a /strait/tunnel,acme 'v["spi_in"]' || fail "A's telemetry did not answer"; }
connects() { val a /strait/tunnel,acme 'v["channel"]["connects"]' || fail "A's telemetry did not answer"; }
active() { val a /strait/relay,acme 'v["active"]' || fail "A's telemetry did not answer"; }
# tunnel_again WHAT: WHAT changed at both (SIGHUP A, then B): acme's tunnel
# starts again (a new SPI) and comes up; its channel's connection and the
# paced flow are kept
tunnel_again() {
  local spi0
  spi0=$(spi)
  hup a "0 added, 0 removed, 1 changed"
  hup b "0 added, 0 removed, 1 changed"
  until_ok a /strait/tunnel,acme "v['state'] == 'up' and v['spi_in'] != '$spi0'" 60 ||
    fail "$1: acme's tunnel did not start again"
  up acme
  [ "$(connects)" = "$c0" ] || fail "$1 reconnected the channel ($c0 -> $(connects))"
  [ "$(active)" = 1 ] || fail "$1 reset the paced flow"
  say "ok: $1 at both: a new tunnel (SPI $spi0 -> $(spi)), the channel's connection and the flow kept"
}
# transfer PORT: 1 MiB through the appliances, byte-exact
transfer() {
  head -c $((1 << 20)) /dev/urandom > "$work/data"
  local want r
  want="$(sha256sum < "$work/data" | cut -d' ' -f1) $((1 << 20))"
  lx server python3 "$peer" sink $S "$1" 1 > "$work/sink" & bg+=($!)
  listening "$1"
  r=$(lx client timeout 120 python3 "$peer" send $S "$1" "$work/data" || true)
  [ "$r" = "$want" ] || fail "a transfer on $1: the server got '$r', want '$want'"
  wait "${bg[-1]}" || true
}

# 1. both up
both acme 7 5001
wan_start a; wan_start b
up acme
say "ok: acme's channel is up at both appliances"

# the client resolves the server across both bridges first (on a loaded
# machine an ARP request can go unanswered: "no route to host")
for _ in $(seq 1 30); do lx client ping -c 1 -W 1 $S > /dev/null 2>&1 && break; done
# a paced upload through acme's channel, alive across steps 2 and 3
lx server python3 "$here/paced.py" recv 5001 "$work/paced.srv" & bg+=($!)
listening 5001
lx client python3 "$here/paced.py" send $S 5001 300000 "$work/stop" 7 > "$work/paced.cli" & paced=$!
until_ok a /strait/relay,acme 'v["active"] == 1' 30 || fail "the paced flow is not optimized"
c0=$(connects)

# 2. a key rotated at both (the same file, a new key)
rm "$work/a/tenants/acme.key"
wan_key acme
tunnel_again "a key rotated"

# 3. the tunnel's timers
TIMEOUT=12s both acme 7 5001 "KeepaliveInterval = 500ms"
tunnel_again "PeerTimeout and KeepaliveInterval changed"
touch "$work/stop"
wait $paced || fail "the paced client failed"
for _ in $(seq 1 100); do [ -s "$work/paced.srv" ] && break; sleep 0.1; done
[ "$(cat "$work/paced.cli")" = "$(cat "$work/paced.srv")" ] ||
  fail "the paced upload: client $(cat "$work/paced.cli"), server $(cat "$work/paced.srv" 2>/dev/null)"
say "ok: the upload byte-exact across both reloads ($(cut -d' ' -f2 "$work/paced.cli") bytes)"

# 4. globex added
TIMEOUT=12s both acme 7 5001 "KeepaliveInterval = 500ms"
both globex 8 5006
hup a "1 added, 0 removed, 0 changed"
hup b "1 added, 0 removed, 0 changed"
up globex
transfer 5006
[ "$(val a /strait/relay,globex 'v["done"]')" -ge 1 ] || fail "the transfer on 5006 was not globex's"
say "ok: globex added at both: its tunnel and channel up, 1 MiB optimized byte-exact"

# 5. globex removed
rm "$work/a/tenants/globex.conf" "$work/b/tenants/globex.conf"
hup a "0 added, 1 removed, 0 changed"
hup b "0 added, 1 removed, 0 changed"
until_ok a /strait/tunnel "'globex' not in v['state'] and v['tenants'] == 1" 20 ||
  fail "globex's tunnel is still there"
tel a /strait/relay,globex | grep -q '"channel"' && fail "globex's relay is still there"
say "ok: globex removed at both: its tunnel and relay gone"

# 6. acme's cache
CACHE=32M TIMEOUT=12s both acme 7 5001 "KeepaliveInterval = 500ms"
hup a "0 added, 0 removed, 1 changed"
hup b "0 added, 0 removed, 1 changed"
until_ok a /strait/tunnel,acme "v['channel']['connects'] > $c0" 60 ||
  fail "acme's session did not start again for its new cache"
up acme
transfer 5001
say "ok: acme's CacheSize changed at both: its session started again, 1 MiB byte-exact after"

# 7. no room: bridged, never unanswered
i0=$(val a /strait/relay,acme 'v["intercepted"]') f0=$(val a /strait/relay,acme 'v["full"]')
lx server python3 "$many" serve $S 5001 24 120 > "$work/many.srv" & bg+=($!)
listening 5001
r=$(lx client timeout 150 python3 "$many" send $S 5001 24 65536 3 120 hold || true)
[ "$r" = "ok 24" ] || fail "24 flows at once: $r (server: $(cat "$work/many.srv"))"
wait "${bg[-1]}" || true
i1=$(val a /strait/relay,acme 'v["intercepted"]') f1=$(val a /strait/relay,acme 'v["full"]')
[ $((i1 - i0)) -ge 1 ] && [ $((i1 - i0)) -le 16 ] && [ $((i1 - i0 + f1 - f0)) -eq 24 ] ||
  fail "24 flows at once: $((i1 - i0)) optimized, $((f1 - f0)) bridged for no room"
transfer 5001
[ "$(val a /strait/relay,acme 'v["intercepted"]')" -gt "$i1" ] || fail "no flow optimized after the crowd"
say "ok: 24 flows at once with OptimizedFlows = 16: $((i1 - i0)) optimized, $((f1 - f0)) bridged (full), all byte-exact; then optimized again"

wan_stop a || fail "A's exit status"
wan_stop b || fail "B's exit status"
say "ok: both stopped"
