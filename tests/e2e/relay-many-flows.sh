#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The main job under load: many flows of one tenant at once through two
# straitd appliances, a server that stops reading, a large upload; real
# Linux TCP at both ends.
#
#   ns wla-N        ns wa-N (straitd A)                 ns wb-N (straitd B)          ns wlb-N
#  +---------+     +---------------------------+       +---------------------------+     +---------+
#  | client  |-----| walN (LAN)     wawN (WAN) |-------| wbwN (WAN)     wblN (LAN) |-----| server  |
#  | wlaN    |veth | net_af_packet0 .._packet1 | veth  | .._packet1 net_af_packet0 |veth | wlbN    |
#  | S.10    |     | 198.18.S.1     198.18.T.1 |       | 198.18.T.2     198.18.S.2 |     | S.20    |
#  +---------+     +---------------------------+       +---------------------------+     +---------+
#   (set up by wan-lib.sh) S = SUBNET (default 192), T = S + 1.
#   Tenant acme, Id 7: clients 198.18.S.10/32, servers 198.18.S.20/32,
#   ports 5001 and 5003 intercepted; 5005 is no tenant's (bridged).
#   IMPAIR=SPEC starts both appliances with --tcp-impair SPEC: the
#   channel's TCP (and the appliances' LAN TCP) drop, duplicate and
#   reorder segments, and every check below must hold all the same.
#   CORRUPT=N starts B with --corrupt-records N: its decoder fails the
#   checks of the first N DATA frames (during step 2's flows), B asks for
#   RESYNC, A resends from the raw bytes it kept: every flow byte-exact.
#
# Checks, in order:
#  1. Both up, the channel carries flows.
#  2. FLOWS (default 200) concurrent flows on one channel, FLOW_KB each
#     (half of every flow's bytes shared with the others), beside a
#     bridged 4 MiB flow: every flow byte-exact at the server, the bridged
#     one too; A counted FLOWS interceptions, and once they end no flow is
#     left active at either appliance, no raw byte held, no memory grown.
#  3. A server that stops reading (port 5003, 32 MiB sent to it; it stops
#     after 1 MiB for 30 s) while
#     another flow of the tenant (5001, MB MiB) completes byte-exact: the
#     stalled flow is still open when it does; A counts credit stalls; the
#     stalled flow then completes byte-exact.
#  4. BIG_MB MiB (default 0: skipped) uploaded, byte-exact.
#  With IMPAIR: both appliances' knob counters show drops, and the
#  channel retransmitted. With CORRUPT: B asked for RESYNC, A resent.
#
#   [WORKERS=N] [SUBNET=S] [FLOWS=N] [FLOW_KB=N] [MB=N] [BIG_MB=N] [IMPAIR=SPEC] [CORRUPT=N]
#   relay-many-flows.sh STRAITD
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
straitd=$(readlink -f "${1:?straitd binary}")
n=$$
workers=${WORKERS:-1}
sub=${SUBNET:-192}
flows=${FLOWS:-200}
flow_kb=${FLOW_KB:-256}
mb=${MB:-16}
big_mb=${BIG_MB:-0}
. "$here/wan-lib.sh"
peer="$here/relay_peer.py"
many="$here/relay_many.py"
bg=()
cleanup() {
  for p in "${bg[@]}"; do kill "$p" 2>/dev/null || true; done
  for ns in ${LA:-} ${LB:-}; do ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true; done
  wan_cleanup
  [ -n "${KEEP:-}" ] && cp -r "$work" /tmp/relay-many-kept
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for s in a b; do [ -f "$work/$s.log" ] && { echo "--- straitd $s" >&2; tail -n 20 "$work/$s.log" >&2; }; done
  for s in a b; do echo "--- relay $s: $(tel $s /strait/relay,acme)" >&2; done
  for s in a b; do for c in /strait/drops /strait/flows /strait/ports /strait/tcp; do
    echo "--- $s $c: $(tel $s $c)" >&2; done; done
  lx client ss -tnio >&2 || true
  exit 1
}
t0=$(date +%s)
say() { echo "[$(( $(date +%s) - t0 ))s] $*"; }

wan_setup
C=198.18.$sub.10 S=198.18.$sub.20
for s in a b; do
  if [ $s = a ]; then inner=169.254.7.1 peer_inner=169.254.7.2 ep=198.18.$wsub.2
  else inner=169.254.7.2 peer_inner=169.254.7.1 ep=198.18.$wsub.1; fi
  wan_key acme
  cat > "$work/$s/tenants/acme.conf" <<CONF
