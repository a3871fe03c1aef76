#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Strait's main job end to end: a client at site 1 and a server at site 2,
# real Linux TCP at both ends, two straitd appliances between them, the
# tenant's streams terminated at A, deduplicated through its channel (TCP
# in ESP) and originated at B.
#
#   ns wla-N        ns wa-N (straitd A)                 ns wb-N (straitd B)          ns wlb-N
#  +---------+     +---------------------------+       +---------------------------+     +---------+
#  | client  |-----| walN (LAN)     wawN (WAN) |-------| wbwN (WAN)     wblN (LAN) |-----| server  |
#  | wlaN    |veth | net_af_packet0 .._packet1 | veth  | .._packet1 net_af_packet0 |veth | wlbN    |
#  | S.10    |     | 198.18.S.1     198.18.T.1 |       | 198.18.T.2     198.18.S.2 |     | S.20    |
#  +---------+     +---------------------------+       +---------------------------+     +---------+
#   (set up by wan-lib.sh) S = SUBNET (default 164), T = S + 1.
#   Tenant acme, Id 7, in both appliances: clients 198.18.S.10/32, servers
#   198.18.S.20/32, ports 5001, 5003, 5004 (A also 5002: B's copy of the
#   rule does not allow it), inner 169.254.7.1 (A, connects) - .2 (B).
#   CacheFile = acme.cache at both (each appliance's acme.cache.tx and
#   acme.cache.rx in its tenant folder). Port 5005 is no tenant's: bridged.
#   Also, for steps 4a and 4b: the LAN hosts on IPv6 (2001:2:0:S::10 and
#   ::20, the appliances' LAN ports ::1 and ::2), and on VLAN 30
#   (198.18.S.11 at the client, its frames at priority 5, and 198.18.S.21
#   at the server, tagged and untagged by tc BPF on wlaN and wlbN,
#   vlan_by_addr.bpf.c; Vlans = 0, 30).
#   The hosts hold static neighbour entries for each other's IPv4
#   addresses (as bench/wan-bench's do): the server never speaks first, so
#   B resolves it itself (ARP on the flow's VLAN) before its SYN leaves.
#   198.18.S.29 (in the rule) is nobody: B's ARP goes unanswered.
#
# Checks, in order:
#  1. Both up, the channel carries flows (/strait/relay,acme: up); B has
#     no neighbour entry for the server (it never sent anything).
#  2. Upload, MB MiB of random bytes, twice (cold, then warm cache): the
#     server's sha256 is the client's; the second pass costs less than a
#     tenth of the first in WAN bytes (A's WAN port); 1 byte too. B
#     resolved the server by ARP: its first SYN was held and sent
#     (held_sent), the server's entry learnt.
#  3. Download: the server sends MB MiB, the client's sha256 matches.
#  4. A bridged flow beside them (port 5005): byte-exact, not intercepted.
# 4a. IPv6 end to end: upload and download (512 KiB) byte-exact, optimized.
# 4b. VLAN 30, the client's frames at priority 5: an upload byte-exact,
#     optimized;
#     at the server's LAN every SYN that B sent (IPv4, IPv6, VLAN) comes
#     from B's own LAN MAC, never the client's (B takes no MAC from the
#     peer's OPEN), and the VLAN one is tagged 30 at priority 0 (only the
#     VLAN id of the OPEN's tag is used); B's ARP request for the VLAN 30
#     server went out tagged 30.
#  5. No listener at the server: the client gets a RST at once (refused).
# 5a. A server address nobody has (198.18.S.29): B's ARP requests go
#     unanswered; the client gets ICMP host unreachable (EHOSTUNREACH),
#     counted at B (unresolved).
#  6. The server's side rejects with ICMP host unreachable (nft): the client
#     gets the same (EHOSTUNREACH), counted at B and A.
#  7. Port 5002: A intercepts it, B's rule refuses the OPEN: RST at the
#     client, counted at B (refused_policy), the server never sees it.
#  8. The server's side drops SYNs: the client hears nothing (timeout).
#  9. B killed mid-transfer: the client's transfer ends with a reset (or an
#     error), never a clean end; the server never has a wrong byte; B
#     restarted: its decoder's cache file, torn by the kill, is discarded
#     with a message; a new flow is optimized again (a new epoch),
#     byte-exact.
# 10. Both appliances stopped and started again: each loads its cache
#     files, the HELLOs find equal states (continued_tx at A, continued_rx
#     at B), and the same upload as before costs <= 2 % of its bytes on the
#     WAN, byte-exact.
#
# 11. B restarted with another CacheSize (32M, A has 64M): both sides say
#     which field differs at HELLO (/strait/relay,acme "why"), the channel
#     carries no flow, and a new flow follows PeerDown (fail-closed: RST).
# 12. B restarted with CacheSize 64M again and CacheWindow 4M (A: the
#     default, 8M): refused at HELLO the same way; A restarted with 4M
#     too: the channel is up, an upload byte-exact.
#
#   [WORKERS=N] [SUBNET=S] [MB=N] relay-two-sites.sh STRAITD
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
straitd=$(readlink -f "${1:?straitd binary}")
n=$$
workers=${WORKERS:-1}
sub=${SUBNET:-164}
mb=${MB:-16}
. "$here/wan-lib.sh"
peer="$here/relay_peer.py"
bg=()
cleanup() {
  for p in "${bg[@]}"; do kill "$p" 2>/dev/null || true; done
  for ns in ${LA:-} ${LB:-}; do ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true; done
  wan_cleanup
  [ -n "${KEEP:-}" ] && cp -r "$work" /tmp/relay-e2e-kept
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for s in a b; do [ -f "$work/$s.log" ] && { echo "--- straitd $s" >&2; tail -n 20 "$work/$s.log" >&2; }; done
  for s in a b; do echo "--- relay $s: $(tel $s /strait/relay,acme)" >&2; done
  for s in a b; do echo "--- tunnel $s: $(tel $s /strait/tunnel,acme)" >&2; done
  for s in a b; do echo "--- ports $s: $(tel $s /strait/ports)" >&2; done
  exit 1
}
t0=$(date +%s)
say() { echo "[$(( $(date +%s) - t0 ))s] $*"; }

