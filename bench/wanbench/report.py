# SPDX-License-Identifier: BSD-3-Clause
"""bench/wan-bench's outputs from its list of runs: medians per profile,
system and phase, the figures of issue 13 as data, a Markdown table and a
gnuplot chart (time per phase per system, one panel per profile)."""
import json
import os
import statistics
import subprocess

from workloads import VM

PROFILES = {   # strait-wanem's profiles (bench/README.md), for titles
    "metro": "1 Gbit/s, 10 ms RTT, no loss",
    "regional": "100 Mbit/s, 50 ms RTT, 0.5 % loss",
    "transcon": "155 Mbit/s, 80 ms RTT, 0.1 % loss",
    "intercont": "45 Mbit/s, 150 ms RTT, 1 % loss",
    "geo-sat": "20 Mbit/s, 600 ms RTT, 0.5 % loss in bursts",
}
ENDS = ("client", "server", "a", "b", "wanem")


def label(run):
    return run["system"] + (" (warm)" if run["pass"] == 2 else "")


def med(v):
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None


def summarize(runs):
    """Medians over the rounds, keyed (profile, label, phase), in run order."""
    groups = {}
    for r in runs:
        groups.setdefault((r["profile"], label(r), r["phase"]), []).append(r)
    out = []
    for (profile, lab, phase), rs in groups.items():
        out.append({
            "profile": profile, "system": lab, "phase": phase, "runs": len(rs),
            "bytes": rs[0]["bytes"],
            "seconds": med(r["seconds"] for r in rs),
            "seconds_all": [r["seconds"] for r in rs],
            "goodput_bytes_per_s": med(r["goodput_bytes_per_s"] for r in rs),
            "wan_bytes": med(r["wan_bytes"] for r in rs),
            "wan_bytes_a2b": med(r["wan_bytes_a2b"] for r in rs),
            "cpu_s_per_gb": {e: med(r["cpu_s_per_gb"].get(e) for r in rs) for e in ENDS},
        })
    return out


def per_round_total(runs, profile, system, phases, pas=1):
    """{round: seconds of those phases} for rounds where all of them ran."""
    tot = {}
    for r in runs:
        if r["profile"] == profile and r["system"] == system and r["pass"] == pas \
                and r["phase"] in phases:
            tot.setdefault(r["round"], {})[r["phase"]] = r["seconds"]
    return {k: sum(v.values()) for k, v in tot.items() if set(v) == set(phases)}


def figures(runs):
    """Issue 13's targets as data: {"target", "measured", "pass"}; a figure
    whose runs are missing says so and has pass None."""
    out = []
    s = {sy: per_round_total(runs, "regional", sy, VM) for sy in ("plain", "vpn", "strait")}
    # the figure is the first pass (the cache starts cold, as a new link's
    # does); the second pass on the warm cache is given beside it
    s["strait (warm)"] = per_round_total(runs, "regional", "strait", VM, pas=2)
    for st, base, want in (("strait", "plain", 5.0), ("strait", "vpn", 2.0),
                           ("strait (warm)", "plain", 5.0), ("strait (warm)", "vpn", 2.0)):
        f = {"figure": f"regional, VM full + upgrade + clone: {base} seconds / {st} seconds",
             "target": f">= {want}"}
        rounds = sorted(set(s[base]) & set(s[st]))
        if rounds:
            ratio = med(s[base].values()) / med(s[st].values())
            f.update({"measured": round(ratio, 3), "pass": ratio >= want,
                      f"{base}_seconds": med(s[base].values()),
                      "strait_seconds": med(s[st].values()),
                      "per_round": [round(s[base][k] / s[st][k], 3) for k in rounds]})
        else:
            f.update({"measured": None, "pass": None, "note": f"needs {base} and strait on regional"})
        out.append(f)
    g = {}
    for r in runs:
        if r["profile"] == "metro" and r["phase"] == "random" and r["pass"] == 1:
            g.setdefault(r["system"], []).append(r["goodput_bytes_per_s"])
    f = {"figure": "metro, incompressible: strait goodput / plain goodput", "target": ">= 0.9"}
    if g.get("plain") and g.get("strait"):
        ratio = med(g["strait"]) / med(g["plain"])
        f.update({"measured": round(ratio, 3), "pass": ratio >= 0.9,
                  "plain_mbit_s": round(med(g["plain"]) * 8 / 1e6, 2),
                  "strait_mbit_s": round(med(g["strait"]) * 8 / 1e6, 2)})
    else:
        f.update({"measured": None, "pass": None, "note": "needs plain and strait on metro"})
    out.append(f)
    return out


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def markdown(summary, figs, meta):
    lines = []
    for profile in dict.fromkeys(s["profile"] for s in summary):
        lines.append(f"**{profile}** ({PROFILES.get(profile, 'strait-wanem --profile ' + profile)})\n")
        lines.append("| phase | system | seconds | goodput Mbit/s | WAN MB | raw / WAN | "
                     "CPU s/GB client | server | A | B |")
        lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for s in summary:
            if s["profile"] != profile:
                continue
            c = s["cpu_s_per_gb"]
            ratio = s["bytes"] / s["wan_bytes_a2b"] if s["wan_bytes_a2b"] else None
            lines.append(
                f"| {s['phase']} ({s['bytes'] / 1e6:.0f} MB) | {s['system']} | "
                f"{fmt(s['seconds'], '.2f')} | "
                f"{fmt(s['goodput_bytes_per_s'] and s['goodput_bytes_per_s'] * 8 / 1e6, '.1f')} | "
                f"{fmt(s['wan_bytes'] and s['wan_bytes'] / 1e6, '.1f')} | {fmt(ratio, '.2f')} | "
                f"{fmt(c['client'], '.2f')} | {fmt(c['server'], '.2f')} | {fmt(c['a'], '.2f')} | "
                f"{fmt(c['b'], '.2f')} |")
        lines.append("")
    lines.append("| figure | target | measured | pass |")
    lines.append("| --- | --- | ---: | --- |")
    for f in figs:
        p = {True: "yes", False: "**no**", None: "not run"}[f["pass"]]
        lines.append(f"| {f['figure']} | {f['target']} | {fmt(f['measured'], '.2f')} | {p} |")
    lines.append("")
    lines.append(f"Medians of {meta['runs']} rounds; load average {meta['loadavg_start']} at the "
                 f"start, {meta['loadavg_end']} at the end ({meta['host']['cpus']} CPUs). WAN MB: bytes "
                 "into the emulator, both directions; raw / WAN: the phase's bytes over the "
                 "client-to-server WAN bytes.")
    return "\n".join(lines) + "\n"


