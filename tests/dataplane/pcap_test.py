#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Deterministic packet tests of straitd through net_pcap vdevs.

Each scenario writes input captures for the LAN and WAN ports, runs straitd
in single-lcore mode until its input is exhausted (--exit-idle-ms), and
compares the output captures frame by frame with what is expected, then the
counters straitd wrote (--stats-json). No NIC, no hugepages, no root.

    pcap_test.py STRAITD [SCENARIO...]
"""
import base64
import json
import os
import shutil
import signal as sig
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from frames import *  # noqa: E402,F403
from pktlib import Failures  # noqa: E402

STRAITD = sys.argv[1]
ONLY = sys.argv[2:]

LAN_IP, LAN_IP6 = "198.18.0.1", "2001:2::1"
WAN_IP, WAN_IP6 = "198.18.1.1", "2001:2:0:1::1"
C_MAC, S_MAC = "02:00:00:00:0c:01", "02:00:00:00:05:01"   # client (LAN), server (WAN)
CLIENT, SERVER = "198.18.0.10", "198.18.1.20"
CLIENT6, SERVER6 = "2001:2::10", "2001:2:0:1::20"
BCAST = "ff:ff:ff:ff:ff:ff"

APPLIANCE = """
[Appliance]
Name = pcap-test
Workers = 0
FlowTableSize = 1024
TenantDir = tenants

[LAN]
Port = net_pcap0
Address = {lan_ip}/24
Address = {lan_ip6}/64
{lan_extra}

[WAN]
Port = net_pcap1
Address = {wan_ip}/24
Address = {wan_ip6}/64
{wan_extra}
"""

TENANT = """
[Tenant]
Name = {name}
Id = {id}
KeyFile = {name}.key
PeerDown = bypass

[Interception]
ClientPrefix = {client}
ServerPrefix = {server}
Ports = {ports}

[Peer]
Endpoint = 198.18.1.2
InnerAddress = 169.254.{id}.1
PeerInnerAddress = 169.254.{id}.2
"""

failures = Failures("  FAIL:")
check = failures.check


def telemetry(prefix, cmds):
    """Replies of DPDK telemetry commands, as dpdk-telemetry.py reads them:
    {command: value}, value None for a refused command."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(10)
    s.connect("/var/run/dpdk/%s/dpdk_telemetry.v2" % prefix)
    json.loads(s.recv(16384))  # the greeting
    out = {}
    for c in cmds:
        s.send(c.encode())
        out.update(json.loads(s.recv(1 << 16)))
    s.close()
    return out


def rx_packets(prefix, port):
    return telemetry(prefix, ["/strait/ports," + port])["/strait/ports"]["rx_packets"]