wan_setup
C=198.18.$sub.10 S=198.18.$sub.20 C6=2001:2:0:$sub::10 S6=2001:2:0:$sub::20
CV=198.18.$sub.11 SV=198.18.$sub.21 SN=198.18.$sub.29
# the appliances' LAN ports on IPv6 too (B reaches IPv6 servers as a LAN
# host: its own address, ND)
sed -i "s|^Address = 198.18.$sub.1/24|&\nAddress = 2001:2:0:$sub::1/64|" "$work/a/appliance.conf"
sed -i "s|^Address = 198.18.$sub.2/24|&\nAddress = 2001:2:0:$sub::2/64|" "$work/b/appliance.conf"
ip -n $LA addr add $C6/64 dev wla$n nodad
ip -n $LB addr add $S6/64 dev wlb$n nodad
# VLAN 30 between CV and SV (no 8021q module here: tc BPF tags the frames
# to SV at the client, at priority 5, and from SV at the server; untags
# what comes in)
ip -n $LA addr add $CV/24 dev wla$n
ip -n $LA route add $SV/32 dev wla$n src $CV
ip -n $LB addr add $SV/24 dev wlb$n
# static neighbours: no host ARPs for the other (B must, for the server)
cmac=$(ip -n $LA -br link show wla$n | awk '{print $3}')
smac=$(ip -n $LB -br link show wlb$n | awk '{print $3}')
for a in $S $SV $SN; do ip -n $LA neigh replace $a lladdr $smac dev wla$n nud permanent; done
for a in $C $CV; do ip -n $LB neigh replace $a lladdr $cmac dev wlb$n nud permanent; done
addr_le() { local IFS=.; set -- $1; printf '0x%02x%02x%02x%02x' "$4" "$3" "$2" "$1"; }
for l in "$LA wla$n 0 $((5 << 13 | 30))" "$LB wlb$n 1 30"; do
  set -- $l
  clang -O2 -target bpf -I/usr/include/"$(uname -m)"-linux-gnu -DADDR="$(addr_le $SV)" \
    -DDIR=$3 -DTCI=$4 -c "$here/vlan_by_addr.bpf.c" -o "$work/push-$2.o"
  clang -O2 -target bpf -I/usr/include/"$(uname -m)"-linux-gnu \
    -c "$here/../profile/vlan_tag.bpf.c" -o "$work/vlan_tag.o"
  ip netns exec $1 tc qdisc add dev $2 clsact
  ip netns exec $1 tc filter add dev $2 egress bpf da obj "$work/push-$2.o" sec push
  ip netns exec $1 tc filter add dev $2 ingress bpf da obj "$work/vlan_tag.o" sec pop
