#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Two straitd appliances, their WAN ports joined by a veth: per-tenant ESP
# tunnels on UDP/4500 and the channel's TCP inside them.
#
#   ns wla-N        ns wa-N (straitd A)                 ns wb-N (straitd B)          ns wlb-N
#  +---------+     +---------------------------+       +---------------------------+     +---------+
#  | LAN A   |-----| walN (LAN)     wawN (WAN) |-------| wbwN (WAN)     wblN (LAN) |-----| LAN B   |
#  | wlaN    |veth | net_af_packet0 .._packet1 | veth  | .._packet1 net_af_packet0 |veth | wlbN    |
#  | S.10    |     | 198.18.S.1     198.18.T.1 |       | 198.18.T.2     198.18.S.2 |     | S.20    |
#  +---------+     |                2001:2:0:T::1      |  2001:2:0:T::2            |     +---------+
#                  +---------------------------+       +---------------------------+
#   (set up by wan-lib.sh, shared with bench/wan-channel-bench)
#   S = SUBNET (default 170), T = S + 1. Tenants, mirrored in both appliances:
#     acme    Id 7    IPv4 WAN  inner 169.254.7.1 (A) - 169.254.7.2 (B)   A connects
#                     RekeyBytes 1M (a rekey every MiB), PeerTimeout 15s
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
#     dozens of rekeys, no frame refused for want of its SA (with one worker
#     no frame refused at all), the channel never broken.
#  4. tshark, given only A's --sa-log lines (mode 0600), decrypts every ESP
#     frame of the WAN capture of 2-3: each one is a TCP segment between the
#     tenant's inner addresses, or a keepalive (next header 59).
#  5. A replayed INIT, a forged INIT (one byte of its mac), a forged ESP
#     frame and a replayed ESP frame injected on the WAN: dropped and counted
#     (replay / mac / icv / replay), the live SAs and the channel untouched.
#  6. B killed (SIGKILL) and restarted well within PeerTimeout: A learns it
#     from the new B's first INIT (INITIAL_CONTACT), not from a timeout: a
#     new handshake, A's old SAs gone (a new outbound SPI), the channel
#     aborted and connected again (A connects acme: nothing else would tell
#     its idle connection that B's end is gone); A's frames under the old
#     SAs, replayed into the new B, are refused (unknown_spi).
#  7. B killed: after PeerTimeout A's acme tunnel is down, its channel too.
#  8. B starts first this time, A later: up. 9. Both at once: up.
# 10. SIGTERM: both exit 0.
# 11. Both up, then their veths deleted and namespaces removed: on SIGTERM
#     each still finishes its shutdown within 20 s and exits 0.
#
#   [WORKERS=N] [SUBNET=S] [SIZE_MB=N (2., default 4)] [ECHO_MB=N (3., 16)]
#   [STEPS="all" or a list of 4 5 6 7 (7: 7-9); 1-3 and 10-11 always run] wan-tunnel.sh STRAITD
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
straitd=$(readlink -f "${1:?straitd binary}")
n=$$
workers=${WORKERS:-1}
sub=${SUBNET:-170}
echo_mb=${ECHO_MB:-16}
size_mb=${SIZE_MB:-4}
steps=${STEPS:-all}
step() { [ "$steps" = all ] || [[ " $steps " == *" $1 "* ]]; }
[ "$sub" -ge 160 ] && [ "$sub" -le 178 ] || { echo "SUBNET 160..178" >&2; exit 2; }
. "$here/wan-lib.sh"
cap=
cleanup() {
  set +e # every step runs, whatever failed before it
  [ -n "$cap" ] && kill $cap 2>/dev/null
  wan_cleanup
  [ -n "${KEEP:-}" ] && cp -r "$work" /tmp/wan-e2e-kept
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' INT TERM # a test runner's timeout: the trap above still runs
fail() {
  echo "FAIL: $*" >&2
  for s in a b; do [ -f "$work/$s.log" ] && { echo "--- straitd $s" >&2; tail -n 15 "$work/$s.log" >&2; }; done
  exit 1
}
t0=$(date +%s)
say() { echo "[$(( $(date +%s) - t0 ))s] $*"; }

wan_setup
acme_extra="PeerTimeout = 15s
KeepaliveInterval = 300ms
RekeyBytes = 1M"
wan_tenant a acme 7 198.18.$wsub.2 169.254.7.1 169.254.7.2 "$acme_extra"
wan_tenant b acme 7 198.18.$wsub.1 169.254.7.2 169.254.7.1 "$acme_extra"
wan_tenant a globex 300 "[$v6::2]:4500" fd00:300::2 fd00:300::1
wan_tenant b globex 300 "[$v6::1]:4500" fd00:300::1 fd00:300::2
"$straitd" -- -c "$work/a/appliance.conf" --check >/dev/null || fail "configuration A refused"
# A writes its SA log (mode 0600), read by tshark in 4.
start() { if [ "$1" = a ]; then wan_start a --sa-log "$work/sa.log"; else wan_start b; fi; }
stop() { wan_stop "$@"; }
up_both() { # up_both SECONDS
  for s in a b; do for t in acme globex; do
    until_ok $s /strait/tunnel,$t 'v["state"] == "up" and v["channel"]["state"] == "up"' "$1" \
      || { echo "the other side: $(tel $([ $s = a ] && echo b || echo a) /strait/tunnel,$t)" >&2
           fail "$s: tenant $t not up with its channel"; }
  done; done
}
test_ok() { run_test "$@" || fail "$1 $2: $3 test"; }

# 1. A alone, then B
say "1. A starts alone"
start a
until_ok a /strait/tunnel,acme 'v["state"] == "down" and v["handshakes"]["sent"]["init"] >= 2' 60 \
  || fail "A alone: no INIT retries"
start b
up_both 90
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
test_ok a acme echo $((size_mb << 20)) &
p1=$!
test_ok b globex echo $((size_mb << 20)) &
p2=$!
test_ok b acme source $((size_mb << 20)) &
p3=$!
wait $p1 || fail "acme echo from A"
wait $p2 || fail "globex echo from B"
wait $p3 || fail "acme source from B"
test_ok a globex source $((size_mb << 20))
say "3. rekeys under traffic"
rk0=$(val a /strait/tunnel,acme 'v["rekeys_started"] + 0')
test_ok a acme echo $((echo_mb << 20))
rk1=$(val a /strait/tunnel,acme 'v["rekeys_started"]')
rb1=$(val b /strait/tunnel,acme 'v["rekeys_started"]')
# an SA per direction renewed every MiB (both at once, or one side first)
[ $((rk1 + rb1 - rk0)) -ge $((echo_mb / 2)) ] || fail "rekeys: A $rk0 -> $rk1, B $rb1 for $echo_mb MiB each way"
# Not one frame refused for want of its SA, and the channel never broken.
# With one worker nothing reorders frames, so none is refused at all; with
# two, a frame the other worker received waits in a ring, and on this
# shared machine a starved worker can hold one back by more than the
# 1024-packet replay window: RFC 4303 A.2 then drops it (replay, or icv
# when its high sequence bits are inferred a wrap ahead). TCP resends it.
keys='"unknown_spi", "malformed"'
[ "$workers" = 1 ] && keys="$keys, \"replay\", \"icv\""
for s in a b; do
  until_ok $s /strait/tunnel,acme "all(v['drops'][k] == 0 for k in ($keys)) and
    v['channel']['connects'] == 1" 1 || fail "$s: frames refused or the channel broken during rekeys"
  echo "   $s: $(val $s /strait/tunnel,acme 'v["drops"]')"
done
say "   rekeys A $rk1, B $rb1"
sleep 0.5
kill $cap; wait $cap 2>/dev/null || true; cap=
mergecap -F pcap -w "$work/wan.pcap" "$work/wan-a.pcap" "$work/wan-b.pcap" || fail "mergecap"

# frames of the capture sent again into B, as from A (5, 6)
inj() { ip netns exec $A python3 "$here/wan_inject.py" "${inj_cap:-$work/wan.pcap}" waw$n --src 198.18.$wsub.1 "$@"; }

# 4. tshark with the SA log only
if step 4; then
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

fi

# 5. replayed and forged handshakes and ESP frames, injected on the WAN
if step 5; then
say "5. replays and forgeries"
spi_b=$(val b /strait/tunnel,acme 'v["spi_in"]')
c_b=$(val b /strait/tunnel,acme 'v["channel"]["connects"]')
inj --kind init --last | grep -q '"sent": 1' || fail "no INIT in the capture"
inj --kind init --last --flip 60 >/dev/null
# the last ESP frame A sent (a keepalive under the live SA): its sequence
# number moved far ahead (a new number: the ICV must catch it), then the
# last three as they were (replays). Taken fresh at B: after the long runs'
# tshark step the capture of 2-3 lies more than a replay window (1024
# keepalives) behind, and RFC 4303 A.2 then infers a wrap (icv, not replay).
ip netns exec $B timeout 20 tcpdump -i wbw$n -c 4 -w "$work/fresh.pcap" \
  "udp port 4500 and src 198.18.$wsub.1 and udp[8:4] != 0" >/dev/null 2>&1 || fail "no fresh ESP frame from A"
inj_cap=$work/fresh.pcap inj --kind esp --last --count 1 --flip 4 | grep -q '"sent": 1' || fail "no ESP frame in the capture"
inj_cap=$work/fresh.pcap inj --kind esp --last --count 3 >/dev/null
until_ok b /strait/tunnel,acme 'v["handshakes"]["refused"]["replay"] >= 1 and v["handshakes"]["refused"]["mac"] >= 1' 15 \
  || fail "B did not count the replayed and the forged INIT"
until_ok b /strait/tunnel,acme 'v["drops"]["icv"] >= 1 and v["drops"]["replay"] >= 3' 15 \
  || fail "B did not count the forged and the replayed ESP frames"
[ "$(val b /strait/tunnel,acme 'v["spi_in"]')" = "$spi_b" ] || fail "a forgery moved B's SA"
[ "$(val b /strait/tunnel,acme 'v["channel"]["connects"]')" = "$c_b" ] || fail "a forgery broke the channel"
test_ok a acme echo $((256 << 10))

fi

# 6. B restarts
if step 6; then
say "6. B killed and restarted"
hs_a=$(val a /strait/tunnel,acme 'v["handshakes"]["completed"]')
pt_a=$(val a /strait/tunnel,acme 'v["peer_timeouts"]')
cn_a=$(val a /strait/tunnel,acme 'v["channel"]["connects"]')
spi_a=$(val a /strait/tunnel,acme 'v["spi_out"]')
stop b KILL || true
start b
up_both 90
say "   up again"
until_ok a /strait/tunnel,acme "v['handshakes']['completed'] > $hs_a and v['peer_restarts'] >= 1
  and v['channel']['connects'] > $cn_a and v['spi_out'] != '$spi_a'" 15 \
  || fail "A did not take the restarted B's INITIAL_CONTACT: no new handshake, old SAs or channel kept"
[ "$(val a /strait/tunnel,acme 'v["peer_timeouts"]')" = "$pt_a" ] \
  || fail "A waited for PeerTimeout: B's restart went unnoticed"
old=$(inj --kind esp --count 5 | python3 -c 'import json,sys; print(json.load(sys.stdin)["sent"])')
[ "$old" -ge 1 ] || fail "no old ESP frame to replay"
until_ok b /strait/tunnel,acme 'v["drops"]["unknown_spi"] >= 1' 15 || fail "the restarted B did not refuse the old SAs"
say "   old SAs refused"
test_ok a acme echo $((256 << 10)) &
p1=$!
test_ok b globex echo $((256 << 10)) || fail "globex echo from B after the restart"
wait $p1 || fail "acme echo from A after the restart"

fi

# 7-9. peer timeout; B first, then both at once
if step 7; then
say "7. B killed: A's tunnel goes down after PeerTimeout"
stop b KILL || true
until_ok a /strait/tunnel,acme 'v["state"] == "down" and v["peer_timeouts"] >= 1 and v["channel"]["state"] == "down"' 60 \
  || fail "A did not declare the peer down"

# 8-9. B first, then both at once
say "8. B starts first"
stop a || fail "A: exit status on SIGTERM"
start b
sleep 1.5
start a
up_both 90
say "9. both at once"
stop a || fail "A: exit status"
stop b || fail "B: exit status"
start a
start b
up_both 90
test_ok b acme echo $((256 << 10))

fi

say "10. SIGTERM"
stop a || fail "A: exit status on SIGTERM"
stop b || fail "B: exit status on SIGTERM"
grep -q "AES-GCM with 16 octet ICV" "$work/sa.log" || fail "sa.log empty"

# 11. SIGTERM once the ports and namespaces are gone: straitd still exits
say "11. SIGTERM with the veths and namespaces gone"
start a
start b
up_both 90
for l in "$A wal$n" "$A waw$n" "$B wbl$n"; do set -- $l; ip -n $1 link del $2; done
for ns in $LA $A $B $LB; do ip netns del "$ns"; done
sleep 1
stop a || fail "A: exit status $? on SIGTERM with its ports gone"
stop b || fail "B: exit status $? on SIGTERM with its ports gone"
say "ok: wan-tunnel ($workers worker(s)) in $(( $(date +%s) - t0 ))s"