[Tenant]
Name = acme
Id = 7
KeyFile = acme.key
PeerDown = fail-closed
CacheSize = 64M
[Interception]
ClientPrefix = $C/32
ServerPrefix = $S/32
Ports = 5001, 5003
[Peer]
Endpoint = $ep
InnerAddress = $inner
PeerInnerAddress = $peer_inner
PeerTimeout = 5s
KeepaliveInterval = 300ms
CONF
  "$straitd" -- -c "$work/$s/appliance.conf" --check >/dev/null || fail "configuration $s refused"
done

lx() { local ns; [ "$1" = client ] && ns=$LA || ns=$LB; shift; ip netns exec "$ns" "$@"; }
listening() { # PORT
  for _ in $(seq 1 100); do lx server ss -Hltn "sport = :$1" | grep -q . && return 0; sleep 0.05; done
  fail "the server does not listen on $1"
}
relay() { val "$1" /strait/relay,acme "v[\"$2\"]" || fail "$1's telemetry did not answer"; }
impair=()
[ -n "${IMPAIR:-}" ] && impair=(--tcp-impair "$IMPAIR")

# 1. both up
corrupt=()
[ -n "${CORRUPT:-}" ] && corrupt=(--corrupt-records "$CORRUPT")
wan_start a "${impair[@]}"; wan_start b "${impair[@]}" "${corrupt[@]}"
for s in a b; do
  until_ok $s /strait/relay,acme 'v["channel"] == "up"' 60 || fail "$s: the channel does not carry flows"
done
say "ok: the tenant's channel is up at both appliances${IMPAIR:+ (knob: $IMPAIR)}"
mem0=$(relay a memory)

# 2. many flows at once, a bridged one beside them
head -c $((4 << 20)) /dev/urandom > "$work/bridged"
want_b="$(sha256sum < "$work/bridged" | cut -d' ' -f1) $((4 << 20))"
i0=$(relay a intercepted)
lx server python3 "$many" serve $S 5001 "$flows" 240 > "$work/served" & ps=$!; bg+=($ps)
lx server python3 "$peer" sink $S 5005 1 > /dev/null & pb=$!; bg+=($pb)
listening 5001; listening 5005
lx client python3 "$peer" send $S 5005 "$work/bridged" > "$work/bridged.out" & pbc=$!
r=$(lx client python3 "$many" send $S 5001 "$flows" $((flow_kb << 10)) 7 240 || true)
[ "$r" = "ok $flows" ] || fail "$flows flows: $r"
wait $ps || true
[ "$(cat "$work/served")" = "served $flows" ] || fail "the server: $(cat "$work/served")"
wait $pbc || true
[ "$(cat "$work/bridged.out")" = "$want_b" ] || fail "the bridged flow: $(cat "$work/bridged.out")"
wait $pb || true
[ "$(relay a intercepted)" -ge $((i0 + flows)) ] || fail "A intercepted $(( $(relay a intercepted) - i0 )) of $flows"
for s in a b; do
  until_ok $s /strait/relay,acme 'v["active"] == 0 and v["raw_held"] == 0' 30 ||
    fail "$s: flows or raw bytes left after every flow ended"
done
say "ok: $flows flows of $flow_kb KiB at once byte-exact, a bridged one beside them; none left active"
if [ -n "${CORRUPT:-}" ]; then
  [ "$(relay b resyncs_asked)" -ge 1 ] || fail "B's decoder failed checks but asked no RESYNC"
  [ "$(relay a resyncs_done)" -ge 1 ] && [ "$(relay a resent_bytes)" -gt 0 ] ||
    fail "A did not resend after B's RESYNC"
  say "ok: B's injected check failures: RESYNC asked $(relay b resyncs_asked), A resent $(relay a resent_bytes) bytes; every flow byte-exact"
fi
echo "   a: $(val a /strait/relay,acme '{k: v[k] for k in ("intercepted", "done", "cache_hits", "reduction", "memory", "flow_errors", "resyncs_asked")}')"

