# SPDX-License-Identifier: BSD-3-Clause
"""bench/wan-bench's workloads: the files of bench/gen-workload (its
manifest gives each file's size and sha256) and incompressible data made
here. Each phase sends one file as one TCP connection, in this order."""
import hashlib
import json
import os
import random
import subprocess
import sys

MIB = 1 << 20

# name -> (file, gen-workload part, what it is)
WORKLOADS = {
    "full": ("full.img", "vm", "VM image, sent in full"),
    "upgrade": ("upgrade.delta", "vm", "its upgrade delta (changed blocks)"),
    "clone": ("clone.img", "vm", "a clone of the template VM, in full"),
    "dblog": ("db.wal", "dblog", "database log shipping (PostgreSQL WAL)"),
    "random": (None, None, "incompressible data"),
    "scattered": ("scattered.writes", "vm", "scattered 4 KiB writes"),
    "blockdev": ("blockdev.img", "blockdev", "block device image, in full"),
    "blockdev-writes": ("blockdev.writes", "blockdev", "its in-place rewrites"),
}
DEFAULT = ("full", "upgrade", "clone", "dblog", "random")
VM = ("full", "upgrade", "clone")     # the figure's phases


class Phase:
    def __init__(self, name, path, size, sha256):
        self.name, self.path, self.bytes, self.sha256 = name, path, size, sha256
        self.what = WORKLOADS[name][2]


def generator_parts(gen):
    """gen-workload's --parts, if this version has the option."""
    r = subprocess.run([sys.executable, gen, "--help"], capture_output=True, text=True)
    return "--parts" in r.stdout


def ensure(gen, wdir, size, seed, names, say):
    """The workload in wdir, generated if its manifest is missing or was
    made with other arguments; its manifest."""
    parts = sorted({WORKLOADS[n][1] for n in names if WORKLOADS[n][1]})
    try:
        with open(os.path.join(wdir, "manifest.json")) as f:
            m = json.load(f)
    except (OSError, ValueError):
        m = {}
    have = set(m.get("files", {}))
    want = {WORKLOADS[n][0] for n in names if WORKLOADS[n][0]}
    if m.get("size_mib") == size and m.get("seed") == seed and want <= have:
        return m
    argv = [sys.executable, gen, "--size", str(size), "--seed", str(seed), "--quiet", wdir]
    if generator_parts(gen):
        argv[2:2] = ["--parts", ",".join(parts)]
    say(f"generating the workload: {' '.join(argv[1:])}")
    subprocess.run(argv, check=True)
    with open(os.path.join(wdir, "manifest.json")) as f:
        m = json.load(f)
    missing = want - set(m.get("files", {}))
    if missing:
        raise SystemExit(f"wan-bench: {', '.join(sorted(missing))} not made by {gen} at this "
                         "commit; leave its workload out (--workloads)")
    return m


def random_file(path, mib, seed):
    """mib MiB of incompressible bytes, the same for the same seed
    (random.Random.randbytes); returns its sha256."""
    r = random.Random(f"wan-bench incompressible {seed}")
    h = hashlib.sha256()
    with open(path, "wb") as f:
        for _ in range(mib):
            b = r.randbytes(MIB)
            h.update(b)
            f.write(b)
    return h.hexdigest()


def phases(names, wdir, manifest, work, random_mib, seed):
    out = []
    for n in names:
        fname = WORKLOADS[n][0]
        if fname is None:
            path = os.path.join(work, "random.bin")
            out.append(Phase(n, path, random_mib * MIB, random_file(path, random_mib, seed)))
            continue
        e = manifest["files"].get(fname)
        if e is None:
            raise SystemExit(f"wan-bench: {fname} is not in {wdir} (manifest.json); its "
                             "generator at this commit does not make it: leave it out (--workloads)")
        out.append(Phase(n, os.path.join(wdir, fname), e["bytes"], e["sha256"]))
    return out


def check_inputs(ps):
    """Reads every input once (so no phase waits for the disk) and checks
    its sha256 against the manifest's: the client sends what it claims."""
    for p in ps:
        h = hashlib.sha256()
        with open(p.path, "rb") as f:
            while True:
                b = f.read(8 * MIB)
                if not b:
                    break
                h.update(b)
        if h.hexdigest() != p.sha256:
            raise SystemExit(f"wan-bench: {p.path}: sha256 {h.hexdigest()}, the manifest says "
                             f"{p.sha256}: regenerate it (bench/gen-workload)")
