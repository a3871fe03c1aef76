# SPDX-License-Identifier: BSD-3-Clause
# Sourced by the scripts that run two straitd appliances joined by their
# WAN ports: tests/e2e/wan-tunnel.sh and bench/wan-channel-bench.
#
#   ns wla-N        ns wa-N (straitd A)                 ns wb-N (straitd B)          ns wlb-N
#  +---------+     +---------------------------+       +---------------------------+     +---------+
#  | LAN A   |-----| walN (LAN)     wawN (WAN) |-------| wbwN (WAN)     wblN (LAN) |-----| LAN B   |
#  | wlaN    |veth | net_af_packet0 .._packet1 | veth  | .._packet1 net_af_packet0 |veth | wlbN    |
#  | S.10    |     | 198.18.S.1     198.18.T.1 |       | 198.18.T.2     198.18.S.2 |     | S.20    |
#  +---------+     |                2001:2:0:T::1      |  2001:2:0:T::2            |     +---------+
#                  +---------------------------+       +---------------------------+
#   S = SUBNET, T = S + 1; the LAN hosts 198.18.S.10 and .20 reach each
#   other through both appliances' bridges.
#   With wanem (a strait-wanem binary) set, the WAN veth is two, joined in
#   ns wm-N by strait-wanem (wmaN - wmbN) with the options in wanem_args.
#
# The caller sets: straitd (binary), n (unique suffix), workers, sub (subnet)
# and, optionally, mbufs (--channel-mbufs); then calls wan_setup. It gets
# work (a temporary folder), the namespace names LA A B LB, and:
#   wan_tenant SIDE NAME ID ENDPOINT INNER PEER_INNER [EXTRA]  a tenant file
#   wan_key NAME                                              its key at both sides
#   wan_start SIDE [ARGS...] / wan_stop SIDE [SIGNAL]         straitd A or B
#   tel SIDE CMD, until_ok SIDE CMD EXPR [SECONDS], val SIDE CMD EXPR
#   wan_cleanup (the caller traps it)

wan_setup() {
  wsub=$((sub + 1))
  v6=2001:2:0:$wsub
  local cpus i l
  cpus=$(nproc)
  # Every lcore of both appliances may run on any CPU: pinned, both
  # appliances' workers shared CPU 1 and starved each other (runs of
  # 15-150 ms with no engine call, the tunnel's PeerTimeout expiring)
  # while CPU 0 idled; floating, the kernel balances them. The set is this
  # shell's affinity (a cpuset may hold other CPUs than 0..N-1).
  local all
  all="($(taskset -pc $$ 2>/dev/null | sed 's/.*: *//'))"
  [ "$all" != "()" ] || all="(0-$((cpus - 1)))"
  lcores="0@$all"; for i in $(seq 1 "$workers"); do lcores="$lcores,$i@$all"; done
  LA=wla-$n A=wa-$n B=wb-$n LB=wlb-$n M=wm-$n
  work=$(mktemp -d /tmp/wan-XXXXXX)
  declare -gA pid=([a]= [b]=)
  for ns in $LA $A $B $LB; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
  ip link add wla$n netns $LA type veth peer name wal$n netns $A
  if [ -n "${wanem:-}" ]; then
    ip netns add $M
    ip link add waw$n netns $A type veth peer name wma$n netns $M
    ip link add wbw$n netns $B type veth peer name wmb$n netns $M
    for l in wma$n wmb$n; do
      ip -n $M link set $l up
      ip netns exec $M ethtool -K $l gro off tso off gso off >/dev/null 2>&1 || true
    done
    ip netns exec $M sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    # shellcheck disable=SC2086
    ip netns exec $M "$wanem" wma$n wmb$n ${wanem_args:-} --stats-json "$work/wanem.json" \
      >"$work/wanem.log" 2>&1 &
    wanem_pid=$!
  else
    ip link add waw$n netns $A type veth peer name wbw$n netns $B
  fi
  ip link add wbl$n netns $B type veth peer name wlb$n netns $LB
  for l in "$LA wla$n" "$A wal$n" "$A waw$n" "$B wbw$n" "$B wbl$n" "$LB wlb$n"; do
    set -- $l; ip -n $1 link set $2 up
  done
  # the appliances' ends see plain frames (no GRO), the hosts send them
  # (no checksum offload, TSO, GSO); the kernel keeps out of the WAN
  for l in "$A wal$n" "$A waw$n" "$B wbw$n" "$B wbl$n"; do
    set -- $l; ip netns exec $1 ethtool -K $2 gro off >/dev/null 2>&1 || true
    ip netns exec $1 sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  done
  for l in "$LA wla$n 10" "$LB wlb$n 20"; do
    set -- $l
    ip netns exec $1 ethtool -K $2 tx off tso off gso off >/dev/null 2>&1 || true
    ip -n $1 addr add 198.18.$sub.$3/24 dev $2
  done
  for s in a b; do
    mkdir -p "$work/$s/tenants"
    wan_appliance $s > "$work/$s/appliance.conf"
  done
}

