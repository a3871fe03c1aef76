#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# strait-profile on a real capture of known transfers, with the losses a
# real capture holds.
#
#   ns pfc-N (client, tcpdump)                     ns pfs-N (server)
#  +---------------------------+                 +---------------------------+
#  | pvcN       198.18.30.1/24 |  veth, untagged | pvsN       198.18.30.2/24 |
#  |            2001:2:30::1   |-----------------|            2001:2:30::2   |
#  | pwcN       198.18.31.1/24 |  veth, VLAN 30  | pwsN       198.18.31.2/24 |
#  |                           |-----------------|                           |
#  | tbf 100mbit, 24 KB queue  |                 | tbf 100mbit, 24 KB queue  |
#  | nft: drop 2 % of input    |                 | nft: drop 2 % of input    |
#  +---------------------------+                 +---------------------------+
#   tcpdump -i pvcN, tcpdump -i pwcN (Ethernet: two captures, one timeline)
#   and tcpdump -i any (Linux cooked SLL2)
#
# VLAN 30: this kernel has no 8021q module (nor bridges, nor tc's vlan
# action), so tc BPF programs (tests/profile/vlan_tag.bpf.c) tag each
# frame leaving pwcN/pwsN and untag it on arrival: the wire, and so the
# capture, carries real 802.1Q tags.
#
# The losses, and where the capture sees them: each sender's tbf drops on
# its tiny queue before the capture point (AF_PACKET taps transmitted frames
# after the qdisc), so the client's capture holds the server's segments out
# of order (a hole, later filled by the retransmission) and never the
# client's dropped ones; each receiver's nft rule drops 2 % of the TCP
# segments after the capture point (AF_PACKET taps received frames before
# netfilter), so the capture holds the original and its retransmission.
#
# Transfers, one after another, both directions each: IPv4 (port 873),
# IPv6 (874, the same upload again: the codec's cache must find it), IPv4
# on port 22 (not selected), then IPv4 over VLAN 30 (875).
# Checks on both captures: every reassembled direction's sha256 equals what
# was sent, no gaps, retransmissions and reordering seen; on the Ethernet
# one: the VLAN, and the estimate per direction equals strait-dedupe encode
# of the same bytes, in the same order, within 1 %. Then the captures are
# edited (tests/profile/edited_capture.py): segments removed (gaps at their
# exact offsets, never filled) and a cut after the handshake (mid-stream).
#
#   profile-capture.sh STRAIT_PROFILE STRAIT_DEDUPE
set -euo pipefail
PROFILE=$(readlink -f "$1")
DEDUPE=$(readlink -f "$2")
HERE=$(dirname "$(readlink -f "$0")")
TRANSFER=$HERE/../profile/transfer.py
N=$$
CLI=pfc-$N SRV=pfs-$N VC=pvc$N VS=pvs$N WC=pwc$N WS=pws$N
WORK=$(mktemp -d /tmp/profile-capture-XXXXXX)
PIDS=()

