#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Two straitd appliances, their WAN ports joined by a veth: per-tenant ESP
# tunnels on UDP/4500 and the channel's TCP inside them.
#
#   ns wla-N        ns wa-N (straitd A)                 ns wb-N (straitd B)          ns wlb-N
#  +---------+     +---------------------------+       +---------------------------+     +---------+
#  | LAN A   |-----| walN (LAN)     wawN (WAN) |-------| wbwN (WAN)     wblN (LAN) |-----| LAN B   |
#  | wlaN    |veth | net_af_packet0 .._packet1 | veth  | .._packet1 net_af_packet0 |veth | wlbN    |
#  +---------+     | 198.18.S.1     198.18.T.1 |       | 198.18.T.2     198.18.S.2 |     +---------+
#                  |                2001:2:0:T::1      |  2001:2:0:T::2            |
#                  +---------------------------+       +---------------------------+
#   S = SUBNET (default 170), T = S + 1. Tenants, mirrored in both appliances:
#     acme    Id 7    IPv4 WAN  inner 169.254.7.1 (A) - 169.254.7.2 (B)   A connects
#                     RekeyBytes 1M (a rekey every MiB), PeerTimeout 3s
#     globex  Id 300  IPv6 WAN  inner fd00:300::2 (A) - fd00:300::1 (B)  B connects
#   With WORKERS=2 each appliance runs two workers: acme on worker 0,
#   globex on worker 1; frames received by the other worker are steered.
#
# Checks, in order (telemetry /strait/tunnel,NAME through dpdk-telemetry.py):
#  1. A starts alone: its tunnels stay down, INITs go out; B starts: both
#     tunnels up on both sides, the channels connected.
#  2. Byte-exact both ways over each tunnel: echo and source tests of the
#     channel stack (every byte checked) from A and from B, at once.
#  3. Rekeys under traffic (acme, 1 MiB per SA): a long echo test, byte-exact,
#     dozens of rekeys, not one frame refused, the channel never broken.
#  4. tshark, given only A's --sa-log lines (mode 0600), decrypts every ESP
#     frame of the WAN capture of 2-3: each one is a TCP segment between the
#     tenant's inner addresses, or a keepalive (next header 59).
#  5. A replayed INIT, a forged INIT (one byte of its mac), a forged ESP
#     frame and a replayed ESP frame injected on the WAN: dropped and counted
#     (replay / mac / icv / replay), the live SAs and the channel untouched.
#  6. B killed (SIGKILL) and restarted: a new handshake, the channel
#     reconnects; A's frames under the old SAs, replayed into the new B, are
#     refused (unknown_spi).
#  7. B killed: after PeerTimeout A's acme tunnel is down, its channel too.
#  8. B starts first this time, A later: up. 9. Both at once: up.
# 10. SIGTERM: both exit 0.
#
#   [WORKERS=N] [SUBNET=S] [ECHO_MB=N] wan-tunnel.sh STRAITD
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
straitd=$(readlink -f "${1:?straitd binary}")
n=$$
workers=${WORKERS:-1}
sub=${SUBNET:-170}
wsub=$((sub + 1))
echo_mb=${ECHO_MB:-16}
[ "$sub" -ge 160 ] && [ "$sub" -le 178 ] || { echo "SUBNET 160..178" >&2; exit 2; }
v6=2001:2:0:$wsub
cpus=$(nproc)
lcores=0@0; for i in $(seq 1 "$workers"); do lcores=$lcores,$i@$((i % cpus)); done
LA=wla-$n A=wa-$n B=wb-$n LB=wlb-$n
work=$(mktemp -d /tmp/wan-e2e-XXXXXX)
declare -A pid=([a]= [b]=)
cap=
cleanup() {
  for s in a b; do [ -n "${pid[$s]}" ] && kill -9 "${pid[$s]}" 2>/dev/null; done
  [ -n "$cap" ] && kill $cap 2>/dev/null
  wait 2>/dev/null || true
  for ns in $LA $A $B $LB; do ip netns del "$ns" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] && cp -r "$work" /tmp/wan-e2e-kept
  rm -rf "$work" /var/run/dpdk/wan-a-$n /var/run/dpdk/wan-b-$n
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for s in a b; do [ -f "$work/$s.log" ] && { echo "--- straitd $s" >&2; tail -n 15 "$work/$s.log" >&2; }; done
  exit 1
}
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
t0=$(date +%s)
say() { echo "[$(( $(date +%s) - t0 ))s] $*"; }