done
# tenant SIDE PORTS INNER PEER_INNER ENDPOINT
tenant() {
  local d="$work/$1/tenants"
  if [ ! -f "$work/a/tenants/acme.key" ]; then
    (umask 077; head -c 32 /dev/urandom | base64 > "$work/a/tenants/acme.key")
    cp -p "$work/a/tenants/acme.key" "$work/b/tenants/acme.key"
  fi
  cat > "$d/acme.conf" <<CONF
[Tenant]
Name = acme
Id = 7
KeyFile = acme.key
PeerDown = fail-closed
CacheSize = 64M
CacheFile = acme.cache
[Interception]
ClientPrefix = $C/32, $C6/128, $CV/32
ServerPrefix = $S/32, $S6/128, $SV/32, $SN/32
Ports = $2
Vlans = 0, 30
[Peer]
Endpoint = $5
InnerAddress = $3
PeerInnerAddress = $4
PeerTimeout = 3s
KeepaliveInterval = 300ms
CONF
}
tenant a "5001, 5002, 5003, 5004" 169.254.7.1 169.254.7.2 198.18.$wsub.2
tenant b "5001, 5003, 5004" 169.254.7.2 169.254.7.1 198.18.$wsub.1
"$straitd" -- -c "$work/a/appliance.conf" --check >/dev/null || fail "configuration A refused"
"$straitd" -- -c "$work/b/appliance.conf" --check >/dev/null || fail "configuration B refused"

lx() { local ns; [ "$1" = client ] && ns=$LA || ns=$LB; shift; ip netns exec "$ns" "$@"; }
listening() { # PORT
  for _ in $(seq 1 100); do lx server ss -Hltn "sport = :$1" | grep -q . && return 0; sleep 0.05; done
  fail "the server does not listen on $1"
}
wan_tx() { val a /strait/ports,wan 'v["tx_bytes"]' || fail "A's telemetry did not answer"; }
relay() { val "$1" /strait/relay,acme "v[\"$2\"]" || fail "$1's telemetry did not answer"; }
relay_up() { until_ok a /strait/relay,acme 'v["channel"] == "up"' "${1:-30}" &&
             until_ok b /strait/relay,acme 'v["channel"] == "up"' "${1:-30}"; }

# 1. both up
wan_start a; wan_start b
relay_up 60 || fail "the channel does not carry flows"
say "ok: the tenant's channel is up at both appliances"
lan_neigh() { tel b /strait/neighbours,lan; }
if grep -q "\"$S vlan" <<<"$(lan_neigh)"; then fail "B knew the server before it resolved it"; fi

head -c $((mb << 20)) /dev/urandom > "$work/data"
want="$(sha256sum < "$work/data" | cut -d' ' -f1) $((mb << 20))"
printf x > "$work/one"
want1="$(sha256sum < "$work/one" | cut -d' ' -f1) 1"

