#!/usr/bin/env python3
"""Writes section "9. Snapshot and restore" of BENCHMARKS.md from Benchmarks/snapshot.sh's results.

    snapshot_report.py BENCHMARKS.md RESULTS N VMM COMMAND BINARY

RESULTS has lines `cold|checkpoint|restore MIB MS` and `event MIB {restored event JSON}`. Replaces an existing
section 9, else inserts it before "## Exact commands" (or appends). Also prints it.
"""
import os
import json
import statistics
import sys

from bench_section import write_section
from pathlib import Path

TITLE = "## 9. Snapshot and restore"


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))] if s else None


def fmt(v):
    return f"{v:.0f} ms" if isinstance(v, (int, float)) else "–"


def main(bench_md, results, n, vmm, command, binary):
    # Relative to the repository, so the section does not name the machine's checkout.
    binary = os.path.relpath(binary, os.path.dirname(os.path.abspath(bench_md)))
    rows, events = {}, {}
    for line in Path(results).read_text().splitlines():
        kind, mib, rest = line.split(" ", 2)
        if kind == "event":
            events.setdefault(int(mib), []).append(json.loads(rest).get("message", ""))
        else:
            rows.setdefault((kind, int(mib)), []).append(float(rest))
    out = [TITLE, "",
           f"Through runc's command line, {vmm}, one run, sizes interleaved, {n} runs each: a busybox counter workload "
           f"(`echo n=$i` every 100 ms). **Cold boot → exec-ready**: `run --detach` until `exec ID true` succeeds. "
           f"**Checkpoint**: `checkpoint --image-path DIR ID` (freeze, snapshot, manifest, VM stopped). **Restore → "
           f"exec-ready**: `restore --detach` of a clone (new id) until `exec ID true` succeeds. Each is one CLI call "
           f"plus the exec polling (every 5 ms). Binary: `{binary}`; a debug build spends about 2 s of each restore and "
           f"checkpoint call hashing the kernel (SHA-256, for the manifest) and rescanning the bundle, which the "
           f"supervisor's own restore timings below do not include.", "",
           "| memory | cold boot → exec-ready (median) | restore → exec-ready (median) | restore p99 | restore vs cold | checkpoint (median) | checkpoint p99 |",
           "|---|---|---|---|---|---|---|"]
    for mib in sorted({m for _, m in rows}):
        cold, restore, ckpt = rows.get(("cold", mib), []), rows.get(("restore", mib), []), rows.get(("checkpoint", mib), [])
        cm = statistics.median(cold) if cold else None
        rm = statistics.median(restore) if restore else None
        ratio = f"{rm / cm:.2f}× ({cm / rm:.1f}× faster)" if cm and rm else "–"
        out.append(f"| {mib} MiB | {fmt(cm)} | {fmt(rm)} | {fmt(pct(restore, 99))} | {ratio} | "
                   f"{fmt(statistics.median(ckpt) if ckpt else None)} | {fmt(pct(ckpt, 99))} |")
    if events:
        out += ["", "The restored supervisor's own timings (`restored` event), last run per size:", ""]
        for mib in sorted(events):
            out.append(f"- {mib} MiB: {events[mib][-1]}")
    out += ["", f"    {command}", ""]
    section = "\n".join(out) + "\n"
    print(section)
    write_section(bench_md, TITLE, section)


if __name__ == "__main__":
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    main(*sys.argv[1:])
