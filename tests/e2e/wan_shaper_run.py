# SPDX-License-Identifier: BSD-3-Clause
"""Step 2 of wan-shaper.sh (and bench/shaper-wan): starts A's channel tests
(discard) on the given tenants at once and samples each tenant's
/strait/tunnel,NAME once a second over one telemetry connection (spawning
dpdk-telemetry.py per sample takes seconds on a loaded machine).

  wan_shaper_run.py SOCKET SECS NAME:BYTES [NAME:BYTES ...]
  (BYTES 0: no test started, the tenant is only sampled)

Prints JSON: {"samples": [{"t": s, NAME: {"shaper": .., "test": ..}, ..}]}.
A sample counts for a tenant's rate ("busy") when its test runs and its
channel holds bytes back (unlimited demand, as the issue measures)."""
import json
import socket
import sys
import time


class Tel:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.s.connect(path)
        hello = json.loads(self.s.recv(65536).decode())
        self.max = int(hello.get("max_output_len", 65536))

    def get(self, cmd):
        self.s.send(cmd.encode())
        return json.loads(self.s.recv(self.max + 1024).decode())


def main():
    path, secs = sys.argv[1], int(sys.argv[2])
    tenants = [a.split(":") for a in sys.argv[3:]]
    tel = Tel(path)
    for name, nbytes in tenants:
        if nbytes == "0":
            continue
        r = tel.get(f"/strait/tunnel/test,{name},discard,{nbytes}")
        if r.get("/strait/tunnel/test", {}).get("started") != 1:
            sys.exit(f"{name}: test not started: {r}")
    t0 = time.monotonic()
    samples = []
    for i in range(1, secs + 1):
        time.sleep(max(0.0, t0 + i - time.monotonic()))
        row = {"t": round(time.monotonic() - t0, 3)}
        for name, _ in tenants:
            v = tel.get(f"/strait/tunnel,{name}")["/strait/tunnel"]
            row[name] = {"shaper": v["shaper"], "test": v["test"], "drops": v["drops"]}
            row[name]["busy"] = v["test"]["state"] == "running" and v["shaper"]["held_bytes"] > 0
        sys.stdout.flush()
        samples.append(row)
    json.dump({"samples": samples}, sys.stdout)


if __name__ == "__main__":
    main()