# 2. upload twice, 1 byte
lx server python3 "$peer" sink $S 5001 3 > "$work/sink" & bg+=($!)
listening 5001
w0=$(wan_tx); l0=$(relay a lan_bytes_in); s0=$(date +%s.%N)
r=$(lx client timeout 120 python3 "$peer" send $S 5001 "$work/data" || true)
[ "$r" = "$want" ] || fail "upload 1: the server got '$r', want '$want'"
w1=$(wan_tx); s1=$(date +%s.%N)
[ "$(val b /strait/ports,lan 'v["held_sent"]')" -ge 1 ] ||
  fail "B sent no SYN held for the server's ARP reply: $(tel b /strait/ports,lan)"
grep -q "\"$S vlan 0 $smac\"" <<<"$(lan_neigh)" || fail "B did not learn the server: $(lan_neigh)"
say "ok: B resolved the server (static neighbours at the hosts): its SYN held, then sent"

r=$(lx client timeout 120 python3 "$peer" send $S 5001 "$work/data" || true)
[ "$r" = "$want" ] || fail "upload 2: the server got '$r', want '$want'"
w2=$(wan_tx); l2=$(relay a lan_bytes_in); s2=$(date +%s.%N)
say "uploads took $(python3 -c "print('%.2f s, %.2f s' % ($s1 - $s0, $s2 - $s1))")"
r=$(lx client timeout 60 python3 "$peer" send $S 5001 "$work/one" || true)
[ "$r" = "$want1" ] || fail "upload of 1 byte: '$r'"
wait "${bg[-1]}"
cold=$((w1 - w0)) warm=$((w2 - w1))
say "ok: upload $mb MiB byte-exact twice: WAN bytes cold $cold, warm $warm (LAN $((l2 - l0)))"
[ "$warm" -lt $((cold / 10)) ] || fail "the second pass cost $warm WAN bytes, the first $cold"
[ "$cold" -gt $((mb << 20)) ] || fail "the first pass of random bytes cost only $cold WAN bytes"
say "ok: 1 byte byte-exact (flushed, not waiting for a chunk)"

# 3. download
lx server python3 "$peer" source $S 5003 "$work/data" > /dev/null & bg+=($!)
listening 5003
r=$(lx client timeout 120 python3 "$peer" fetch $S 5003 || true)
[ "$r" = "$want" ] || fail "download: the client got '$r', want '$want'"
wait "${bg[-1]}"
say "ok: download $mb MiB byte-exact"

# 4. a bridged flow beside the tenant's
i0=$(relay a intercepted)
lx server python3 "$peer" sink $S 5005 1 > /dev/null & bg+=($!)
listening 5005
r=$(lx client timeout 120 python3 "$peer" send $S 5005 "$work/one" || true)
[ "$r" = "$want1" ] || fail "bridged: '$r'"
[ "$(relay a intercepted)" = "$i0" ] || fail "port 5005 was intercepted"
say "ok: a flow outside the rule is bridged, byte-exact"

# 4a, 4b: capture the LAN sides (the server's SYNs and tags), then IPv6
# and VLAN 30 flows
for l in "$LA wla$n client" "$LB wlb$n server"; do
  set -- $l
  ip netns exec $1 tcpdump --immediate-mode -U -s 96 -i $2 -w "$work/$3.pcap" \
    'tcp or arp or (vlan and (tcp or arp))' 2>/dev/null & bg+=($!)
done
cap=("${bg[-2]}" "${bg[-1]}")
for _ in $(seq 1 100); do # capturing once each file has its header
  [ -s "$work/client.pcap" ] && [ -s "$work/server.pcap" ] && break; sleep 0.1
