#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# SYN cookies that keep the options, against Linux's client.
#
#   netns opN                         root netns
#  +-------------------------+       +-----------------------------------+
#  | python3 client          |       | tcp-linktest --syncookies-always  |
#  | opkN 198.18.(S).1/24    |-veth--| opdN  engine at 198.18.(S).2      |
#  |      2001:2:0:1XX::1    |       |       and 2001:2:0:1XX::2         |
#  +-------------------------+       +-----------------------------------+
#
# usage: tcp-cookies.sh LINKTEST [SUBNET(200..209)] [KNOB ARGS...]
#   KNOB ARGS go to tcp-linktest (--drop P --dup P --reorder P --seed N):
#   with loss, recovery on a cookie connection runs on SACK.
# Every SYN is answered with a cookie (no state kept), so each connection
# is created by the completing ACK. Linux must see window scaling, SACK and
# timestamps (TCP_INFO and `ss -ti` in the client's netns during the
# transfer), and
# 1 MiB goes each way byte-exact (echo: client -> engine -> client;
# source: engine -> client), over IPv4 and IPv6. The engine's counters
# must show only good cookies.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/linktest-lib.sh"
bin=${1:?tcp-linktest binary or build dir}; shift
sub=${1:-200}; [ $# -gt 0 ] && shift
knob=("$@")
[ "$sub" -ge 200 ] && [ "$sub" -le 209 ] || { echo "subnet 200..209" >&2; exit 2; }
id=$$
ns=op$id; vk=opk$id; vd=opd$id
[ -d "$bin" ] && bin=$bin/tests/tcp/tcp-linktest
bin=$(readlink -f "$bin")
[ -x "$bin" ] || { echo "no tcp-linktest at $bin" >&2; exit 2; }
log=$(mktemp); pid=; cap=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  [ -n "$cap" ] && kill "$cap" 2>/dev/null && wait "$cap" 2>/dev/null || true
  ip link del "$vd" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "/var/run/dpdk/opencookie$id"
  rm -f "$log"
}
trap cleanup EXIT
hex=$(printf %x "$sub")           # 200 -> c8: 2001:2:0:1c8::/64
v4c="198.18.$sub.1"; v4e="198.18.$sub.2"
v6c="2001:2:0:1$hex::1"; v6e="2001:2:0:1$hex::2"
linktest_link "$ns" "$vk" "$vd" "$v4c" "$v6c"
# the client's side offers all three options (Linux defaults, made explicit)
ip netns exec "$ns" sysctl -qw net.ipv4.tcp_timestamps=1 net.ipv4.tcp_sack=1 \
  net.ipv4.tcp_window_scaling=1
linktest_start "$bin" "opencookie$id" "$vd" "$log" --ip "$v4e" --ip6 "$v6e" --syncookies-always "${knob[@]}" || exit 1

rc=0
if [ -n "${TCP_E2E_PCAP:-}" ]; then  # debugging: capture the client side
  ip netns exec "$ns" tshark -q -i "$vk" -s 128 -w "$TCP_E2E_PCAP" >/dev/null 2>&1 &
  cap=$!; sleep 1
fi
for host in "$v4e" "$v6e"; do
  ip netns exec "$ns" timeout 120 python3 - "$host" <<'EOF' || rc=1
import hashlib, socket, subprocess, sys, threading

host = sys.argv[1]
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
N = 1 << 20

def info(s):
    """What Linux negotiated: TCP_INFO (what ss -ti reads; the ss of
    iproute2 6.1 on this kernel prints wscale but not ts/sack, even for a
    loopback connection), and the ss -ti line for the log."""
    b = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    lport = s.getsockname()[1]
    # no state filter: a fast source may have sent its FIN already
    out = subprocess.run(["ss", "-tin", "( sport = :%d )" % lport],
                         capture_output=True, text=True, check=True).stdout
    return b[5], b[6] & 15, b[6] >> 4, " ".join(" ".join(out.splitlines()[1:]).split())

def check_opts(what, i):
    opts, snd, rcv, line = i
    print(what, "tcpi_options=%d snd_wscale=%d rcv_wscale=%d | ss: %s" % (opts, snd, rcv, line))
    # TCPI_OPT_TIMESTAMPS 1, TCPI_OPT_SACK 2, TCPI_OPT_WSCALE 4
    if opts & 7 != 7:
        raise SystemExit("%s: options lost: tcpi_options=%d" % (what, opts))
    if snd == 0 or "wscale:%d,%d" % (snd, rcv) not in line:
        raise SystemExit("%s: the engine's window scale was lost" % what)

# source (19): the engine sends N bytes, byte i = i % 251
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(60)
s.connect((host, 19))
s.sendall(b"%d\n" % N)
got = bytearray()
line = None
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
    if line is None:
        line = info(s)
s.close()
want = bytes(i % 251 for i in range(251)) * (N // 251 + 1)
if bytes(got) != want[:N]:
    raise SystemExit("source: %d bytes, not the expected ones" % len(got))
check_opts("source %s:" % host, line or (0, 0, 0, ""))

# echo (7): N bytes there and back
data = hashlib.sha256(b"cookie").digest() * (N // 32)
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(60)
s.connect((host, 7))
back = bytearray()
def reader():
    while len(back) < N:
        b = s.recv(65536)
        if not b:
            break
        back.extend(b)
t = threading.Thread(target=reader)
t.start()
s.sendall(data[: N // 2])
line = info(s)
s.sendall(data[N // 2 :])
t.join(60)
s.close()
if bytes(back) != data:
    raise SystemExit("echo: %d bytes back, not the same" % len(back))
check_opts("echo %s:" % host, line)
print("ok", host)
EOF
done
kill -TERM "$pid"; wait "$pid" || true; pid=
[ -n "$cap" ] && { kill "$cap"; wait "$cap" || true; }
tail -n 3 "$log"
# four connections, all made from cookies; none refused on a clean link
# (with the knob, a duplicate of a last ACK that arrives after its
# connection is gone meets the listener and fails as a cookie: counted)
python3 - "$log" "${#knob[@]}" <<'EOF' || rc=1
import json, sys
c = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{"syncookies')][0]
print(c)
assert c["syncookies_ok"] >= 4, c
assert c["syncookies_sent"] >= c["syncookies_ok"], c
assert c["syncookies_bad"] == 0 or int(sys.argv[2]) > 0, c
EOF
exit $rc
