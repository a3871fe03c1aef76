# SPDX-License-Identifier: BSD-3-Clause
"""The systems bench/wan-bench compares, each moving the same bytes from
the client to the server across the same namespaces and emulator:

  plain   the replication stream over plain TCP; A and B run straitd with
          no tenant (they only bridge)
  zstd    the stream through `zstd -3` at the client and `zstd -d` at the
          server, over plain TCP; A and B bridge as for plain
  vpn     a site-to-site OpenVPN tunnel between gateways A and B
          (openvpn.py), A and B routing
  strait  A and B run straitd with one tenant whose rule intercepts the
          benchmark port: A terminates the client's connection, the bytes
          cross the tenant's channel (dedupe, ESP), B originates the
          connection to the server

A system is started once per round (its appliances or gateways, its caches
cold), runs every phase in order, and is stopped. start() needs the
emulator running (handshakes cross it); the caller stops it afterwards.
"""
import base64
import json
import os
import shlex
import subprocess
import time

import openvpn
from topology import (CLIENT, LAN_ADDR, SERVER, SERVER_R, WAN_ADDR, Daemon)

PORT = 873                          # the benchmark's port (rsync's), the tenant's rule
HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "peer.py")
TENANT = "bench"                    # the strait system's tenant
INNER = {"a": "169.254.40.1", "b": "169.254.40.2"}   # its channel's inner addresses


def peer_cmd(*args):
    return " ".join(shlex.quote(a) for a in ("python3", PEER, *args))


# strait-wanem's profiles' link rates (bench/README.md): the strait
# tenant's [WAN] Rate and guarantee with --transport rate
LINK_RATE = {"metro": "1G", "regional": "100M", "transcon": "155M", "intercont": "45M",
             "geo-sat": "20M"}

class System:
    name = ""
    passes = 1                      # strait: 2 (cold cache, then warm)
    server_addr = SERVER

    def __init__(self, topo, work, opts):
        self.topo, self.work, self.opts = topo, work, opts

    def start(self, profile):
        pass

    def stop(self):
        pass

    def ends(self):
        """The long-lived processes whose CPU counts as each appliance's."""
        return {}

    def client_cmd(self, path):
        return peer_cmd("send", self.server_addr, str(PORT), path)

    def server_cmd(self, progress):
        return peer_cmd("recv", str(PORT), progress)

    def before_phase(self):
        pass

    def after_phase(self):
        """Checks after a phase (strait: the flow was optimized); a dict
        of the system's own figures for the phase, kept in its run."""
        return {}