# The appliance file of SIDE (a: .1, b: .2 on both ports).
wan_appliance() {
  local h; [ "$1" = a ] && h=1 || h=2
  cat <<CONF
[Appliance]
Name = wan-$1
Workers = $workers
TenantDir = tenants
${APP_EXTRA:-}
[LAN]
Port = net_af_packet0
Address = 198.18.$sub.$h/24
[WAN]
Port = net_af_packet1
Address = 198.18.$wsub.$h/24
Address = $v6::$h/64
CONF
}

# wan_key NAME: tenants/NAME.key at both sides, the same random key, mode
# 0600; made once (remove A's to make a new one)
wan_key() {
  if [ ! -f "$work/a/tenants/$1.key" ]; then
    (umask 077; head -c 32 /dev/urandom | base64 > "$work/a/tenants/$1.key")
    cp -p "$work/a/tenants/$1.key" "$work/b/tenants/$1.key"
  fi
}

# wan_tenant SIDE NAME ID ENDPOINT INNER PEER_INNER [EXTRA]: the tenant
# file at SIDE; its key (wan_key).
wan_tenant() {
  local d="$work/$1/tenants"
  wan_key "$2"
  cat > "$d/$2.conf" <<CONF
[Tenant]
Name = $2
Id = $3
KeyFile = $2.key
PeerDown = bypass
[Interception]
ClientPrefix = 10.$(($3 % 250)).0.0/16
ServerPrefix = 10.$(($3 % 250 + 1)).128.0/24
Ports = 873
[Peer]
Endpoint = $4
InnerAddress = $5
PeerInnerAddress = $6
${7:-}
CONF
}

# wan_start SIDE [ARGS...]: straitd in its namespace with its own file
# prefix (wan-SIDE-N); ARGS go after the configuration.
wan_start() {
  local s=$1 ns lan wan
  shift
  if [ "$s" = a ]; then ns=$A lan=wal$n wan=waw$n; else ns=$B lan=wbl$n wan=wbw$n; fi
  ip netns exec $ns "$straitd" --no-huge --no-pci --iova-mode=va -m 512 --lcores="$lcores" \
    --file-prefix=wan-$s-$n --log-level=lib.eal:error \
    --vdev=net_af_packet0,iface=$lan,qpairs=$workers --vdev=net_af_packet1,iface=$wan,qpairs=$workers \
    -- -c "$work/$s/appliance.conf" --channel-mbufs "${mbufs:-4095}" "$@" >>"$work/$s.log" 2>&1 &
  pid[$s]=$!
}

# wan_start_both SECS TENANT...: both appliances, then each tenant's tunnel
# and channel up at A within SECS
wan_start_both() {
  local secs=$1 t
  shift
  wan_start a
  wan_start b
  for t in "$@"; do
    until_ok a /strait/tunnel,$t 'v["state"] == "up" and v["channel"]["state"] == "up"' "$secs" \
      || fail "$t: tunnel or channel not up"
  done
}