SYSTEM_ORDER = ("plain", "zstd", "vpn", "strait", "strait (warm)")


def chart(summary, png, title):
    """Time per phase per system, one panel per profile (log scale)."""
    profiles = list(dict.fromkeys(s["profile"] for s in summary))
    systems = [x for x in SYSTEM_ORDER if any(s["system"] == x for s in summary)]
    base = os.path.splitext(png)[0]
    plots = []
    for p in profiles:
        rows = {}
        for s in summary:
            if s["profile"] == p:
                rows.setdefault(s["phase"], {})[s["system"]] = s["seconds"]
        dat = f"{base}-{p}.dat"
        with open(dat, "w") as f:
            for phase, v in rows.items():
                f.write(phase + " " + " ".join("-" if v.get(x) is None else f"{v[x]:.4f}"
                                               for x in systems) + "\n")
        cols = ", ".join(f"'{dat if i == 0 else ''}' using {i + 2}{':xtic(1)' if i == 0 else ''} "
                         f"title '{x}'" for i, x in enumerate(systems))
        plots.append(f"set title '{p}: {PROFILES.get(p, '')}'\nplot {cols}")
    script = f"""set terminal pngcairo size {560 * len(profiles) + 80},480 noenhanced font 'sans,10'
set output '{png}'
set multiplot layout 1,{len(profiles)} title '{title}'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set format y '%g'
set ylabel 'seconds (log scale)'
set grid ytics
set datafile missing '-'
set key top right
set xtics nomirror rotate by -30
""" + "\n".join(plots) + "\nunset multiplot\n"
    with open(base + ".gp", "w") as f:
        f.write(script)
    subprocess.run(["gnuplot", base + ".gp"], check=True)
    for p in profiles:
        os.unlink(f"{base}-{p}.dat")
    os.unlink(base + ".gp")


def write(doc, out):
    """DIR/wan-bench.json (doc with its summary and figures), .md and .png
    from doc's runs and what is known of the run (a partial file has only
    the runs); returns the document written."""
    runs = doc["runs"]
    meta = dict(doc)
    meta.pop("summary", None)
    meta.pop("figures", None)
    meta.pop("runs")
    meta.setdefault("runs", max((r["round"] for r in runs), default=0))
    meta.setdefault("loadavg_start", "?")
    meta.setdefault("loadavg_end", "?")
    meta.setdefault("host", {"cpus": os.cpu_count()})
    summary = summarize(runs)
    figs = figures(runs)
    doc = dict(meta, figures=figs, summary=summary, runs=runs)
    base = os.path.join(out, "wan-bench")
    with open(base + ".json", "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    with open(base + ".md", "w") as f:
        f.write(markdown(summary, figs, meta))
    size = f"{meta['size_mib']} MiB workload, " if "size_mib" in meta else ""
    chart(summary, base + ".png", f"wan-bench: seconds per phase ({size}median of {meta['runs']})")
    return doc