for ns in $LA $A $B $LB; do ip netns add "$ns"; nsx "$ns" ip link set lo up; done
ip link add wla$n netns $LA type veth peer name wal$n netns $A
ip link add waw$n netns $A type veth peer name wbw$n netns $B
ip link add wbl$n netns $B type veth peer name wlb$n netns $LB
for l in "$LA wla$n" "$A wal$n" "$A waw$n" "$B wbw$n" "$B wbl$n" "$LB wlb$n"; do
  set -- $l; nsx $1 ip link set $2 up
done
for l in "$A wal$n" "$A waw$n" "$B wbw$n" "$B wbl$n"; do
  set -- $l; nsx $1 ethtool -K $2 gro off >/dev/null 2>&1 || true
  nsx $1 sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done

# one key per tenant, the same file at both appliances, mode 0600
for s in a b; do mkdir -p "$work/$s/tenants"; done
for t in acme globex; do
  (umask 077; head -c 32 /dev/urandom | base64 > "$work/a/tenants/$t.key")
  cp -p "$work/a/tenants/$t.key" "$work/b/tenants/$t.key"
done

# appliance SIDE LAN_IP WAN_IP WAN_IP6
appliance() {
  cat <<CONF
[Appliance]
Name = wan-$1
Workers = $workers
TenantDir = tenants
[LAN]
Port = net_af_packet0
Address = 198.18.$sub.$2/24
[WAN]
Port = net_af_packet1
Address = 198.18.$wsub.$2/24
Address = $v6::$2/64
CONF
}
# tenant NAME ID ENDPOINT INNER PEER_INNER EXTRA
tenant() {
  cat <<CONF
[Tenant]
Name = $1
Id = $2
KeyFile = $1.key
PeerDown = bypass
[Interception]
ClientPrefix = 10.$(($2 % 250)).0.0/16
ServerPrefix = 10.$(($2 % 250 + 1)).128.0/24
Ports = 873
[Peer]
Endpoint = $3
InnerAddress = $4
PeerInnerAddress = $5
$6
CONF
}
acme_extra="PeerTimeout = 3s
KeepaliveInterval = 300ms
RekeyBytes = 1M"
appliance a 1 > "$work/a/appliance.conf"
appliance b 2 > "$work/b/appliance.conf"
tenant acme 7 198.18.$wsub.2 169.254.7.1 169.254.7.2 "$acme_extra" > "$work/a/tenants/acme.conf"
tenant acme 7 198.18.$wsub.1 169.254.7.2 169.254.7.1 "$acme_extra" > "$work/b/tenants/acme.conf"
tenant globex 300 "[$v6::2]:4500" fd00:300::2 fd00:300::1 "" > "$work/a/tenants/globex.conf"
tenant globex 300 "[$v6::1]:4500" fd00:300::1 fd00:300::2 "" > "$work/b/tenants/globex.conf"
"$straitd" -- -c "$work/a/appliance.conf" --check >/dev/null || fail "configuration A refused"

