# SPDX-License-Identifier: BSD-3-Clause
"""The network namespaces strait-wanem is measured in (bench/wanem-check,
tests/wanem/; the drawing is at the top of tests/wanem/wanem_e2e.py): a
client netns wnc<id> (wc<id>, 198.18.100.1/24) and a server netns wns<id>
(ws<id>, 198.18.100.2/24), one subnet, joined through netns wnw<id> where
the emulator runs between wa<id> (IF_A) and wb<id> (IF_B), or (direct=True)
by one veth pair, the baseline.

The client's and server's interfaces have TSO, GSO and GRO off (the
emulator passes frames, not superframes); transmit checksum offload stays
on unless csum_offload=False, so the emulator completes partial checksums.
Static neighbours: no ARP frames among the measured ones.
"""
import json
import os
import signal
import subprocess
import time

CLIENT, SERVER = "198.18.100.1", "198.18.100.2"


def sh(*cmd, check=True, **kw):
    return subprocess.run(cmd, check=check, **kw)


class Lab:
    def __init__(self, wanem_bin, tag=None, csum_offload=True, direct=False):
        """direct: no emulator, the client's and server's interfaces are one
        veth pair (the baseline of what the machine passes)."""
        self.bin = os.path.abspath(wanem_bin)
        i = tag if tag is not None else os.getpid() % 100000
        self.nc, self.nw, self.ns = f"wnc{i}", f"wnw{i}", f"wns{i}"
        self.ifc, self.ifa, self.ifb, self.ifs = f"wc{i}", f"wa{i}", f"wb{i}", f"ws{i}"
        self.proc = None
        self.stats_path = f"/tmp/wanem-stats-{i}.json"
        self.log_path = f"/tmp/wanem-log-{i}.txt"
        self.csum_offload = csum_offload
        self.direct = direct

    def __enter__(self):
        try:
            self.up()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, *exc):
        self.down()

    def up(self):
        for n in (self.nc, self.nw, self.ns):
            sh("ip", "netns", "add", n)
            sh("ip", "-n", n, "link", "set", "lo", "up")
        if self.direct:
            sh("ip", "link", "add", self.ifc, "netns", self.nc, "type", "veth",
               "peer", "name", self.ifs, "netns", self.ns)
        else:
            sh("ip", "link", "add", self.ifc, "netns", self.nc, "type", "veth",
               "peer", "name", self.ifa, "netns", self.nw)
            sh("ip", "link", "add", self.ifs, "netns", self.ns, "type", "veth",
               "peer", "name", self.ifb, "netns", self.nw)
        for ns, ifn, addr in ((self.nc, self.ifc, CLIENT), (self.ns, self.ifs, SERVER)):
            sh("ip", "-n", ns, "addr", "add", addr + "/24", "dev", ifn)
            sh("ip", "-n", ns, "link", "set", ifn, "up")
            off = ["tso", "off", "gso", "off", "gro", "off"]
            if not self.csum_offload:
                off += ["tx", "off"]
            sh("ip", "netns", "exec", ns, "ethtool", "-K", ifn, *off,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            sh("ip", "netns", "exec", ns, "sysctl", "-qw",
               f"net.ipv6.conf.{ifn}.disable_ipv6=1", check=False)
        for ifn in () if self.direct else (self.ifa, self.ifb):
            sh("ip", "-n", self.nw, "link", "set", ifn, "up")
            sh("ip", "netns", "exec", self.nw, "sysctl", "-qw",
               f"net.ipv6.conf.{ifn}.disable_ipv6=1", check=False)
        # static neighbours: no ARP frames among the measured ones
        mac = {}
        for ns, ifn in ((self.nc, self.ifc), (self.ns, self.ifs)):
            out = sh("ip", "-n", ns, "-j", "link", "show", "dev", ifn,
                     capture_output=True, text=True).stdout
            mac[ns] = json.loads(out)[0]["address"]
        sh("ip", "-n", self.nc, "neigh", "replace", SERVER, "lladdr", mac[self.ns],
           "dev", self.ifc, "nud", "permanent")
        sh("ip", "-n", self.ns, "neigh", "replace", CLIENT, "lladdr", mac[self.nc],
           "dev", self.ifs, "nud", "permanent")

    def down(self):
        self.stop(check=False)
        for n in (self.nc, self.nw, self.ns):
            sh("ip", "netns", "del", n, check=False, stderr=subprocess.DEVNULL)
        for p in (self.stats_path, self.log_path):
            if os.path.exists(p):
                os.unlink(p)

    def start(self, *args):
        """Starts strait-wanem IF_A IF_B args... and waits for 'running'."""
        assert self.proc is None
        if os.path.exists(self.stats_path):
            os.unlink(self.stats_path)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.nw, self.bin, self.ifa, self.ifb,
             "--stats-json", self.stats_path, *args],
            stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(100):
            if "running" in self.output():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        out = self.output()
        self.stop(check=False)
        raise RuntimeError("strait-wanem did not start:\n" + out)

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, check=True):
        """SIGTERM, then the stats; None if it was not running."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        self.log.close()
        if check and rc != 0:
            raise RuntimeError(f"strait-wanem exited {rc}:\n" + self.output())
        try:
            with open(self.stats_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            if check:
                raise
            return None

    def pid(self):
        """The emulator's own pid (ip netns exec execs it in place)."""
        return self.proc.pid

    def cpu_seconds(self):
        with open(f"/proc/{self.pid()}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def client(self, *cmd, **kw):
        return subprocess.run(["ip", "netns", "exec", self.nc, *cmd], **kw)

    def server(self, *cmd, **kw):
        return subprocess.run(["ip", "netns", "exec", self.ns, *cmd], **kw)

    def server_bg(self, *cmd, **kw):
        return subprocess.Popen(["ip", "netns", "exec", self.ns, *cmd], **kw)

    def client_bg(self, *cmd, **kw):
        return subprocess.Popen(["ip", "netns", "exec", self.nc, *cmd], **kw)


def ping_rtts(lab, count, interval=0.01, size=56, timeout=60):
    """RTTs in ms of count pings client -> server (ping -i interval)."""
    r = lab.client("ping", "-n", "-c", str(count), "-i", str(interval),
                   "-s", str(size), "-W", "2", SERVER, capture_output=True, text=True,
                   timeout=timeout, check=False)
    rtts = []
    for line in r.stdout.splitlines():
        if "time=" in line:
            rtts.append(float(line.split("time=")[1].split()[0]))
    return rtts


def median(v):
    s = sorted(v)
    n = len(s)
    return (s[n // 2] + s[(n - 1) // 2]) / 2 if n else float("nan")


UDP_TOOL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wanem_udp.py")


def udp_run(lab, count, pps, size=64, port=9000, timeout=None):
    """count sequence-numbered datagrams client -> server at pps; the
    receiver's report (wanem_udp.recv)."""
    timeout = timeout or count / pps + 10
    rx = lab.server_bg("python3", UDP_TOOL, "recv", str(port), str(count), str(timeout),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rx.stderr.readline()   # "ready"
    lab.client("python3", UDP_TOOL, "send", SERVER, str(port), str(count), str(pps),
               str(size), check=True, timeout=timeout + 30)
    out, _ = rx.communicate(timeout=timeout + 30)
    return json.loads(out)
