# SPDX-License-Identifier: BSD-3-Clause
"""bench/wan-bench's network: five namespaces in a line (the drawing is at
the top of bench/wan-bench), the emulator between the appliances' WAN
ports, and the two ways an appliance namespace is used:

  straitd   A and B each run straitd on net_af_packet vdevs over their LAN
            and WAN veth ends (no kernel addresses there): plain and zstd
            (bridging only, no tenant) and strait (the tenant's port
            optimized); client and server share 198.18.40.0/24.
  router    A and B are Linux routers (kernel addresses, forwarding) with
            a VPN gateway on each: the client site is 198.18.42.0/24, the
            server site 198.18.43.0/24, the WAN between them 198.18.41.0/24.

Offloads as DESIGN.md says: the client's and server's veth ends have
checksum offload, TSO, GSO and GRO off; the appliance ends the same (GRO off
for af_packet; the rest for the router mode, whose kernel sends there too).
Neighbours are static where the kernel routes, so no ARP runs inside a
measurement. IPv6 is off in every namespace (no stray frames on the WAN).
"""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import wanem_lab  # noqa: E402  (the emulator's start/stop and stats)

SUBNET = "198.18.40"                     # bridged: client .10, server .20
CLIENT, SERVER = SUBNET + ".10", SUBNET + ".20"
LAN_ADDR = {"a": SUBNET + ".1", "b": SUBNET + ".2"}      # straitd's own LAN addresses
WAN_ADDR = {"a": "198.18.41.1", "b": "198.18.41.2"}      # appliances' WAN addresses (/24)
SITE = {"a": "198.18.42", "b": "198.18.43"}              # router mode: site subnets
CLIENT_R, SERVER_R = SITE["a"] + ".10", SITE["b"] + ".20"


def sh(*cmd, check=True, **kw):
    return subprocess.run(cmd, check=check, **kw)