done
head -c $((512 << 10)) /dev/urandom > "$work/half"
wanth="$(sha256sum < "$work/half" | cut -d' ' -f1) $((512 << 10))"
# half WHAT PORT ADDR SERVER-MODE SERVER-ARG CLIENT-MODE [CLIENT-ARG]: the
# 512 KiB file one way, byte-exact
half() {
  lx server python3 "$peer" $4 $3 $2 "$5" > /dev/null & bg+=($!)
  listening $2
  r=$(lx client timeout 120 python3 "$peer" $6 $3 $2 ${7:+"$7"} || true)
  [ "$r" = "$wanth" ] || fail "$1: '$r', want '$wanth'"
  wait "${bg[-1]}"
}
i0=$(relay a intercepted)
half "IPv6 upload" 5001 $S6 sink 1 send "$work/half"
half "IPv6 download" 5003 $S6 source "$work/half" fetch
[ "$(relay a intercepted)" -ge $((i0 + 2)) ] || fail "the IPv6 flows were not optimized"
say "ok: IPv6 end to end: upload and download 512 KiB byte-exact, optimized"
i0=$(relay a intercepted)
half "VLAN 30 upload" 5001 $SV sink 1 send "$work/half"
[ "$(relay a intercepted)" -gt "$i0" ] || fail "the VLAN 30 flow was not optimized"
sleep 1
kill -INT "${cap[@]}" 2>/dev/null || true
wait "${cap[@]}" 2>/dev/null || true
bmac=$(ip -n $B -br link show wbl$n | awk '{print $3}')
syns() { # pcap: "src-MAC vlan-id priority" of each SYN (no ACK)
  tshark -r "$1" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' -T fields \
    -e eth.src -e vlan.id -e vlan.priority -e ip.src -e ipv6.src 2>/dev/null
}
cs=$(syns "$work/client.pcap") ss=$(syns "$work/server.pcap")
grep -q "$(printf '%s\t30\t5' "$cmac")" <<<"$cs" ||
  fail "the client's VLAN 30 SYN was not at priority 5: $cs"
[ "$(grep -c . <<<"$ss")" -ge 3 ] || fail "the server's side saw too few SYNs: $ss"
if grep -qv "^$bmac" <<<"$ss"; then fail "a SYN at the server's side not from B's MAC $bmac: $ss"; fi
grep -q "$(printf '%s\t30\t0' "$bmac")" <<<"$ss" ||
  fail "B's VLAN 30 SYN not tagged 30 at priority 0: $ss"
grep -q "$C6" <<<"$ss" || fail "no IPv6 SYN from B at the server's side: $ss"
arps=$(tshark -r "$work/server.pcap" -Y "arp.opcode == 1 && arp.dst.proto_ipv4 == $SV" -T fields \
  -e eth.src -e vlan.id 2>/dev/null)
grep -q "$(printf '%s\t30' "$bmac")" <<<"$arps" || fail "B's ARP request for $SV not tagged 30: '$arps'"
say "ok: VLAN 30 byte-exact, optimized; B's SYNs from its own MAC, the tag 30 at priority 0 (the client's: 5); its ARP tagged 30"

# 5. no listener: RST
r=$(lx client timeout 30 python3 "$peer" connect $S 5004 10 || true)
# the RST answers the client's first SYN, or (ASan on a loaded machine: the
# round trip through both appliances took over a second) its retransmission
case $r in refused|"refused late") ;; *) fail "no listener: the client got '$r', not a RST";; esac
say "ok: no listener at the server: the client's SYN gets a RST"

# 5a. nobody at the server's address: host unreachable from B
r=$(lx client timeout 30 python3 "$peer" connect $SN 5001 15 || true)
[ "$r" = unreachable ] || fail "nobody at $SN: the client got '$r', not host unreachable"
[ "$(relay b unresolved)" -ge 1 ] || fail "B did not count the unresolved open"
[ "$(val b /strait/ports,lan 'v["unresolved"]')" -ge 1 ] || fail "B's LAN port did not count it"
say "ok: a server that never answers ARP: the client gets host unreachable (from B), counted"

# 6. ICMP host unreachable from the server's side
lx server nft -f - <<NFT
table ip relaytest {
  chain input {
    type filter hook input priority 0;
    tcp dport 5004 reject with icmp type host-unreachable
  }
}
NFT
u0=$(relay b unreachable_in)
r=$(lx client timeout 30 python3 "$peer" connect $S 5004 10 || true)
[ "$r" = unreachable ] || fail "ICMP: the client got '$r', not host unreachable"
[ "$(relay b unreachable_in)" -gt "$u0" ] || fail "B did not count the ICMP"
[ "$(relay a unreachable_out)" -ge 1 ] || fail "A did not count the ICMP it sent"
say "ok: ICMP host unreachable at the server's side reaches the client as the same"