# wan_stop SIDE [SIGNAL]: returns straitd's exit status, or 124 when it
# did not finish its shutdown ("straitd: stopped") within 20 s of SIGTERM
# or SIGINT (its threads' kernel waits are printed, then it is killed).
# The kernel's teardown of the process after that (an ASan build's shadow
# memory, on a loaded machine: seconds) is waited for, not timed.
wan_stop() {
  local s=$1 sig=${2:-TERM} p rc=0 st=0 stopped t
  p=${pid[$s]}
  [ -n "$p" ] || return 0
  stopped=$(grep -c "^straitd: stopped" "$work/$s.log" || true)
  kill -s "$sig" "$p" 2>/dev/null || true
  if [ "$sig" != KILL ]; then
    for _ in $(seq 1 200); do
      [ "$(grep -c "^straitd: stopped" "$work/$s.log" || true)" -gt "$stopped" ] && break
      [ -r /proc/$p/stat ] && [ "$(cut -d' ' -f3 /proc/$p/stat 2>/dev/null)" != Z ] || break
      sleep 0.1
    done
    if [ "$(grep -c "^straitd: stopped" "$work/$s.log" || true)" -le "$stopped" ] && [ -r /proc/$p/stat ] &&
       [ "$(cut -d' ' -f3 /proc/$p/stat 2>/dev/null)" != Z ]; then
      echo "straitd $s: not stopped 20 s after SIG$sig; its threads (state, kernel wait):" >&2
      for t in /proc/$p/task/*; do
        echo "  $(cat $t/comm 2>/dev/null) $(cut -d' ' -f3 $t/stat 2>/dev/null) $(cat $t/wchan 2>/dev/null)" >&2
      done
      kill -9 "$p" 2>/dev/null; rc=124
    fi
  fi
  wait "$p" || st=$?
  [ $rc = 0 ] && rc=$st
  pid[$s]=
  rm -rf /var/run/dpdk/wan-$s-$n
  return $rc
}

# Every step may fail (a straitd already gone): under the caller's set -e a
# failing `kill` in an && list ended the trap there, leaving the other
# straitd running and the namespaces behind.
wan_cleanup() {
  set +e
  local s
  for s in a b; do
    if [ -n "${pid[$s]:-}" ]; then kill -9 "${pid[$s]}" 2>/dev/null; fi
  done
  if [ -n "${wanem_pid:-}" ]; then kill "$wanem_pid" 2>/dev/null; fi
  wait 2>/dev/null
  for ns in $LA $A $B $LB ${wanem:+$M}; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf /var/run/dpdk/wan-a-$n /var/run/dpdk/wan-b-$n
}

# tel SIDE CMD: the telemetry reply (a JSON line); a slow start of the
# client on a loaded machine is retried
tel() {
  local out
  for _ in 1 2 3 4 5; do
    out=$(echo "$2" | timeout 20 dpdk-telemetry.py -f wan-$1-$n 2>/dev/null | tail -n 1)
    case $out in "{"*) echo "$out"; return 0;; esac
    sleep 0.5
  done
  echo "{}"
}

# until_ok SIDE CMD PYTHON-EXPR [SECONDS]: until the reply's value `v`
# makes EXPR true (default 20 s); that reply is left in ok_reply
until_ok() {
  local out end=$(( $(date +%s) + ${4:-20} ))
  while [ "$(date +%s)" -le "$end" ]; do
    out=$(tel "$1" "$2")
    if python3 -c "import json,sys; v=json.loads(sys.argv[1])[sys.argv[2].split(',')[0]]; sys.exit(0 if ($3) else 1)" \
        "$out" "$2" 2>/dev/null; then ok_reply=$out; return 0; fi
    sleep 0.2
  done
  echo "last $1 $2: $out" >&2; return 1
}

# val SIDE CMD PYTHON-EXPR: the expression's value over the reply `v`
# (a reply that lacks it, on a loaded machine, is asked again: 10 times)
val() {
  local r
  for _ in $(seq 1 10); do
    r=$(python3 -c "import json,sys; v=json.loads(sys.argv[1])[sys.argv[2].split(',')[0]]; print($3)" \
      "$(tel "$1" "$2")" "$2" 2>/dev/null) && { echo "$r"; return 0; }
    sleep 0.5
  done
  return 1
}

# run_test SIDE TENANT MODE BYTES: a test of the channel alone, waited for
# (2 minutes at most); returns 1 unless every byte went (and came back)
run_test() {
  local runs
  runs=$(val $1 /strait/tunnel,$2 'v["test"]["runs"]') || { echo "$1 $2: no telemetry" >&2; return 1; }
  tel $1 "/strait/tunnel/test,$2,$3,$4" | grep -q '"started": 1' || { echo "$1 $2: $3 test not started" >&2; return 1; }
  until_ok $1 /strait/tunnel,$2 "v['test']['runs'] > $runs and v['test']['state'] in ('done', 'failed')" 120 \
    || { echo "$1 $2: $3 test did not end" >&2; return 1; }
  python3 -c "import json,sys; v=json.loads(sys.argv[1])['/strait/tunnel']; sys.exit(0 if (
    v['test']['state'] == 'done' and v['test']['mismatches'] == 0 and
    (v['test']['received'] if '$3' != 'discard' else v['test']['sent']) == $4) else 1)" "$ok_reply" \
    || { echo "$1 $2: $3 test of $4 bytes failed: $ok_reply" >&2; return 1; }
}

# wanem_stop_checked: stops strait-wanem (its counters go to wanem.json)
# and returns 1 unless it dropped nothing but its own random loss (its
# queue never overflowed: the appliances, not the emulator, decided)
wanem_stop_checked() {
  kill "$wanem_pid" 2>/dev/null; wait "$wanem_pid" 2>/dev/null || true; wanem_pid=
  python3 - "$work/wanem.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
d = {k: v["dropped"] for k, v in s.items() if isinstance(v, dict) and "dropped" in v}
print("strait-wanem dropped:", d)
sys.exit(0 if d and not any(n for x in d.values() for k, n in x.items() if k != "loss") else 1)
PY
}
