# SPDX-License-Identifier: BSD-3-Clause
"""Step 5 of wan-shaper.sh: a live rate change. Starts A's channel test
(discard: unlimited demand) on one tenant, samples its /strait/tunnel,NAME
every 0.25 s over one telemetry connection, and at the planned times
rewrites the tenant's Guaranteed and Ceiling and sends A SIGHUP, noting the
wall clock just before the signal and when A's log says the reload was
done.

  wan_shaper_reload.py SOCKET PID LOG CONF NAME BYTES SECS AT:G:C [AT:G:C ...]

Prints JSON: {"samples": [{"w": wall s, "shaper": .., "test": ..}, ..],
"reloads": [{"sent": wall s, "done": wall s, "line": log line}, ..]}."""
import json
import os
import re
import signal
import sys
import time

from wan_shaper_run import Tel

MARK = "reload (SIGHUP)"


def reloads_in(log):
    with open(log, errors="replace") as f:
        return [line.strip() for line in f if MARK in line]


def reload(pid, log, conf, g, c):
    with open(conf) as f:
        text = f.read()
    text = re.sub(r"(?m)^Guaranteed = .*$", f"Guaranteed = {g}", text)
    text = re.sub(r"(?m)^Ceiling = .*$", f"Ceiling = {c}", text)
    with open(conf, "w") as f:
        f.write(text)
    before = len(reloads_in(log))
    sent = time.time()
    os.kill(pid, signal.SIGHUP)
    for _ in range(400):  # 20 s
        done = reloads_in(log)
        if len(done) > before:
            return {"sent": sent, "done": time.time(), "line": done[-1]}
        time.sleep(0.05)
    sys.exit("no reload line in the log after 20 s")


def main():
    sock, pid, log, conf, name, nbytes, secs = sys.argv[1:8]
    plan = [(float(a), g, c) for a, g, c in (p.split(":") for p in sys.argv[8:])]
    tel = Tel(sock)
    r = tel.get(f"/strait/tunnel/test,{name},discard,{nbytes}")
    if r.get("/strait/tunnel/test", {}).get("started") != 1:
        sys.exit(f"{name}: test not started: {r}")
    t0 = time.monotonic()
    samples, done = [], []
    for i in range(1, int(float(secs) * 4) + 1):
        if plan and time.monotonic() - t0 >= plan[0][0]:
            _, g, c = plan.pop(0)
            done.append(reload(int(pid), log, conf, g, c))
        time.sleep(max(0.0, t0 + i * 0.25 - time.monotonic()))
        v = tel.get(f"/strait/tunnel,{name}")["/strait/tunnel"]
        samples.append({"w": time.time(), "shaper": v["shaper"], "test": v["test"]})
    json.dump({"samples": samples, "reloads": done}, sys.stdout)


if __name__ == "__main__":
    main()