def quiet(*cmd):
    """A command whose failure is expected or harmless (cleanup)."""
    return subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def proc_cpu_seconds(pid):
    """utime + stime of a live process, all its threads; None once gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Topology(wanem_lab.Lab):
    """The namespaces and veths; the emulator through wanem_lab.Lab's
    start()/stop() (it runs in ns W between IF_A = A's side and IF_B)."""

    def __init__(self, wanem_bin, tag):
        super().__init__(wanem_bin, tag=tag)
        self.tag = i = tag
        self.ns_ = {"c": f"wbc-{i}", "a": f"wba-{i}", "w": f"wbw-{i}", "b": f"wbb-{i}",
                    "s": f"wbs-{i}"}
        self.nw = self.ns_["w"]
        self.ifa, self.ifb = f"wbwa{i}", f"wbwb{i}"
        self.if_ = {"c": f"wbc{i}", "al": f"wbal{i}", "aw": f"wbaw{i}", "bw": f"wbbw{i}",
                    "bl": f"wbbl{i}", "s": f"wbs{i}"}
        self.stats_path = f"/tmp/wan-bench-wanem-{i}.json"
        self.log_path = f"/tmp/wan-bench-wanem-{i}.log"
        self.router = False

    # ------------------------------------------------------------ the wiring

    def up(self):
        for n in self.ns_.values():
            sh("ip", "netns", "add", n)
            for k in ("all", "default"):
                sh("ip", "netns", "exec", n, "sysctl", "-qw", f"net.ipv6.conf.{k}.disable_ipv6=1")
            sh("ip", "-n", n, "link", "set", "lo", "up")
        ns, i = self.ns_, self.if_
        for (n1, if1), (n2, if2) in (((ns["c"], i["c"]), (ns["a"], i["al"])),
                                     ((ns["a"], i["aw"]), (ns["w"], self.ifa)),
                                     ((ns["w"], self.ifb), (ns["b"], i["bw"])),
                                     ((ns["b"], i["bl"]), (ns["s"], i["s"]))):
            sh("ip", "link", "add", if1, "netns", n1, "type", "veth", "peer", "name", if2, "netns", n2)
        for side, ifn in (("c", "c"), ("a", "al"), ("a", "aw"), ("b", "bw"), ("b", "bl"), ("s", "s")):
            sh("ip", "netns", "exec", ns[side], "ethtool", "-K", i[ifn], "tx", "off", "tso", "off",
               "gso", "off", "gro", "off", stdout=subprocess.DEVNULL)
        for n, ifn in ((ns["c"], i["c"]), (ns["a"], i["al"]), (ns["a"], i["aw"]), (ns["w"], self.ifa),
                       (ns["w"], self.ifb), (ns["b"], i["bw"]), (ns["b"], i["bl"]), (ns["s"], i["s"])):
            sh("ip", "-n", n, "link", "set", ifn, "up")
        sh("ip", "-n", ns["c"], "addr", "add", CLIENT + "/24", "dev", i["c"])
        sh("ip", "-n", ns["s"], "addr", "add", SERVER + "/24", "dev", i["s"])
        self.neigh("c", "c", SERVER, "s", "s")
        self.neigh("s", "s", CLIENT, "c", "c")

    def down(self):
        self.stop(check=False)
        for n in self.ns_.values():
            for pid in sh("ip", "netns", "pids", n, check=False, capture_output=True,
                          text=True).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            quiet("ip", "netns", "del", n)
        for p in (self.stats_path, self.log_path):
            if os.path.exists(p):
                os.unlink(p)

    def mac(self, side, ifn):
        out = sh("ip", "-n", self.ns_[side], "-j", "link", "show", "dev", self.if_[ifn],
                 capture_output=True, text=True).stdout
        return json.loads(out)[0]["address"]

    def neigh(self, side, ifn, addr, peer_side, peer_if):
        """A permanent neighbour entry: addr is peer_if's MAC."""
        sh("ip", "-n", self.ns_[side], "neigh", "replace", addr, "lladdr",
           self.mac(peer_side, peer_if), "dev", self.if_[ifn], "nud", "permanent")

    def exec_argv(self, side, *cmd):
        return ["ip", "netns", "exec", self.ns_[side], *cmd]

    # ------------------------------------------------------ router mode (VPN)

    def router_up(self):
        """A and B become Linux routers: the client's site, the WAN, the
        server's site; client and server get a second address and a route
        to the other site through their gateway."""
        ns, i = self.ns_, self.if_
        for side, lan, wan in (("a", "al", "aw"), ("b", "bl", "bw")):
            sh("ip", "-n", ns[side], "addr", "add", SITE[side] + ".1/24", "dev", i[lan])
            sh("ip", "-n", ns[side], "addr", "add", WAN_ADDR[side] + "/24", "dev", i[wan])
            sh("ip", "netns", "exec", ns[side], "sysctl", "-qw", "net.ipv4.ip_forward=1")
        sh("ip", "-n", ns["c"], "addr", "add", CLIENT_R + "/24", "dev", i["c"])
        sh("ip", "-n", ns["s"], "addr", "add", SERVER_R + "/24", "dev", i["s"])
        sh("ip", "-n", ns["c"], "route", "replace", SITE["b"] + ".0/24", "via", SITE["a"] + ".1")
        sh("ip", "-n", ns["s"], "route", "replace", SITE["a"] + ".0/24", "via", SITE["b"] + ".1")
        self.neigh("c", "c", SITE["a"] + ".1", "a", "al")
        self.neigh("a", "al", CLIENT_R, "c", "c")
        self.neigh("a", "aw", WAN_ADDR["b"], "b", "bw")
        self.neigh("b", "bw", WAN_ADDR["a"], "a", "aw")
        self.neigh("b", "bl", SERVER_R, "s", "s")
        self.neigh("s", "s", SITE["b"] + ".1", "b", "bl")
        self.router = True

    def router_down(self):
        ns, i = self.ns_, self.if_
        self.router = False
        for side, ifns in (("a", ("al", "aw")), ("b", ("bl", "bw"))):
            for ifn in ifns:
                quiet("ip", "-n", ns[side], "addr", "flush", "dev", i[ifn])
                quiet("ip", "-n", ns[side], "neigh", "flush", "dev", i[ifn])
            quiet("ip", "netns", "exec", ns[side], "sysctl", "-qw", "net.ipv4.ip_forward=0")
        quiet("ip", "-n", ns["c"], "route", "del", SITE["b"] + ".0/24")
        quiet("ip", "-n", ns["s"], "route", "del", SITE["a"] + ".0/24")
        quiet("ip", "-n", ns["c"], "addr", "del", CLIENT_R + "/24", "dev", i["c"])
        quiet("ip", "-n", ns["s"], "addr", "del", SERVER_R + "/24", "dev", i["s"])
        quiet("ip", "-n", ns["c"], "neigh", "del", SITE["a"] + ".1", "dev", i["c"])
        quiet("ip", "-n", ns["s"], "neigh", "del", SITE["b"] + ".1", "dev", i["s"])


class Daemon:
    """A long-lived process in a namespace (straitd, openvpn): started with
    its output in a log file, ready when a line appears there, stopped by
    SIGTERM (SIGKILL after a grace period). Only processes started here
    are ever signalled."""

    def __init__(self, name, argv, log_path, cleanup_paths=()):
        self.name, self.argv, self.log_path = name, argv, log_path
        self.cleanup_paths = cleanup_paths
        self.proc = None
        self.offset = 0

    def start(self, ready, timeout):
        self.launch()
        self.wait_ready(ready, timeout)

    def launch(self):
        log = open(self.log_path, "ab")
        self.offset = log.tell()    # the log is shared by the runs: only this run's lines count
        self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()

    def wait_ready(self, ready, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if ready in self.output():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        out = self.output()
        self.stop()
        raise RuntimeError(f"{self.name} did not come up (no {ready!r} within {timeout} s); "
                           f"its log {self.log_path} ends:\n" + "\n".join(out.splitlines()[-15:]))

    def output(self):
        """What this run wrote to the log."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    @property
    def pid(self):
        return self.proc.pid       # ip netns exec execs the daemon in place

    def cpu_seconds(self):
        return proc_cpu_seconds(self.pid)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace=15):
        """SIGTERM, then the exit code (None if it had to be killed)."""
        if self.proc is None:
            return None
        rc = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        for p in self.cleanup_paths:
            subprocess.run(["rm", "-rf", p], check=False)
        return rc