cleanup() {
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for ns in $CLI $SRV; do ip netns pids $ns 2>/dev/null | xargs -r kill 2>/dev/null; ip netns del $ns 2>/dev/null; done
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

clang -O2 -target bpf -I/usr/include/"$(uname -m)"-linux-gnu \
  -c "$HERE/../profile/vlan_tag.bpf.c" -o "$WORK/vlan_tag.o"
ip netns add $CLI
ip netns add $SRV
ip link add $VC type veth peer name $VS
ip link add $WC type veth peer name $WS
ip link set $VC netns $CLI
ip link set $WC netns $CLI
ip link set $VS netns $SRV
ip link set $WS netns $SRV
for side in "$CLI $VC $WC 1" "$SRV $VS $WS 2"; do
  set -- $side
  ns=$1 dev=$2 vdev=$3 h=$4
  ip -n $ns link set lo up
  ip -n $ns addr add 198.18.30.$h/24 dev $dev
  ip -n $ns -6 addr add 2001:2:30::$h/64 dev $dev nodad
  ip -n $ns addr add 198.18.31.$h/24 dev $vdev
  for d in $dev $vdev; do
    ip -n $ns link set $d up
    ip netns exec $ns ethtool -K $d tx off tso off gso off gro off >/dev/null 2>&1 || true
    ip netns exec $ns tc qdisc add dev $d root tbf rate 100mbit burst 16kb limit 24kb
  done
  ip netns exec $ns tc qdisc add dev $vdev clsact
  ip netns exec $ns tc filter add dev $vdev egress bpf da obj "$WORK/vlan_tag.o" sec push
  ip netns exec $ns tc filter add dev $vdev ingress bpf da obj "$WORK/vlan_tag.o" sec pop
  ip netns exec $ns nft add table inet profdrop
  ip netns exec $ns nft add chain inet profdrop in '{ type filter hook input priority 0; }'
  ip netns exec $ns nft add rule inet profdrop in tcp flags != syn numgen random mod 100 '<' 2 drop
done

for cap in "eth-a $VC" "eth-b $WC" "any any"; do
  set -- $cap
  ip netns exec $CLI tcpdump -i $2 -s 0 -B 65536 --immediate-mode -U -w "$WORK/$1.pcap" 2>"$WORK/tcpdump-$1.log" &
  PIDS+=($!)
done
for _ in $(seq 100); do
  [ "$(grep -l listening "$WORK"/tcpdump-*.log | wc -l)" = 3 ] && break
  sleep 0.1
done

# transfer SERVER_ADDR PORT UP DOWN SEED
transfer() {
  ip netns exec $SRV python3 "$TRANSFER" serve "$1" "$2" "$3" "$4" "$5" "$WORK" &
  local srv=$!
  for _ in $(seq 100); do [ -e "$WORK/listening-$2" ] && break; sleep 0.1; done
  timeout 120 ip netns exec $CLI python3 "$TRANSFER" send "$1" "$2" "$3" "$4" "$5" "$WORK"
  wait $srv
  [ "$(cat "$WORK/recv-$2")" = "$(sha256sum < "$WORK/up-$2" | cut -d' ' -f1)" ] || { echo "FAIL: port $2: the server got other bytes"; exit 1; }
  [ "$(cat "$WORK/got-$2")" = "$(sha256sum < "$WORK/down-$2" | cut -d' ' -f1)" ] || { echo "FAIL: port $2: the client got other bytes"; exit 1; }
}
transfer 198.18.30.2 873 3000000 1000000 1
transfer 2001:2:30::2 874 3000000 500000 1
transfer 198.18.30.2 22 250000 10000 5
transfer 198.18.31.2 875 2000000 250000 3
# tcpdump must have written every frame before it is stopped: SIGINT drops
# what it has not read from its ring yet (on a loaded machine, the last
# transfer's tail). Wait until no capture file has grown for 1 s (30 s at
# most).
sizes() { stat -c %s "$WORK"/eth-a.pcap "$WORK"/eth-b.pcap "$WORK"/any.pcap | tr '\n' ' '; }
last=$(sizes) still=0
for _ in $(seq 150); do
  sleep 0.2
  now=$(sizes)
  if [ "$now" = "$last" ]; then still=$((still + 1)); else still=0 last=$now; fi
  [ $still -ge 5 ] && break
done
for p in "${PIDS[@]}"; do kill -INT "$p"; wait "$p" || true; done
PIDS=()
cat "$WORK"/tcpdump-*.log | grep -E "captured|dropped" || true
if grep -qE "^[1-9][0-9]* packets dropped by kernel" "$WORK"/tcpdump-*.log; then
  echo "FAIL: tcpdump dropped packets: the capture is not complete"
  exit 1
fi

"$DEDUPE" encode --stats "$WORK/c2s.json" "$WORK/up-873" "$WORK/up-874" "$WORK/up-875" > /dev/null
"$DEDUPE" encode --stats "$WORK/s2c.json" "$WORK/down-873" "$WORK/down-874" "$WORK/down-875" > /dev/null
for cap in "eth eth-a.pcap eth-b.pcap" "any any.pcap"; do
  set -- $cap
  name=$1
  shift
  (cd "$WORK" && "$PROFILE" --ports 873-875 --verify-checksums --json "$name.json" \
    --dump-streams "$name-streams" --rpo 2 --plot "$name.png" "$@" > "$name.txt")
done
cat "$WORK/eth.txt"
python3 - "$WORK" <<'PY'
import hashlib, json, os, sys
w = sys.argv[1]
fails = []
def check(c, what):
    if not c:
        fails.append(what)
        print("FAIL:", what)
sha = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest() if os.path.exists(p) else None
for cap, link in (("eth", "EN10MB"), ("any", "LINUX_SLL2")):
    r = json.load(open(f"{w}/{cap}.json"))
    check(r["captures"][0]["link_type"] == link, f"{cap}: link type {r['captures'][0]['link_type']}")
    flows = {f["server_port"]: f for f in r["flows"]}
    check(sorted(flows) == [873, 874, 875], f"{cap}: the three selected flows ({sorted(flows)})")
    for port, f in flows.items():
        c, s = f["client"], f["server"]
        ep = lambda a, p: f"[{a}].{p}" if ":" in a else f"{a}.{p}"
        base = f"{w}/{cap}-streams/tcp-{ep(c, f['client_port'])}-{ep(s, port)}"
        check(sha(base + "-c2s") == sha(f"{w}/up-{port}"), f"{cap} {port}: c2s sha256 equals what was sent")
        check(sha(base + "-s2c") == sha(f"{w}/down-{port}"), f"{cap} {port}: s2c sha256 equals what was sent")
        check(f["c2s"]["gap_count"] == 0 and f["s2c"]["gap_count"] == 0, f"{cap} {port}: no gaps")
        check(f["handshake_seen"] and f["end"] == "fin", f"{cap} {port}: handshake and FIN")
    moved = sum(f[d]["retransmitted_bytes"] for f in flows.values() for d in ("c2s", "s2c"))
    ooo = sum(f[d]["out_of_order_segments"] for f in flows.values() for d in ("c2s", "s2c"))
    print(f"{cap}: retransmitted bytes {moved}, out-of-order segments {ooo}")
    check(moved > 0 and ooo > 0, f"{cap}: the capture holds retransmissions and reordering")
    check(r["not_selected"]["flows"] == 1, f"{cap}: port 22 not selected")
    if cap == "eth":
        check(flows[875]["vlan"] == [30] and flows[874]["ip_version"] == 6, "eth: VLAN 30 and IPv6 flows")
        t = r["tenants"][0]
        for d in ("c2s", "s2c"):
            want = json.load(open(f"{w}/{d}.json"))["bytes_out"]
            got = t[d]["codec_bytes"]
            print(f"{d}: estimate {got} B, strait-dedupe encode {want} B ({100 * (got - want) / want:+.2f} %)")
            check(abs(got - want) <= 0.01 * want, f"{d}: estimate within 1 % of strait-dedupe encode")
        check(t["c2s"]["cache_hits"] > 0, "eth: the second upload hits the cache")
        check(open(f"{w}/eth.png", "rb").read(4) == b"\x89PNG", "eth: plot")
print("1 passed, 0 failed" if not fails else f"0 passed, 1 failed ({len(fails)} checks)")
sys.exit(1 if fails else 0)
PY
python3 "$HERE/../profile/edited_capture.py" "$PROFILE" "$WORK"