# start SIDE: straitd in its namespace, its own file prefix, A with --sa-log
start() {
  local s=$1 ns lan wan extra=()
  if [ "$s" = a ]; then ns=$A lan=wal$n wan=waw$n; extra=(--sa-log "$work/sa.log"); else ns=$B lan=wbl$n wan=wbw$n; fi
  ip netns exec $ns "$straitd" --no-huge --no-pci --iova-mode=va -m 1024 --lcores="$lcores" \
    --file-prefix=wan-$s-$n --log-level=lib.eal:error \
    --vdev=net_af_packet0,iface=$lan,qpairs=$workers --vdev=net_af_packet1,iface=$wan,qpairs=$workers \
    -- -c "$work/$s/appliance.conf" --channel-mbufs 4095 "${extra[@]}" >>"$work/$s.log" 2>&1 &
  pid[$s]=$!
}
stop() { # stop SIDE [SIGNAL]
  local s=$1 sig=${2:-TERM}
  [ -n "${pid[$s]}" ] || return 0
  kill -s "$sig" "${pid[$s]}" 2>/dev/null || true
  local rc=0; wait "${pid[$s]}" || rc=$?
  pid[$s]=
  rm -rf /var/run/dpdk/wan-$s-$n
  return $rc
}
# tel SIDE CMD: the reply (a JSON line); a slow start of the client on a
# loaded machine is retried
tel() {
  local out
  for _ in 1 2 3; do
    out=$(echo "$2" | timeout 20 dpdk-telemetry.py -f wan-$1-$n 2>/dev/null | tail -n 1)
    case $out in "{"*) echo "$out"; return 0;; esac
  done
  echo "{}"
}
# until SIDE CMD PYTHON-EXPR [SECONDS]: the reply's value is `v`
until_ok() {
  local out end=$(( $(date +%s) + ${4:-20} ))
  while [ "$(date +%s)" -le "$end" ]; do
    out=$(tel "$1" "$2")
    if python3 -c "import json,sys; v=json.loads(sys.argv[1])[sys.argv[2].split(',')[0]]; sys.exit(0 if ($3) else 1)" \
        "$out" "$2" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "last $1 $2: $out" >&2; return 1
}
val() { # val SIDE CMD PYTHON-EXPR: prints the expression's value
  python3 -c "import json,sys; v=json.loads(sys.argv[1])[sys.argv[2].split(',')[0]]; print($3)" "$(tel "$1" "$2")" "$2"
}
up_both() { # up_both SECONDS
  for s in a b; do for t in acme globex; do
    until_ok $s /strait/tunnel,$t 'v["state"] == "up" and v["channel"]["state"] == "up"' "$1" \
      || fail "$s: tenant $t not up with its channel"
  done; done
}
# test SIDE TENANT MODE BYTES: a test of the channel alone, waited for
run_test() {
  local runs
  runs=$(val $1 /strait/tunnel,$2 'v["test"]["runs"]')
  tel $1 "/strait/tunnel/test,$2,$3,$4" | grep -q "\"started\": 1" || fail "$1 $2: $3 test not started"
  until_ok $1 /strait/tunnel,$2 "v['test']['runs'] > $runs and v['test']['state'] in ('done', 'failed')" 120 \
    || fail "$1 $2: $3 test did not end"
  until_ok $1 /strait/tunnel,$2 "v['test']['state'] == 'done' and v['test']['mismatches'] == 0 and
    (v['test']['received'] if '$3' != 'discard' else v['test']['sent']) == $4" 1 \
    || fail "$1 $2: $3 test of $4 bytes failed: $(tel $1 /strait/tunnel,$2)"
}

# 1. A alone, then B
say "1. A starts alone"
start a
until_ok a /strait/tunnel,acme 'v["state"] == "down" and v["handshakes"]["sent"]["init"] >= 2' 30 \
  || fail "A alone: no INIT retries"
start b
up_both 30
say "   up from A's side"