# 3. a server that stops reading; another flow of the tenant goes on
head -c $((mb << 20)) /dev/urandom > "$work/data"
want="$(sha256sum < "$work/data" | cut -d' ' -f1) $((mb << 20))"
# 32 MiB: more than every buffer on its way holds (the server's socket,
# B's send queue and out ring, A's raw ring), so A must stop on credit
head -c $((32 << 20)) /dev/urandom > "$work/slow"
want_s="$(sha256sum < "$work/slow" | cut -d' ' -f1) $((32 << 20))"
cs0=$(relay a credit_stalls)
RELAY_PEER_PAUSE=$((1 << 20)):30 lx server python3 "$peer" sink $S 5003 1 60 > "$work/sink-slow" & pss=$!; bg+=($pss)
lx server python3 "$peer" sink $S 5001 1 > /dev/null & pf=$!; bg+=($pf)
listening 5003; listening 5001
lx client timeout 120 python3 "$peer" send $S 5003 "$work/slow" > "$work/slow.out" & psc=$!
for _ in $(seq 1 200); do [ "$(relay b lan_bytes_out)" -ge $((1 << 20)) ] 2>/dev/null && break; sleep 0.1; done
s0=$(date +%s.%N)
r=$(lx client timeout 120 python3 "$peer" send $S 5001 "$work/data" || true)
s1=$(date +%s.%N)
[ "$r" = "$want" ] || fail "the flow beside a stalled server: '$r', want '$want'"
kill -0 $psc 2>/dev/null || fail "the stalled flow ended before the other did: '$(cat "$work/slow.out")'"
say "ok: $mb MiB byte-exact in $(python3 -c "print('%.2f' % ($s1 - $s0))") s while another flow's server stopped reading"
wait $psc || true
[ "$(cat "$work/slow.out")" = "$want_s" ] || fail "the stalled flow: '$(cat "$work/slow.out")', want '$want_s'"
wait $pss || true
wait $pf || true
[ "$(relay a credit_stalls)" -gt "$cs0" ] || fail "A counted no credit stall for the stalled server"
say "ok: the stalled flow completed byte-exact once its server read again; A counted $(( $(relay a credit_stalls) - cs0 )) credit stalls"

# 4. a large upload
if [ "$big_mb" -gt 0 ]; then
  head -c $((big_mb << 20)) /dev/urandom > "$work/big"
  want_big="$(sha256sum < "$work/big" | cut -d' ' -f1) $((big_mb << 20))"
  lx server python3 "$peer" sink $S 5001 1 > /dev/null & pf=$!; bg+=($pf)
  listening 5001
  s0=$(date +%s.%N)
  lx client timeout 600 python3 "$peer" send $S 5001 "$work/big" > "$work/big.out" & pc=$!
  # progress every 10 s; a transfer that stops moving for 10 s: what
  # each end holds, once
  last=-1 still=0 tick=0
  while kill -0 $pc 2>/dev/null; do
    sleep 1
    cur=$(relay a lan_bytes_in)
    tick=$((tick + 1))
    if [ $((tick % 10)) = 0 ]; then
      echo "   ${tick}s: A's lan_bytes_in $cur; client: $(lx client ss -tni "dport = :5001" | tail -n 1 | grep -oE "(cwnd|rtt|snd_wnd|retrans|lost|pacing_rate|delivery_rate|busy|rwnd_limited|sndbuf_limited):[^ ]*" | tr '\n' ' ')"
    fi
    if [ "$cur" = "$last" ]; then still=$((still + 1)); else still=0 last=$cur; fi
    if [ $still = 10 ]; then
      echo "   stalled at A's lan_bytes_in $cur: the client's socket, A's and B's connections:" >&2
      lx client ss -tnio "dport = :5001" >&2 || true
      for s in a b; do echo "   $s /strait/tcp/conns: $(tel $s /strait/tcp/conns)" >&2
        echo "   $s /strait/relay: $(tel $s /strait/relay,acme)" >&2; done
    fi
  done
  wait $pc || true
  r=$(cat "$work/big.out")
  s1=$(date +%s.%N)
  [ "$r" = "$want_big" ] || fail "$big_mb MiB: '$r', want '$want_big'"
  wait $pf || true
  rm -f "$work/big"
  say "ok: $big_mb MiB byte-exact in $(python3 -c "print('%.1f s, %.0f Mbit/s' % ($s1 - $s0, $big_mb * 8.388608 / ($s1 - $s0)))")"
fi

for s in a b; do
  until_ok $s /strait/relay,acme 'v["active"] == 0 and v["raw_held"] == 0' 30 || fail "$s: flows left at the end"
  [ "$(relay $s flow_errors)" = 0 ] || fail "$s: flow errors"
done
mem1=$(relay a memory)
[ "$mem1" -le "$mem0" ] || fail "A's relay memory grew from $mem0 to $mem1 bytes"
if [ -n "${IMPAIR:-}" ]; then
  for s in a b; do
    until_ok $s /strait/tunnel 'v["channel_stack"]["impair"]["dropped_rx"] + v["channel_stack"]["impair"]["dropped_tx"] > 0' 5 ||
      fail "$s: the knob dropped no channel segment"
    r=$(val $s /strait/tunnel,acme 'v["channel"]["retrans_segs"]') || fail "$s: no channel telemetry"
    echo "   $s: channel knob $(val $s /strait/tunnel 'v["channel_stack"]["impair"]'), retransmitted $r segments"
  done
  [ "$(val a /strait/tunnel,acme 'v["channel"]["retrans_segs"]')" -gt 0 ] || fail "A's channel never retransmitted"
fi
wan_stop a || fail "A exited $?"
wan_stop b || fail "B exited $?"
say "ok: both exit 0"