# 7. the OPEN outside B's rule
lx server python3 "$peer" sink $S 5002 1 5 5 > "$work/sink2" & p2=$!; bg+=($p2)
listening 5002
pol0=$(relay b refused_policy)
r=$(lx client timeout 30 python3 "$peer" connect $S 5002 10 || true)
case $r in refused|"refused late") ;; *) fail "port 5002: the client got '$r', not a RST";; esac
[ "$(relay b refused_policy)" -gt "$pol0" ] || fail "B did not count the refused OPEN"
wait $p2 || true
[ "$(cat "$work/sink2")" = "no connection" ] || fail "the server saw a connection on 5002"
say "ok: an OPEN outside B's own rule is refused (RST at the client), counted"

# 8. silence
lx server nft add rule ip relaytest input tcp dport 5003 drop
r=$(lx client timeout 30 python3 "$peer" connect $S 5003 3 || true)
[ "$r" = timeout ] || fail "a silent server: the client got '$r'"
lx server nft delete table ip relaytest
say "ok: a silent server is silence at the client"

# 9. B killed mid-transfer
big=$((mb * 4))
head -c $((big << 20)) /dev/urandom > "$work/big"
# the server stalls after MB MiB (so the transfer cannot end first), B
# is killed once it delivered them
RELAY_PEER_PAUSE=$((mb << 20)):20 lx server python3 "$peer" sink $S 5001 1 5 > "$work/sink3" &
p3=$!; bg+=($p3)
listening 5001
lx client timeout 120 python3 "$peer" send $S 5001 "$work/big" > "$work/client3" & pc=$!
for _ in $(seq 1 300); do [ "$(relay b lan_bytes_out)" -ge $((mb << 20)) ] 2>/dev/null && break; sleep 0.1; done
wan_stop b KILL || true
wait $pc || true
r=$(cat "$work/client3")
case $r in reset|error*) ;; *) fail "B killed: the client's transfer ended '$r'";; esac
wait $p3 || true
# whatever the server read (to an idle timeout: B is gone) is a prefix of
# what the client sent
got=$(cat "$work/sink3"); len=${got##* }; sha=${got% *}; sha=${sha##* }
[ "$len" -lt $((big << 20)) ] || fail "B killed: the server got every byte ('$got')"
[ "$(head -c "$len" "$work/big" | sha256sum | cut -d' ' -f1)" = "$sha" ] ||
  fail "B killed: the server's $len bytes are not the client's ('$got')"
say "ok: B killed mid-transfer: the client's transfer failed ($r), the server holds no wrong byte"
until_ok a /strait/relay,acme 'v["channel"] == "down"' 20 || fail "A still says up"
r=$(lx client timeout 30 python3 "$peer" connect $S 5001 5 || true)
[ "$r" = refused ] || fail "peer down, fail-closed: the client got '$r'"
# from here (a reconnection earlier, both logs whole, may continue)
ct0=$(relay a continued_tx)
wan_start b
relay_up 60 || fail "the channel did not come back"
lx server python3 "$peer" sink $S 5001 1 > /dev/null & bg+=($!)
listening 5001
i0=$(relay a intercepted)
r=$(lx client timeout 120 python3 "$peer" send $S 5001 "$work/data" || true)
[ "$r" = "$want" ] || fail "after B's restart: '$r'"
[ "$(relay a intercepted)" -gt "$i0" ] || fail "after B's restart the flow was not optimized"
grep -q "tenant acme: cache file .*acme.cache.rx: discarded: " "$work/b.log" ||
  fail "B's decoder cache file, torn by the kill, was not discarded with a message"
[ "$(relay a continued_tx)" = "$ct0" ] || fail "A continued a log B's torn file cannot hold"
say "ok: B restarted: its torn cache file discarded (said), a new epoch; new flows optimized again, byte-exact"

# 10. both restarted: the caches continue from their files
wan_stop a || fail "A exited $?"
wan_stop b || fail "B exited $?"
wan_start a; wan_start b
relay_up 60 || fail "the channel did not come back after both restarts"
for s in a b; do
  [ "$(grep -c "tenant acme: cache file .*acme.cache.[rt]x: loaded: " "$work/$s.log")" -ge 2 ] ||
    fail "$s did not load its cache files"
done
[ "$(relay a continued_tx)" = 1 ] && [ "$(relay b continued_rx)" = 1 ] ||
  fail "the A->B log did not continue (A continued_tx $(relay a continued_tx), B continued_rx $(relay b continued_rx))"
lx server python3 "$peer" sink $S 5001 1 > /dev/null & bg+=($!)
listening 5001
w0=$(wan_tx) e0=$(relay a wan_bytes_out)
r=$(lx client timeout 120 python3 "$peer" send $S 5001 "$work/data" || true)
[ "$r" = "$want" ] || fail "after both restarts: '$r'"
w1=$(wan_tx) e1=$(relay a wan_bytes_out)
say "ok: after both restarts the upload of $mb MiB cost $((e1 - e0)) channel bytes ($((w1 - w0)) on the WAN port, with ESP and the channel's retransmissions), byte-exact"
# the log's continuation is what the channel sends (the port's bytes add
# the channel TCP's retransmissions, which grow with the machine's load)
[ $((e1 - e0)) -le $(((mb << 20) / 50)) ] || fail "after both restarts: $((e1 - e0)) channel bytes > 2 %"

# B restarted with its tenant file edited by sed's SCRIPT: both sides must
# say at HELLO that KEY differs.
hello_refused() { # KEY SCRIPT
  local s
  wan_stop b || fail "B exited $?"
  sed -i "$2" "$work/b/tenants/acme.conf"
  wan_start b
  for s in a b; do
    until_ok $s /strait/relay,acme "v['channel'] == 'down' and '$1' in v['why'] and
      'both appliances must agree' in v['why']" 60 || fail "$s: a $1 mismatch not said at HELLO"
  done
  echo "   a: $(val a /strait/relay,acme 'v["why"]')"
}

# 11. CacheSize differs: refused at HELLO, said clearly, PeerDown
hello_refused CacheSize 's/^CacheSize = 64M$/CacheSize = 32M/'
until_ok a /strait/tunnel,acme 'v["state"] == "up" and v["channel"]["state"] == "up"' 5 \
  || fail "the tunnel and the channel's TCP should be up (only the relay refuses)"
r=$(lx client timeout 30 python3 "$peer" connect $S 5001 5 || true)
[ "$r" = refused ] || fail "CacheSize mismatch, fail-closed: the client got '$r'"
say "ok: CacheSize 64M against 32M refused at HELLO, said at both sides; new flows follow PeerDown"

# 12. CacheWindow: B with 4M (the default for 64M is 8M) is refused at
#     HELLO the same way; A with 4M too: the channel carries flows again
hello_refused CacheWindow 's/^CacheSize = 32M$/CacheSize = 64M\nCacheWindow = 4M/'
wan_stop a || fail "A exited $?"
sed -i 's/^CacheSize = 64M$/CacheSize = 64M\nCacheWindow = 4M/' "$work/a/tenants/acme.conf"
wan_start a
relay_up 60 || fail "the channel did not come up with CacheWindow 4M at both"
lx server python3 "$peer" sink $S 5001 1 > /dev/null & bg+=($!)
listening 5001
r=$(lx client timeout 120 python3 "$peer" send $S 5001 "$work/data" || true)
[ "$r" = "$want" ] || fail "with CacheWindow 4M at both: '$r'"
say "ok: CacheWindow 4M against the default 8M refused at HELLO, said at both sides; 4M at both: byte-exact"

wan_stop a || fail "A exited $?"
wan_stop b || fail "B exited $?"
say "ok: both exit 0"