def run(name, lan_in, wan_in, tenants=(), lan_extra="", wan_extra="", signal=None, during=None):
    """during(prefix), with signal: called while straitd runs, before the
    signal (telemetry checks)."""
    d = tempfile.mkdtemp(prefix="dp-pcap-%s-" % name)
    os.makedirs(os.path.join(d, "tenants"))
    with open(os.path.join(d, "appliance.conf"), "w") as f:
        f.write(APPLIANCE.format(lan_ip=LAN_IP, lan_ip6=LAN_IP6, wan_ip=WAN_IP, wan_ip6=WAN_IP6,
                                 lan_extra=lan_extra, wan_extra=wan_extra))
    for i, t in enumerate(tenants):
        with open(os.path.join(d, "tenants", "%02d-%s.conf" % (i, t["name"])), "w") as f:
            f.write(TENANT.format(id=i + 1, **t))
        # the tunnel's key: 32 random bytes in base64, mode 0600
        fd = os.open(os.path.join(d, "tenants", t["name"] + ".key"), os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, base64.b64encode(os.urandom(32)) + b"\n")
        os.close(fd)
    p = lambda n: os.path.join(d, n)  # noqa: E731
    write_pcap(p("lan_in.pcap"), lan_in)
    write_pcap(p("wan_in.pcap"), wan_in)
    cmd = [STRAITD, "--no-huge", "--no-pci", "--iova-mode=va", "-m", "256", "-l", "0",
           "--file-prefix=dp-pcap-%d-%s" % (os.getpid(), name), "--log-level=lib.eal:error",
           "--vdev=net_pcap0,rx_pcap=%s,tx_pcap=%s" % (p("lan_in.pcap"), p("lan_out.pcap")),
           "--vdev=net_pcap1,rx_pcap=%s,tx_pcap=%s" % (p("wan_in.pcap"), p("wan_out.pcap")),
           "--", "-c", p("appliance.conf"), "--stats-json", p("stats.json"), "--mbufs", "4095"]
    if signal is None:
        cmd += ["--exit-idle-ms", "400"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        rc, out = r.returncode, r.stdout + r.stderr
    else:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        prefix = "dp-pcap-%d-%s" % (os.getpid(), name)
        for _ in range(600):  # until its commands answer (its signal handlers
            try:              # follow at once), bounded: 30 s
                if telemetry(prefix, ["/strait/ports"]).get("/strait/ports"):
                    break
            except (OSError, ValueError):
                pass  # not up yet: no socket, or no commands registered
            time.sleep(0.05)
        # and until it has taken in every frame of the captures
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            try:
                if (rx_packets(prefix, "lan") >= len(lan_in) and
                        rx_packets(prefix, "wan") >= len(wan_in)):
                    break
            except (OSError, KeyError, TypeError, ValueError):
                pass
            time.sleep(0.1)
        if during:
            try:
                during(prefix)
            except Exception as e:  # noqa: BLE001 (the straitd below must stop)
                check(False, "%s: %r" % (name, e))
        proc.send_signal(signal)
        out = proc.communicate(timeout=30)[0]
        rc = proc.returncode
    # EAL leaves its runtime directory behind: take it away with ours
    shutil.rmtree("/var/run/dpdk/dp-pcap-%d-%s" % (os.getpid(), name), ignore_errors=True)
    if rc != 0:
        print(out)
        raise SystemExit("straitd exited %d in scenario %s (files in %s)" % (rc, name, d))
    with open(p("stats.json")) as f:
        stats = json.load(f)
    result = read_pcap(p("lan_out.pcap")), read_pcap(p("wan_out.pcap")), stats
    shutil.rmtree(d, ignore_errors=True)
    return result


def tunnel_frame(f):
    """A frame of the WAN module's own (a tenant's tunnel looking for its
    peer at 198.18.1.2: ARP request, handshake on UDP/4500): not bridged."""
    if f[12:14] == b"\x08\x06":
        return f[14 + 24:14 + 28] == ip("198.18.1.2")
    return f[12:14] == b"\x08\x00" and f[14 + 9:14 + 10] == b"\x11" and \
        f[14 + 12:14 + 16] == ip(WAN_IP) and f[14 + 22:14 + 24] == (4500).to_bytes(2, "big")


def same_frames(got, want, what):
    """got (less the tunnels' own frames) is want, frame for frame."""
    got = [f for f in got if not tunnel_frame(f)]
    ok = check(len(got) == len(want), "%s: %d frames out, %d expected" % (what, len(got), len(want)))
    for i, (g, w) in enumerate(zip(got, want)):
        if not check(g == w, "%s: frame %d differs\n    got  %s\n    want %s" % (what, i, g.hex(), w.hex())):
            ok = False
            break
    return ok


# ---------------------------------------------------------------------------

def scenario_bridge():
    """Every frame not for us crosses unchanged, both ways, tags kept."""
    lan = [
        tcp_frame(C_MAC, S_MAC, CLIENT, SERVER, 40000, 80, TCP_SYN),                       # 1 IPv4 TCP
        tcp_frame(C_MAC, S_MAC, CLIENT6, SERVER6, 40001, 443, TCP_SYN),                    # 2 IPv6 TCP
        tcp_frame(C_MAC, S_MAC, CLIENT, SERVER, 40002, 80, TCP_SYN, vlans=[(ETH_VLAN, 100)]),  # 3 VLAN
        tcp_frame(C_MAC, S_MAC, CLIENT, SERVER, 40003, 80, TCP_SYN,
                  vlans=[(ETH_QINQ, 200), (ETH_VLAN, 300)]),                              # 4 QinQ
        eth(S_MAC, C_MAC, ETH_IP4, ipv4(CLIENT, SERVER, 17, udp(CLIENT, SERVER, 5000, 53, b"q" * 30))),  # 5 UDP
        arp(1, C_MAC, CLIENT, "00:00:00:00:00:00", SERVER),                                # 6 ARP, not ours
        eth("01:80:c2:00:00:0e", C_MAC, 0x88CC, b"\x02\x07\x04" + b"L" * 40),              # 7 LLDP
        tcp_frame(C_MAC, S_MAC, CLIENT, SERVER, 40004, 80, TCP_ACK, data=b"d" * 1400),  # 8 full-size
        eth(S_MAC, C_MAC, ETH_IP4, ipv4(CLIENT, SERVER, 6, b"z" * 64, frag=100)),         # 9 later fragment
        ns(C_MAC, CLIENT6, SERVER6),                                                       # 10 NS, not ours
        icmp4_echo(C_MAC, S_MAC, CLIENT, SERVER),                                          # 11 ping through
    ]
    wan = [
        tcp_frame(S_MAC, C_MAC, SERVER, CLIENT, 80, 40000, TCP_SYN | TCP_ACK),
        tcp_frame(S_MAC, C_MAC, SERVER6, CLIENT6, 443, 40001, TCP_SYN | TCP_ACK),
        tcp_frame(S_MAC, C_MAC, SERVER, CLIENT, 80, 40002, TCP_SYN | TCP_ACK, vlans=[(ETH_VLAN, 100)]),
        icmp4_echo(S_MAC, C_MAC, SERVER, CLIENT, typ=0),
        eth(BCAST, S_MAC, 0x9000, b"\0" * 46),
    ]
    lan_out, wan_out, st = run("bridge", lan, wan)
    same_frames(wan_out, lan, "LAN->WAN bridged")
    same_frames(lan_out, wan, "WAN->LAN bridged")
    check(st["lan"]["bridged_packets"] == len(lan), "lan bridged_packets %d" % st["lan"]["bridged_packets"])
    check(st["wan"]["bridged_packets"] == len(wan), "wan bridged_packets %d" % st["wan"]["bridged_packets"])
    check(st["lan"]["rx_bytes"] == sum(map(len, lan)), "lan rx_bytes")
    check(st["wan"]["tx_bytes"] == sum(map(len, lan)), "wan tx_bytes")
    check(sum(st["drops"].values()) == 0, "no drops: %s" % st["drops"])
    check(list(st["workers"]) == ["0"] and st["workers"]["0"]["loops"] > 0 and
          st["workers"]["0"]["late_after_us"] == 2000, "the worker's loop: %s" % st["workers"])


def scenario_local():
    """ARP, ND and echo to our own addresses are answered on the same port;
    bad requests are dropped; what only looks like ours is bridged."""
    st0 = run("mac", [], [])[2]
    lan_mac, wan_mac = st0["lan_mac"], st0["wan_mac"]
    req_arp = arp(1, C_MAC, CLIENT, "00:00:00:00:00:00", LAN_IP)
    req_echo = icmp4_echo(C_MAC, lan_mac, CLIENT, LAN_IP, data=b"A" * 56)
    req_ns = ns(C_MAC, CLIENT6, LAN_IP6)
    req_echo6 = icmp6_echo(C_MAC, lan_mac, CLIENT6, LAN_IP6, data=b"B" * 56)
    bad_echo = icmp4_echo(C_MAC, lan_mac, CLIENT, LAN_IP, bad=True)
    bad_ns = ns(C_MAC, CLIENT6, LAN_IP6)[:-70] + ns(C_MAC, CLIENT6, LAN_IP6)[-70:]
    bad_ns = bad_ns[:14 + 7] + b"\x40" + bad_ns[14 + 8:]               # hop limit 64
    arp_wan_ip = arp(1, C_MAC, CLIENT, "00:00:00:00:00:00", WAN_IP)     # WAN's IP asked on LAN
    echo_vlan = icmp4_echo(C_MAC, lan_mac, CLIENT, LAN_IP, vlans=[(ETH_VLAN, 7)])
    syn_to_us = tcp_frame(C_MAC, lan_mac, CLIENT, LAN_IP, 40000, 22, TCP_SYN)
    arp_reply_to_us = arp(2, C_MAC, CLIENT, lan_mac, LAN_IP)
    lan = [req_arp, req_echo, req_ns, req_echo6, bad_echo, bad_ns, arp_wan_ip, echo_vlan,
           syn_to_us, arp_reply_to_us]
    lan_out, wan_out, st = run("local", lan, [],
                               wan_extra="Gateway = 198.18.1.254\nGateway = 2001:2:0:1::fe")
    want_lan = [
        arp_reply_for(req_arp, lan_mac, LAN_IP),
        echo4_reply_for(req_echo, lan_mac, LAN_IP),
        na(lan_mac, C_MAC, LAN_IP6, CLIENT6, LAN_IP6),
        echo6_reply_for(req_echo6, lan_mac, LAN_IP6),
    ]
    # the TCP engine (branch tcp) answers a SYN to a closed local port with
    # RST+ACK (RFC 9293 3.10.7.1) instead of dropping it
    def is_rst(f):
        return len(f) >= 54 and f[12:14] == b"\x08\x00" and f[23] == 6 and \
            f[14 + 20 + 13] & 0x04 and f[14 + 20:14 + 22] == (22).to_bytes(2, "big")
    rsts = [f for f in lan_out if is_rst(f)]
    check(len(rsts) == 1, "one RST for the SYN to a closed local port (%d)" % len(rsts))
    lan_out = [f for f in lan_out if not is_rst(f)]
    same_frames(lan_out, want_lan, "answers on LAN")
    gw_arp = arp(1, wan_mac, WAN_IP, "00:00:00:00:00:00", "198.18.1.254")
    t = ip("2001:2:0:1::fe")
    gw_ns = ns(wan_mac, WAN_IP6, "2001:2:0:1::fe")
    bridged = [f for f in wan_out if f not in (gw_arp, gw_ns)]
    same_frames(bridged, [arp_wan_ip, echo_vlan], "not-ours bridged to WAN")
    check(gw_arp in wan_out, "gateway ARP request sent on WAN")
    check(gw_ns in wan_out, "gateway neighbour solicitation sent on WAN (%s)" % t.hex())
    check(st["drops"]["local_invalid"] == 2, "local_invalid %s" % st["drops"])
    # the SYN to a closed local port is the TCP engine's now (answered with RST)
    check(st["drops"]["local_unhandled"] == 0, "local_unhandled %s" % st["drops"])
    check(st["lan_drops"]["local_invalid"] == 2 and st["wan_drops"]["local_invalid"] == 0,
          "drops counted on the receiving port: %s %s" % (st["lan_drops"], st["wan_drops"]))
    check(st["lan"]["dropped"] == 2, "lan dropped %d" % st["lan"]["dropped"])
    check(st["lan"]["local_in"] == 8, "lan local_in %d" % st["lan"]["local_in"])
    check(st["lan"]["local_out"] == 4, "lan local_out %d" % st["lan"]["local_out"])


def scenario_local_reflect():
    """No answer goes to a broadcast or multicast address, or to a source
    that cannot have sent the request (RFC 1122 3.2.2.6, RFC 4861 7.1.1):
    each such request to us is dropped and counted local_invalid; an NS
    for our address sent to another host's unicast address is not ours
    (bridged)."""
    st0 = run("mac", [], [])[2]
    lm = st0["lan_mac"]
    arp_ok = arp(1, C_MAC, CLIENT, "00:00:00:00:00:00", LAN_IP)
    arp_sha_bcast = arp_ok[:22] + mac(BCAST) + arp_ok[28:]
    arp_eth_bcast = arp_ok[:6] + mac(BCAST) + arp_ok[12:]
    e = icmp4_echo(C_MAC, lm, CLIENT, LAN_IP)
    echo_eth_bcast = e[:6] + mac(BCAST) + e[12:]
    echo_eth_mcast = e[:6] + mac("01:00:5e:00:00:01") + e[12:]
    bad = [arp_sha_bcast, arp_eth_bcast, echo_eth_bcast, echo_eth_mcast]
    for src in ("224.0.0.1", "255.255.255.255", "0.1.2.3", "127.0.0.1", LAN_IP, "198.18.0.255"):
        bad.append(icmp4_echo(C_MAC, lm, src, LAN_IP))
    for src in ("ff02::1", "::", "::1", LAN_IP6):
        bad.append(icmp6_echo(C_MAC, lm, src, LAN_IP6))
    e6 = icmp6_echo(C_MAC, lm, CLIENT6, LAN_IP6)
    bad.append(e6[:6] + mac("33:33:00:00:00:01") + e6[12:])
    n = ns(C_MAC, CLIENT6, LAN_IP6)
    bad.append(n[:6] + mac(BCAST) + n[12:])                               # Ethernet source
    slla_at = len(n) - 6
    bad.append(n[:slla_at] + mac("33:33:00:00:00:01"))                    # multicast SLLA
    bad[-1] = fix_icmp6(bad[-1])
    ns_other = ns(C_MAC, CLIENT6, LAN_IP6, dst=SERVER6)
    lan_out, wan_out, st = run("local_reflect", bad + [ns_other, arp_ok], [])
    same_frames(lan_out, [arp_reply_for(arp_ok, lm, LAN_IP)], "only the valid ARP answered")
    same_frames(wan_out, [ns_other], "NS to another host's address bridged")
    check(st["drops"]["local_invalid"] == len(bad), "local_invalid %d, expected %d" %
          (st["drops"]["local_invalid"], len(bad)))


def scenario_qinq():
    """With Vlan = 7 the appliance answers only frames tagged exactly [7]:
    not S-VLAN 7 carrying C-VLAN 9 (bridged, not learnt)."""
    st0 = run("mac", [], [])[2]
    lm = st0["lan_mac"]
    one = arp(1, C_MAC, CLIENT, "00:00:00:00:00:00", LAN_IP, vlans=[(ETH_VLAN, 7)])
    qinq = arp(1, C_MAC, "198.18.0.11", "00:00:00:00:00:00", LAN_IP, vlans=[(ETH_QINQ, 7), (ETH_VLAN, 9)])
    echo_qinq = icmp4_echo(C_MAC, lm, "198.18.0.12", LAN_IP, vlans=[(ETH_QINQ, 7), (ETH_VLAN, 9)])
    lan_out, wan_out, st = run("qinq", [one, qinq, echo_qinq], [], lan_extra="Vlan = 7")
    check(len(lan_out) == 1 and lan_out[0][12:14] == b"\x81\x00" and lan_out[0][16:18] == b"\x08\x06",
          "one ARP reply tagged 7: %s" % [f[:20].hex() for f in lan_out])
    same_frames(wan_out, [qinq, echo_qinq], "QinQ 7/9 bridged")
    nb = st["lan_neighbours"]
    check(not any(n.startswith("198.18.0.11 ") or n.startswith("198.18.0.12 ") for n in nb),
          "QinQ sources learnt on VLAN 7: %s" % nb)


def scenario_malformed():
    """Runts and cut VLAN tags are dropped; every other malformed frame is
    bridged unchanged and counted; malformed frames to our MAC dropped."""
    st0 = run("mac2", [], [])[2]
    lan_mac = st0["lan_mac"]
    good = tcp_frame(C_MAC, S_MAC, CLIENT, SERVER, 40000, 80, TCP_SYN)
    good6 = tcp_frame(C_MAC, S_MAC, CLIENT6, SERVER6, 40000, 80, TCP_SYN)
    ip4 = good[14:]
    ip6 = good6[14:]
    hdr = good[:14]
    hdr6 = good6[:14]
    bad_ihl = bytearray(ip4); bad_ihl[0] = 0x43; bad_ihl[10:12] = b"\0\0"
    bad_ihl[10:12] = struct.pack("!H", csum(bytes(bad_ihl[:12])))  # noqa: E702
    long_total = ipv4(CLIENT, SERVER, 6, tcp(CLIENT, SERVER, 1, 2, TCP_SYN), total=400)
    short_total = ipv4(CLIENT, SERVER, 6, tcp(CLIENT, SERVER, 1, 2, TCP_SYN), total=10)
    cut_tcp = ipv4(CLIENT, SERVER, 6, tcp(CLIENT, SERVER, 1, 2, TCP_SYN)[:12])
    big_doff = bytearray(tcp(CLIENT, SERVER, 1, 2, TCP_SYN)); big_doff[12] = 0xF0  # noqa: E702
    big_doff = ipv4(CLIENT, SERVER, 6, bytes(big_doff))
    ip6_long = ipv6(CLIENT6, SERVER6, 6, tcp(CLIENT6, SERVER6, 1, 2, TCP_SYN), plen=300)
    # hop-by-hop header claiming 64 bytes in a 28-byte payload
    ext_cut = ipv6(CLIENT6, SERVER6, 0, b"\x06\x07" + b"\0" * 6 + tcp(CLIENT6, SERVER6, 1, 2, TCP_SYN))
    # hop-by-hop in second position
    ext_order = ipv6(CLIENT6, SERVER6, 60, b"\x00\x00" + b"\0" * 6 + b"\x06\x00" + b"\0" * 6
                     + tcp(CLIENT6, SERVER6, 1, 2, TCP_SYN))
    cases = [  # (n, frame, reason, bridged?)
        (1, good[:10], "runt", False),
        (2, hdr[:12] + b"\x81\x00\x00", "vlan_truncated", False),
        (3, hdr + bytes(bad_ihl), "ipv4_bad_header", True),
        (4, hdr + ipv4(CLIENT, SERVER, 6, tcp(CLIENT, SERVER, 1, 2, TCP_SYN), bad_csum=True),
         "ipv4_bad_checksum", True),
        (5, hdr + long_total, "ipv4_bad_length", True),
        (6, hdr + short_total, "ipv4_bad_length", True),
        (7, hdr + cut_tcp, "tcp_truncated", True),
        (8, hdr + big_doff, "tcp_truncated", True),
        (9, hdr6 + ip6_long, "ipv6_bad_length", True),
        (10, hdr6 + ext_cut, "ipv6_bad_ext_chain", True),
        (11, hdr6 + ext_order, "ipv6_bad_ext_chain", True),
        (12, hdr6 + ip6[:30], "ipv6_bad_header", True),
        (13, mac(lan_mac) + mac(C_MAC) + b"\x08\x00" + long_total, "ipv4_bad_length", False),
        (14, hdr + b"\x45", "ipv4_bad_header", True),
        (15, hdr[:12] + b"\x08\x06" + b"\0\x01\x08\x00\x06\x04", "arp_bad", True),
    ]
    lan = [c[1] for c in cases] + [good]
    _, wan_out, st = run("malformed", lan, [])
    same_frames(wan_out, [c[1] for c in cases if c[3]] + [good], "malformed bridged by rule")
    want = {}
    for _, _, reason, _ in cases:
        want[reason] = want.get(reason, 0) + 1
    for reason, n in st["malformed"].items():
        check(n == want.get(reason, 0), "malformed %s: %d counted, %d expected" % (reason, n, want.get(reason, 0)))
    check(st["drops"]["malformed"] == 2, "drops.malformed %d" % st["drops"]["malformed"])
    check(st["drops"]["malformed_to_us"] == 1, "drops.malformed_to_us %d" % st["drops"]["malformed_to_us"])
    check(st["flows"]["created"] == 1, "only the good SYN makes a flow: %s" % st["flows"])


def scenario_flows():
    """Fate at SYN: longest prefix then ports; unseen-SYN flows bridged
    for life; everything still bridged unchanged."""
    tenants = [
        dict(name="acme", client="198.18.0.0/24, 2001:2::/64", server="198.18.1.0/24, 2001:2:0:1::/64",
             ports="31031, 44046"),
        dict(name="globex", client="198.18.0.0/24", server="198.18.1.16/28", ports="31031, 5432"),
        dict(name="initech", client="198.18.0.10/32", server="198.18.1.0/24", ports="1000-2000"),
    ]
    c2 = "198.18.0.11"
    s2 = "198.18.1.40"
    F = []
    want = {"acme": [0, 0, 0], "globex": [0, 0, 0], "initech": [0, 0, 0]}  # flows, pkts, bytes

    def add(frame, tenant=None, new=False):
        F.append(frame)
        if tenant:
            want[tenant][1] += 1
            want[tenant][2] += len(frame)
            want[tenant][0] += int(new)

    # 1 SYN to SERVER (in .16/28) port 31031: globex (longer server prefix)
    add(tcp_frame(C_MAC, S_MAC, CLIENT, SERVER, 41000, 31031, TCP_SYN), "globex", True)
    add(tcp_frame(S_MAC, C_MAC, SERVER, CLIENT, 31031, 41000, TCP_SYN | TCP_ACK), "globex")
    add(tcp_frame(C_MAC, S_MAC, CLIENT, SERVER, 41000, 31031, TCP_ACK, data=b"r" * 200), "globex")
    # 2 SYN to s2 (outside /28) port 31031: acme
    add(tcp_frame(C_MAC, S_MAC, c2, s2, 41001, 31031, TCP_SYN), "acme", True)
    add(tcp_frame(S_MAC, C_MAC, s2, c2, 31031, 41001, TCP_RST | TCP_ACK, seq=0, ack=1001), "acme")
    # 3 SYN to SERVER port 44046: only acme has the port
    add(tcp_frame(C_MAC, S_MAC, CLIENT, SERVER, 41002, 44046, TCP_SYN), "acme", True)
    # 4 IPv6 SYN port 44046: acme
    add(tcp_frame(C_MAC, S_MAC, CLIENT6, SERVER6, 41003, 44046, TCP_SYN), "acme", True)
    # 5 SYN port 80: no tenant
    add(tcp_frame(C_MAC, S_MAC, CLIENT, SERVER, 41004, 80, TCP_SYN))
    # 6 mid-flow of an unseen flow on a tenant port: bridged for life, even
    #   when a retransmitted-looking SYN|ACK or data follow
    add(tcp_frame(C_MAC, S_MAC, CLIENT, SERVER, 41005, 31031, TCP_ACK, data=b"m" * 100))
    add(tcp_frame(S_MAC, C_MAC, SERVER, CLIENT, 31031, 41005, TCP_ACK))
    # 7 initech: client /32 port 1500 to s2 (acme/globex do not have the port)
    add(tcp_frame(C_MAC, S_MAC, CLIENT, s2, 41006, 1500, TCP_SYN), "initech", True)
    # 8 SYN from the server side: the SYN's sender is the client; no rule
    #   has SERVER as a client, so bridged
    add(tcp_frame(S_MAC, C_MAC, SERVER, CLIENT, 41007, 31031, TCP_SYN))
    # 9 VLAN-tagged flow matches too (rules are not per VLAN)
    add(tcp_frame(C_MAC, S_MAC, c2, s2, 41008, 44046, TCP_SYN, vlans=[(ETH_VLAN, 10)]), "acme", True)
    # 10 flow 2 was reset; a new SYN on the same tuple decides afresh
    add(tcp_frame(C_MAC, S_MAC, c2, s2, 41001, 31031, TCP_SYN), "acme", True)
    lan_out, wan_out, st = run("flows", F, [], tenants=tenants)
    same_frames(wan_out, F, "all flows bridged unchanged")
    for name, (flows, pkts, byts) in want.items():
        t = st["tenants"][name]
        check((t["flows"], t["packets"], t["bytes"]) == (flows, pkts, byts),
              "tenant %s: flows/packets/bytes %s, expected %s" %
              (name, (t["flows"], t["packets"], t["bytes"]), (flows, pkts, byts)))
    check(st["flows"]["unseen_syn"] == 1, "unseen_syn %d" % st["flows"]["unseen_syn"])
    # 9 distinct tuples plus one decided afresh after its RST
    check(st["flows"]["created"] == 10, "created %d" % st["flows"]["created"])
    check(st["flows"]["reused"] == 1, "reused %d" % st["flows"]["reused"])


def scenario_fate():
    """A flow's fate is not changed by a RST or FIN out of its window, and a
    flow whose SYN was not seen is not re-decided by a later SYN until it
    has expired."""
    tenants = [dict(name="t", client="198.18.0.0/24", server="198.18.1.0/24", ports="5000-6000")]
    c = lambda *a, **k: tcp_frame(C_MAC, S_MAC, CLIENT, SERVER, *a, **k)  # noqa: E731
    s = lambda *a, **k: tcp_frame(S_MAC, C_MAC, SERVER, CLIENT, *a, **k)  # noqa: E731
    F = [
        # 1 unseen flow, a spoofed RST at a random sequence number, a SYN:
        #   stays bridged (the reviewer's "rst-flip")
        c(20001, 5001, TCP_ACK, data=b"x" * 10, seq=1000),
        s(5001, 20001, TCP_RST, seq=12345678),
        c(20001, 5001, TCP_SYN, seq=1000),
        c(20001, 5001, TCP_ACK, data=b"y" * 10, seq=1010),
        # 2 decided flow: a RST out of window and a FIN out of window change
        #   nothing (a SYN on it is not a new connection), the in-window RST
        #   closes it and the next SYN decides afresh
        c(20002, 5002, TCP_SYN, seq=1000),
        s(5002, 20002, TCP_SYN | TCP_ACK, seq=5000, ack=1001),
        s(5002, 20002, TCP_RST, seq=999999),
        c(20002, 5002, TCP_FIN | TCP_ACK, seq=77777777, ack=5001),
        c(20002, 5002, TCP_SYN, seq=1000),
        s(5002, 20002, TCP_RST, seq=5001),
        c(20002, 5002, TCP_SYN, seq=90000),
        # 3 unseen flow, an in-window RST (it does close it), then a SYN: still
        #   bridged until the closed flow expires
        c(20003, 5003, TCP_ACK, data=b"z" * 10, seq=1000, ack=7000),
        s(5003, 20003, TCP_ACK, seq=7000, ack=1010),
        s(5003, 20003, TCP_RST, seq=7000),
        c(20003, 5003, TCP_SYN, seq=3000),
        # 4 a SYN in the first fragment of an IPv4 packet: not tracked (no
        #   reassembly; the fragments bridge untracked)
        eth(S_MAC, C_MAC, ETH_IP4, ipv4(CLIENT, SERVER, 6, tcp(CLIENT, SERVER, 20004, 5004, TCP_SYN),
                                        frag=0x2000)),
    ]
    lan_out, wan_out, st = run("fate", F, [], tenants=tenants)
    same_frames(wan_out, F, "all bridged unchanged")
    t = st["tenants"]["t"]
    check(t["flows"] == 2, "tenant flows %d, expected 2 (flow 2 and its new SYN)" % t["flows"])
    check(st["flows"]["reused"] == 1, "reused %d, expected 1" % st["flows"]["reused"])
    check(st["flows"]["unseen_syn"] == 2, "unseen_syn %d, expected 2" % st["flows"]["unseen_syn"])
    check(st["flows"]["created"] == 4, "created %d, expected 4 (none for the fragment)" % st["flows"]["created"])


def scenario_jumbo():
    """Frames longer than one mbuf (2 KiB of data) arrive in chained
    segments: well-formed, bridged unchanged and tracked (headers are in the
    first segment; lengths are checked against the whole frame). An echo
    request too long for one segment is not answered (local_unhandled)."""
    st0 = run("mac", [], [])[2]
    lan_mac = st0["lan_mac"]
    tenants = [dict(name="t", client="198.18.0.0/24, 2001:2::/64",
                    server="198.18.1.0/24, 2001:2:0:1::/64", ports="5000-6000")]
    F = [tcp_frame(C_MAC, S_MAC, CLIENT, SERVER, 10000, 5001, TCP_SYN),
         tcp_frame(C_MAC, S_MAC, CLIENT, SERVER, 10000, 5001, TCP_ACK, data=b"j" * 3000, seq=1001),
         tcp_frame(C_MAC, S_MAC, CLIENT6, SERVER6, 10001, 5001, TCP_SYN),
         tcp_frame(C_MAC, S_MAC, CLIENT6, SERVER6, 10001, 5001, TCP_ACK, data=b"k" * 5000, seq=1001),
         tcp_frame(C_MAC, S_MAC, CLIENT, SERVER, 10000, 5001, TCP_ACK, data=b"l" * 100, seq=4001)]
    big_echo = icmp4_echo(C_MAC, lan_mac, CLIENT, LAN_IP, data=b"E" * 3000)
    lan_out, wan_out, st = run("jumbo", F + [big_echo], [], tenants=tenants)
    same_frames(wan_out, F, "long frames bridged unchanged")
    check(not any(st["malformed"].values()), "malformed %s" % st["malformed"])
    t = st["tenants"]["t"]
    check((t["flows"], t["packets"], t["bytes"]) == (2, 5, sum(len(f) for f in F)),
          "tenant flows/packets/bytes %s" % ((t["flows"], t["packets"], t["bytes"]),))
    check(lan_out == [], "no answer to the long echo (%d frames)" % len(lan_out))
    check(st["drops"]["local_unhandled"] == 1, "local_unhandled %s" % st["drops"])


def scenario_neigh():
    """Learning: only sources inside the port's own prefix, never a
    multicast/broadcast sender hardware address; a configured gateway is
    pinned: thousands of off-link sources behind it (all with the
    gateway's MAC) neither fill the table nor evict it (no re-ARP)."""
    st0 = run("mac", [], [])[2]
    wan_mac = st0["wan_mac"]
    GW, GW_MAC = "198.18.1.254", "02:00:00:00:0f:fe"
    wan = [arp(2, GW_MAC, GW, wan_mac, WAN_IP)]
    for i in range(3000):
        src = "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)
        wan.append(tcp_frame(GW_MAC, C_MAC, src, CLIENT, 443, 1000 + i, TCP_ACK))
    # on-link senders: one learnt; one with a multicast sha, one with a
    # broadcast Ethernet source: not learnt
    wan.append(tcp_frame("02:00:00:00:05:07", C_MAC, "198.18.1.7", CLIENT, 443, 999, TCP_ACK))
    wan.append(arp(1, "01:00:5e:00:00:01", "198.18.1.8", "00:00:00:00:00:00", "198.18.1.99"))
    wan.append(tcp_frame(BCAST, C_MAC, "198.18.1.9", CLIENT, 443, 998, TCP_ACK))
    lan_out, wan_out, st = run("neigh", [], wan, wan_extra="Gateway = %s" % GW)
    reqs = [f for f in wan_out if f[12:14] == b"\x08\x06" and f[14 + 24:14 + 28] == ip(GW)]
    check(len(reqs) <= 1, "ARP requests for the gateway: %d, expected at most 1 (at start)" % len(reqs))
    nb = st["wan_neighbours"]
    check(any(n.startswith(GW + " ") and n.endswith(GW_MAC) for n in nb), "gateway learnt: %s" % nb[:5])
    check(not any(n.startswith("10.") for n in nb), "off-link sources learnt: %d" % len(nb))
    check(any(n.startswith("198.18.1.7 ") for n in nb), "on-link source learnt: %s" % nb)
    check(not any(n.startswith("198.18.1.8 ") or n.startswith("198.18.1.9 ") for n in nb),
          "multicast/broadcast senders learnt: %s" % nb)


def scenario_table_fill():
    """Spoofed mid-stream segments fill the flow table with unseen flows;
    a victim's SYN still gets a slot (it evicts the least recently seen
    bridged flow of its bucket) and is classified."""
    tenants = [dict(name="t", client="198.18.0.0/24", server="198.18.1.0/24", ports="5000-6000")]
    F = []
    for i in range(4000):
        src = "198.18.0.%d" % (100 + i % 100)
        F.append(tcp_frame(C_MAC, S_MAC, src, SERVER, 10000 + i, 443, TCP_ACK))
    F.append(tcp_frame(C_MAC, S_MAC, CLIENT, SERVER, 40000, 5001, TCP_SYN))
    lan_out, wan_out, st = run("table_fill", F, [], tenants=tenants)
    same_frames(wan_out, F, "all bridged unchanged")
    check(st["tenants"]["t"]["flows"] == 1, "tenant flows %d, expected 1 (table_full %d)" %
          (st["tenants"]["t"]["flows"], st["flows"]["table_full"]))
    check(st["flows"].get("evicted", 0) >= 1, "evicted %s" % st["flows"].get("evicted"))


def scenario_signals():
    """SIGINT and SIGTERM: what was received is sent, exit 0, counters written."""
    lan = [tcp_frame(C_MAC, S_MAC, CLIENT, SERVER, 40000 + i, 80, TCP_SYN) for i in range(50)]
    for s in (sig.SIGINT, sig.SIGTERM):
        _, wan_out, st = run("sig%d" % s, lan, [], signal=s)
        same_frames(wan_out, lan, "bridged before %s" % s.name)
        check(st["flows"]["created"] == 50, "%s: flows %s" % (s.name, st["flows"]))


def scenario_tenants64():
    """64 tenants, the most a configuration holds: each one's counters,
    the TCP engine's too (the 64th was refused: stack tenant i + 1 for
    configured tenant i, 64 slots)."""
    tenants = [dict(name="t%02d" % i, client="198.18.0.0/24", server="198.18.1.0/24",
                    ports=str(1000 + i)) for i in range(64)]
    lan = [tcp_frame(C_MAC, S_MAC, CLIENT, SERVER, 40000 + i, 1000 + i, TCP_SYN) for i in range(64)]
    names = [t["name"] for t in tenants]

    def during(prefix):
        r = telemetry(prefix, ["/strait/tenants"])
        check(r["/strait/tenants"] == names, "tenants: %s" % r["/strait/tenants"])
        for n in names:
            v = telemetry(prefix, ["/strait/tcp/tenant," + n])["/strait/tcp/tenant"]
            if not check(isinstance(v, dict) and v.get("name") == n and v.get("established") == 0,
                         "/strait/tcp/tenant,%s: %s" % (n, v)):
                break

    _, wan_out, st = run("tenants64", lan, [], tenants=tenants, signal=sig.SIGTERM, during=during)
    same_frames(wan_out, lan, "SYNs bridged")
    for n in names:
        if not check(st["tenants"][n]["flows"] == 1, "tenant %s: %s" % (n, st["tenants"][n])):
            break


SCENARIOS = [scenario_bridge, scenario_local, scenario_local_reflect, scenario_qinq, scenario_malformed, scenario_flows, scenario_fate, scenario_jumbo, scenario_neigh, scenario_table_fill,
             scenario_signals, scenario_tenants64]

for s in SCENARIOS:
    name = s.__name__[len("scenario_"):]
    if ONLY and name not in ONLY:
        continue
    print("==", name, "-", s.__doc__.split("\n")[0])
    s()
if failures:
    print("%d check(s) failed" % len(failures))
    sys.exit(1)
print("all scenarios passed")
