#!/usr/bin/env python3
"""Run a criterion bench several times and print the median of each benchmark's point estimate,
with ratios against the baselines measured in the same runs.

    python3 scripts/bench-medians.py --runs 3 -- cargo bench -p edge-persist-core --bench sessions

Ratios: in each group (`get/100000`, ...), every benchmark against the group's `quick_cache.*`
and `HashMap.*` entries.
"""
import argparse
import re
import statistics
import subprocess
import sys

UNITS = {"ps": 1e-3, "ns": 1.0, "µs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}
LINE = re.compile(r"^(\S+)\s+time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]")
NAME = re.compile(r"^(\S+/\S+)\s*$")


def parse(text):
    """criterion prints `name  time: [lo unit mid unit hi unit]`, sometimes with the name alone
    on the line before."""
    out, pending = {}, None
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            out[m.group(1)] = float(m.group(2)) * UNITS[m.group(3)]
            pending = None
            continue
        m = NAME.match(line)
        if m:
            pending = m.group(1)
            continue
        m = re.match(r"^\s+time:\s+\[\S+ \S+ (\S+) (\S+)", line)
        if m and pending:
            out[pending] = float(m.group(1)) * UNITS[m.group(2)]
            pending = None
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=1024, help="operations per criterion iteration")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    runs = []
    for i in range(a.runs):
        print(f"run {i + 1}/{a.runs}: {' '.join(cmd)}", file=sys.stderr)
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        runs.append(parse(done.stdout))
    names = sorted(set().union(*runs))
    med = {n: statistics.median(r[n] for r in runs if n in r) for n in names}
    print(f"| benchmark | median ns/op ({a.runs} runs) | Mops/s | vs quick_cache | vs HashMap |")
    print("|---|---|---|---|---|")
    for n in names:
        group, _, bench = n.rpartition("/")
        per_op = med[n] / a.batch if "/" in group or group.startswith(("get", "insert")) else med[n]
        op = bench.split(".")[-1]
        base = lambda kind: med.get(f"{group}/{kind}.{op}") or med.get(f"{group}/{kind}.get")
        ratio = lambda kind: f"{med[n] / base(kind):.2f}x" if base(kind) else "-"
        print(f"| {n} | {per_op:.1f} | {1e3 / per_op:.1f} | {ratio('quick_cache')} | {ratio('HashMap')} |")


if __name__ == "__main__":
    main()