class Straitd:
    """straitd in A and B on af_packet vdevs over their LAN and WAN veths."""

    def __init__(self, topo, work, straitd, tenants, wan_rate=None):
        self.topo, self.work, self.bin, self.tenants = topo, work, straitd, tenants
        self.wan_rate = wan_rate    # [WAN] Rate (the strait system: the profile's link)
        self.d = {}

    def write_configs(self):
        for side in ("a", "b"):
            d = os.path.join(self.work, f"straitd-{side}")
            os.makedirs(os.path.join(d, "tenants"), exist_ok=True)
            with open(os.path.join(d, "appliance.conf"), "w") as f:
                f.write(f"""[Appliance]
Name = wan-bench-{side}
Workers = 1
TenantDir = tenants
[LAN]
Port = net_af_packet0
Address = {LAN_ADDR[side]}/24
[WAN]
Port = net_af_packet1
Address = {WAN_ADDR[side]}/24
""" + (f"Rate = {self.wan_rate}\n" if self.wan_rate else ""))
            # this system's tenants only (plain after strait must bridge)
            tdir = os.path.join(d, "tenants")
            for name in os.listdir(tdir):
                if name.endswith(".conf"):
                    os.unlink(os.path.join(tdir, name))
            for name, text in self.tenants(side).items():
                with open(os.path.join(d, "tenants", name), "w") as f:
                    f.write(text)

    def start(self):
        self.write_configs()
        t = self.topo
        # both lcores of both appliances float over every CPU (pinned, the
        # two appliances' workers shared one CPU and starved each other)
        cpus = "(" + ",".join(str(c) for c in sorted(os.sched_getaffinity(0))) + ")"
        for side, lan, wan in (("a", "al", "aw"), ("b", "bl", "bw")):
            d = os.path.join(self.work, f"straitd-{side}")
            prefix = f"wan-bench-{side}-{t.tag}"
            argv = t.exec_argv(side, self.bin, "--no-huge", "--no-pci", "--iova-mode=va", "-m", "1024",
                               f"--lcores=0@{cpus},1@{cpus}", f"--file-prefix={prefix}", "--log-level=lib.eal:error",
                               f"--vdev=net_af_packet0,iface={t.if_[lan]}",
                               f"--vdev=net_af_packet1,iface={t.if_[wan]}",
                               "--", "-c", os.path.join(d, "appliance.conf"),
                               "--stats-json", os.path.join(d, "stats.json"))
            self.d[side] = Daemon(f"straitd {side.upper()}", argv, os.path.join(d, "straitd.log"),
                                  cleanup_paths=(f"/var/run/dpdk/{prefix}",))
            self.d[side].start(" up:", timeout=60)
            self.d[side].prefix = prefix

    def stop(self):
        bad = []
        for side, dm in self.d.items():
            rc = dm.stop()
            if rc != 0:
                bad.append(f"straitd {side.upper()} exited {rc}")
        self.d = {}
        if bad:
            raise RuntimeError("; ".join(bad))

    def telemetry(self, side, cmd):
        """One telemetry command's answer (dpdk-telemetry.py), parsed."""
        try:
            r = subprocess.run(["dpdk-telemetry.py", "-f", self.d[side].prefix], input=cmd + "\n",
                               capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            return None
        for line in r.stdout.splitlines():
            line = line.strip()
            if line.startswith("{"):
                return json.loads(line).get(cmd.split(",")[0])
        return None


class Bridged(System):
    """A and B bridge: straitd with no tenant."""

    def start(self, profile):
        self.app = Straitd(self.topo, self.work, self.opts.straitd, lambda side: {})
        self.app.start()
        for side in ("a", "b"):
            if self.app.telemetry(side, "/strait/relay"):
                self.app.stop()
                raise RuntimeError(f"{self.name}: straitd {side.upper()} has a tenant: "
                                   "it must only bridge")

    def stop(self):
        self.app.stop()

    def ends(self):
        return self.app.d


class Plain(Bridged):
    name = "plain"


class Zstd(Bridged):
    name = "zstd"

    def client_cmd(self, path):
        return f"set -o pipefail; zstd -3 -q -c {shlex.quote(path)} | " + \
            peer_cmd("send", self.server_addr, str(PORT), "-")

    def server_cmd(self, progress):
        return (f"set -o pipefail; {peer_cmd('recv', str(PORT), progress + '.wire', '--stdout')} | "
                f"zstd -d -q -c | {peer_cmd('hash', progress)}")


class Vpn(System):
    name = "vpn"
    server_addr = SERVER_R

    def start(self, profile):
        pki = os.path.join(self.work, "openvpn")
        if not os.path.exists(os.path.join(pki, "tc.key")):
            openvpn.make_pki(pki)
        self.topo.router_up()
        self.gw = {}
        try:
            for side in ("b", "a"):
                conf = openvpn.config(side, pki)
                self.gw[side] = Daemon(f"openvpn {side.upper()}",
                                       self.topo.exec_argv(side, "openvpn", "--config", conf),
                                       os.path.join(pki, f"{side}.log"))
            for side in ("b", "a"):
                self.gw[side].launch()
            for side in ("b", "a"):
                self.gw[side].wait_ready(openvpn.READY, timeout=90)
            for side in ("a", "b"):
                openvpn.check_log(self.gw[side].output())
        except BaseException:
            self.stop()
            raise

    def stop(self):
        for dm in getattr(self, "gw", {}).values():
            dm.stop()
        self.gw = {}
        self.topo.router_down()

    def ends(self):
        return self.gw


class Strait(System):
    """The two appliances optimizing the tenant's port: A terminates the
    client's connection, the relay encodes it into the tenant's channel
    (TCP inside its ESP tunnel), B decodes it and originates the
    connection to the server."""
    name = "strait"
    passes = 2

    def key(self):
        """The tenant's pre-shared key: 32 random bytes in base64, made
        for this run, mode 0600 (never logged)."""
        path = os.path.join(self.work, "bench.key")
        if not os.path.exists(path):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, base64.b64encode(os.urandom(32)) + b"\n")
            os.close(fd)
        with open(path, "rb") as f:
            return f.read()

    def tenants(self, side):
        peer = "b" if side == "a" else "a"
        d = os.path.join(self.work, f"straitd-{side}", "tenants")
        os.makedirs(d, exist_ok=True)
        kp = os.path.join(d, f"{TENANT}.key")
        if not os.path.exists(kp):
            fd = os.open(kp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, self.key())
            os.close(fd)
        return {f"{TENANT}.conf": f"""[Tenant]
Name = {TENANT}
Id = 1
KeyFile = {TENANT}.key
PeerDown = fail-closed
CacheSize = {self.opts.cache}
{f"CacheWindow = {self.opts.cache_window}" if self.opts.cache_window else ""}
[Interception]
ClientPrefix = {CLIENT}/32
ServerPrefix = {SERVER}/32
Ports = {PORT}
[Peer]
Endpoint = {WAN_ADDR[peer]}
InnerAddress = {INNER[side]}
PeerInnerAddress = {INNER[peer]}
[Bandwidth]
{self.bandwidth()}"""}

    def bandwidth(self):
        """What an operator configures for the profile's link: rate, the
        tenant guaranteed the whole provisioned link (the only tenant),
        paced at it whatever the random loss; bbr, the bottleneck measured
        (no guarantee needed); cubic, loss-based."""
        r = LINK_RATE.get(self.profile)
        if self.opts.transport == "rate" and r:
            return f"Guaranteed = {r}\nCeiling = {r}\nTransport = rate\n"
        return f"Transport = {self.opts.transport}\n"

    def start(self, profile):
        self.profile = profile
        self.app = Straitd(self.topo, self.work, self.opts.straitd, self.tenants,
                           LINK_RATE.get(profile) if self.opts.transport == "rate" else None)
        try:
            self.app.start()
            self.wait_channel()
        except BaseException:
            try:
                self.app.stop()
            except RuntimeError:
                pass            # the first error is the one to report
            raise

    def wait_channel(self, timeout=60):
        """Ready when both appliances' relay says the tenant's channel (in
        its ESP tunnel) carries flows: /strait/relay,bench channel up."""
        end = time.monotonic() + timeout
        state = {}
        while time.monotonic() < end:
            for side in ("a", "b"):
                # no answer yet: the worker has not set the tenant up
                r = self.app.telemetry(side, f"/strait/relay,{TENANT}") or {}
                state[side] = (r.get("channel", "no answer"), r.get("why"))
            if all(v[0] == "up" for v in state.values()):
                return
            time.sleep(0.2)
        raise RuntimeError(f"strait: tenant {TENANT}'s channel not up after {timeout} s "
                           f"(A {state.get('a')}, B {state.get('b')})")

    # relay counters of a phase (A's encoder side, B's decoder side)
    COUNTERS = ("intercepted", "done", "lan_bytes_in", "wan_bytes_out", "encoded_bytes",
                "cache_hits", "cache_misses", "resyncs_asked", "decode_errors", "flow_errors",
                "digest_errors")

    def relay(self):
        out = {}
        for side in ("a", "b"):
            for _ in range(5):      # a loaded machine: the script may time out
                r = self.app.telemetry(side, f"/strait/relay,{TENANT}")
                if r:
                    break
                time.sleep(1)
            else:
                raise RuntimeError(f"strait: straitd {side.upper()}'s telemetry did not answer")
            out[side] = r
        return out

    def channel(self):
        """A's channel TCP (/strait/tunnel,bench: retransmissions, RTT, cwnd)."""
        t = self.app.telemetry("a", f"/strait/tunnel,{TENANT}") or {}
        return t.get("channel") or {}

    def before_phase(self):
        self.r0 = self.relay()
        self.c0 = self.channel()

    def after_phase(self):
        """The phase's flow went through the relay: intercepted at A, no
        decode, flow or digest error at either end; A's relay counters of
        the phase (LAN bytes in, channel bytes out, cache hits)."""
        r1 = self.relay()
        d = {side: {k: r1[side].get(k, 0) - self.r0[side].get(k, 0) for k in self.COUNTERS}
             for side in ("a", "b")}
        if d["a"]["intercepted"] < 1:
            raise RuntimeError("strait: the phase's connection was not intercepted at A "
                               f"(relay A {r1['a']})")
        for side in ("a", "b"):
            bad = {k: d[side][k] for k in ("decode_errors", "flow_errors", "digest_errors")
                   if d[side][k]}
            if bad:
                raise RuntimeError(f"strait: relay {side.upper()} counted {bad} in the phase")
        a, c1 = d["a"], self.channel()
        return {"relay": {"intercepted": a["intercepted"], "lan_bytes_in": a["lan_bytes_in"],
                          "channel_bytes_out": a["wan_bytes_out"], "cache_hits": a["cache_hits"],
                          "cache_misses": a["cache_misses"], "resyncs": a["resyncs_asked"]},
                "channel_a": {"retrans_segs": c1.get("retrans_segs", 0) - self.c0.get("retrans_segs", 0),
                              "srtt_us": c1.get("srtt_us"), "min_rtt_us": c1.get("min_rtt_us"),
                              "cwnd": c1.get("cwnd")}}

    def stop(self):
        self.app.stop()

    def ends(self):
        return self.app.d


SYSTEMS = {s.name: s for s in (Plain, Zstd, Vpn, Strait)}