# 2-3. data both ways, rekeys; the WAN captured meanwhile
# straitd's af_packet TX bypasses the taps: each end's capture holds what
# it receives; the two make the WAN (merged below)
ip netns exec $A tcpdump -i waw$n -w "$work/wan-a.pcap" -U udp port 4500 >/dev/null 2>&1 &
cap=$!
ip netns exec $B tcpdump -i wbw$n -w "$work/wan-b.pcap" -U udp port 4500 >/dev/null 2>&1 &
cap="$cap $!"
sleep 0.5
say "2. byte-exact both ways"
run_test a acme echo $((4 << 20)) &
p1=$!
run_test b globex echo $((4 << 20)) &
p2=$!
run_test b acme source $((4 << 20)) &
p3=$!
wait $p1 || fail "acme echo from A"
wait $p2 || fail "globex echo from B"
wait $p3 || fail "acme source from B"
run_test a globex source $((4 << 20))
say "3. rekeys under traffic"
rk0=$(val a /strait/tunnel,acme 'v["rekeys_started"] + 0')
run_test a acme echo $((echo_mb << 20))
rk1=$(val a /strait/tunnel,acme 'v["rekeys_started"]')
rb1=$(val b /strait/tunnel,acme 'v["rekeys_started"]')
# an SA per direction renewed every MiB (both at once, or one side first)
[ $((rk1 + rb1 - rk0)) -ge $((echo_mb / 2)) ] || fail "rekeys: A $rk0 -> $rk1, B $rb1 for $echo_mb MiB each way"
for s in a b; do
  until_ok $s /strait/tunnel,acme 'all(v["drops"][k] == 0 for k in ("unknown_spi", "replay", "icv", "malformed")) and
    v["channel"]["connects"] == 1' 1 || fail "$s: frames refused or the channel broken during rekeys"
done
say "   rekeys A $rk1, B $rb1"
sleep 0.5
kill $cap; wait $cap 2>/dev/null || true; cap=
mergecap -F pcap -w "$work/wan.pcap" "$work/wan-a.pcap" "$work/wan-b.pcap" || fail "mergecap"

# 4. tshark with the SA log only
say "4. tshark decrypts the WAN capture"
[ "$(stat -c %a "$work/sa.log")" = 600 ] || fail "sa.log mode $(stat -c %a "$work/sa.log")"
args=(); while IFS= read -r l; do args+=(-o "uat:esp_sa:$l"); done < "$work/sa.log"
tshark -r "$work/wan.pcap" -o esp.enable_encryption_decode:TRUE "${args[@]}" -Y esp \
  -T fields -e esp.spi -e esp.protocol -e ip.src -e ip.dst -e ipv6.src -e ipv6.dst -e tcp.srcport \
  > "$work/tshark.txt" 2>/dev/null || fail "tshark failed"
# the frames with no inner protocol: their decrypted bytes
tshark -r "$work/wan.pcap" -o esp.enable_encryption_decode:TRUE "${args[@]}" -Y 'esp && !esp.protocol' \
  -T fields -e esp.decrypted_data > "$work/tshark-plain.txt" 2>/dev/null || fail "tshark failed"
python3 - "$work/tshark.txt" "$work/tshark-plain.txt" <<'PY' || fail "tshark: frames not decrypted"
import sys
inner = {frozenset(("169.254.7.1", "169.254.7.2")), frozenset(("fd00:300::1", "fd00:300::2"))}
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
plain = [l.strip() for l in open(sys.argv[2])]
tcp = dummy = bad = 0
for spi, proto, ip4s, ip4d, ip6s, ip6d, port in rows:
    # the outer and the inner header: the inner is the last address of each list
    src = (ip4s.split(",")[-1] if proto == "0x04" else ip6s.split(",")[-1])
    dst = (ip4d.split(",")[-1] if proto == "0x04" else ip6d.split(",")[-1])
    # a keepalive: tshark decrypts it but names no protocol (checked below)
    if not proto:
        dummy += 1
    elif proto in ("0x04", "0x29") and port and frozenset((src, dst)) in inner:
        tcp += 1
    else:
        bad += 1
        if bad < 5:
            print("not decrypted to an inner TCP segment:", spi, proto, src, dst, port)
