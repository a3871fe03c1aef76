#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The TCP engine's link-test services (tcp-linktest) against Linux TCP.
#
#   netns tcpN                        root netns
#  +----------------------+          +--------------------------------+
#  | python3 tcp_client   |          | tcp-linktest (DPDK af_packet)  |
#  | tkN 198.18.(S).1/24  |--veth----| tdN  engine at 198.18.(S).2    |
#  |     2001:2:0:1SS::1  |          |      and 2001:2:0:1SS::2       |
#  +----------------------+          +--------------------------------+
#
# usage: tcp-linktest.sh LINKTEST [SUBNET(129..254)] [KNOB ARGS...] [-- CLIENT ARGS]
#   LINKTEST is the tcp-linktest binary or a build directory holding it
#   e.g. tcp-linktest.sh build-asan 130 --drop 1 --dup 1 --reorder 2 --seed 7
# Byte-exact transfers both ways (discard, source, echo), concurrent
# connections, closes from each side, aborts from the client.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/linktest-lib.sh"
bin=${1:?tcp-linktest binary or build dir}; shift
sub=${1:-129}; [ $# -gt 0 ] && shift
knob=(); client=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then shift; client=("$@"); break; fi
  knob+=("$1"); shift
done
[ "$sub" -ge 129 ] && [ "$sub" -le 254 ] || { echo "subnet 129..254" >&2; exit 2; }
id=$$
ns=tcp$id; vk=tk$id; vd=td$id
[ -d "$bin" ] && bin=$bin/tests/tcp/tcp-linktest
bin=$(readlink -f "$bin")
[ -x "$bin" ] || { echo "no tcp-linktest at $bin" >&2; exit 2; }
log=$(mktemp); pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  ip link del "$vd" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "/var/run/dpdk/tcpe$id"
  rm -f "$log"
}
trap cleanup EXIT
v6="2001:2:0:1$(printf %02x $((sub-128)))::2"
linktest_link "$ns" "$vk" "$vd" "198.18.$sub.1" "2001:2:0:1$(printf %02x $((sub-128)))::1"
linktest_start "$bin" "tcpe$id" "$vd" "$log" --ip "198.18.$sub.2" --ip6 "$v6" "${knob[@]}" || exit 1
rc=0
cap=
if [ -n "${TCP_E2E_PCAP:-}" ]; then  # debugging: capture the client side
  ip netns exec "$ns" tshark -q -i "$vk" -s 128 -w "$TCP_E2E_PCAP" >/dev/null 2>&1 &
  cap=$!; sleep 1
fi
ip netns exec "$ns" timeout 600 python3 "$here/tcp_client.py" "198.18.$sub.2" "${client[@]}" || rc=1
if [ $rc -eq 0 ]; then
  ip netns exec "$ns" timeout 300 python3 "$here/tcp_client.py" "$v6" --only echo,source --concurrent 0 || rc=1
fi
kill -TERM "$pid"; wait "$pid" || true; pid=
[ -n "$cap" ] && { kill "$cap"; wait "$cap" || true; }
tail -n 2 "$log"
exit $rc