# each keepalive decrypts to padding 1, 2, its length 2 and next header 59
bad += sum(p != "0102023b" for p in plain) + abs(len(plain) - dummy)
print("tshark: %d ESP frames, %d inner TCP segments, %d keepalives" % (len(rows), tcp, dummy))
sys.exit(0 if rows and tcp > 1000 and bad == 0 else 1)
PY

# 5. replayed and forged handshakes and ESP frames, injected on the WAN
say "5. replays and forgeries"
spi_b=$(val b /strait/tunnel,acme 'v["spi_in"]')
c_b=$(val b /strait/tunnel,acme 'v["channel"]["connects"]')
inj() { nsx $A python3 "$here/wan_inject.py" "$work/wan.pcap" waw$n --src 198.18.$wsub.1 "$@"; }
inj --kind init --last | grep -q '"sent": 1' || fail "no INIT in the capture"
inj --kind init --last --flip 60 >/dev/null
# the last ESP frame A sent (a keepalive under the live SA): its sequence
# number moved far ahead (a new number: the ICV must catch it), then the
# last three as they were (replays)
inj --kind esp --last --count 1 --flip 4 | grep -q '"sent": 1' || fail "no ESP frame in the capture"
inj --kind esp --last --count 3 >/dev/null
until_ok b /strait/tunnel,acme 'v["handshakes"]["refused"]["replay"] >= 1 and v["handshakes"]["refused"]["mac"] >= 1' 5 \
  || fail "B did not count the replayed and the forged INIT"
until_ok b /strait/tunnel,acme 'v["drops"]["icv"] >= 1 and v["drops"]["replay"] >= 3' 5 \
  || fail "B did not count the forged and the replayed ESP frames"
[ "$(val b /strait/tunnel,acme 'v["spi_in"]')" = "$spi_b" ] || fail "a forgery moved B's SA"
[ "$(val b /strait/tunnel,acme 'v["channel"]["connects"]')" = "$c_b" ] || fail "a forgery broke the channel"
run_test a acme echo $((1 << 20))

# 6. B restarts
say "6. B killed and restarted"
hs_a=$(val a /strait/tunnel,acme 'v["handshakes"]["completed"]')
stop b KILL || true
start b
up_both 30
until_ok a /strait/tunnel,acme "v['handshakes']['completed'] > $hs_a" 5 || fail "no new handshake at A"
old=$(inj --kind esp --count 5 | python3 -c 'import json,sys; print(json.load(sys.stdin)["sent"])')
[ "$old" -ge 1 ] || fail "no old ESP frame to replay"
until_ok b /strait/tunnel,acme 'v["drops"]["unknown_spi"] >= 1' 5 || fail "the restarted B did not refuse the old SAs"
run_test a acme echo $((1 << 20))
run_test b globex echo $((1 << 20))

# 7. peer timeout
say "7. B killed: A's tunnel goes down after PeerTimeout"
stop b KILL || true
until_ok a /strait/tunnel,acme 'v["state"] == "down" and v["peer_timeouts"] >= 1 and v["channel"]["state"] == "down"' 10 \
  || fail "A did not declare the peer down"

# 8-9. B first, then both at once
say "8. B starts first"
stop a || fail "A: exit status on SIGTERM"
start b
sleep 1.5
start a
up_both 30
say "9. both at once"
stop a || fail "A: exit status"
stop b || fail "B: exit status"
start a
start b
up_both 30
run_test b acme echo $((1 << 20))

say "10. SIGTERM"
stop a || fail "A: exit status on SIGTERM"
stop b || fail "B: exit status on SIGTERM"
grep -q "AES-GCM with 16 octet ICV" "$work/sa.log" || fail "sa.log empty"
say "ok: wan-tunnel ($workers worker(s)) in $(( $(date +%s) - t0 ))s"
