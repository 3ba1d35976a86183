#!/usr/bin/env python3
"""Writes section "7. OCI runtime through go-runc" of BENCHMARKS.md from Benchmarks/oci.sh's results.

    oci_report.py BENCHMARKS.md RESULTS_DIR N VMM FC_NOTE COMMAND

Replaces an existing section 7, else inserts it before "## Exact commands" (or appends). Also prints it.
"""
import json
import sys

from bench_section import write_section
from pathlib import Path

TITLE = "## 7. OCI runtime through go-runc"


def latency(results, name):
    """The latency case's record, or None when it did not complete (a failed run still writes its file)."""
    try:
        r = json.loads((results / f"{name}.json").read_text())["cases"]["latency"]
    except (OSError, ValueError, KeyError):
        return None
    return r if "first_ms" in r and "exec_median_ms" in r and not r.get("problems") else None


def fmt(v):
    return f"{v:.1f} ms" if isinstance(v, (int, float)) else "–"


def main(bench_md, results, n, vmm, fc_note, command):
    results = Path(results)
    runc, fc = latency(results, "runc"), latency(results, "fc")
    out = [TITLE, "",
           f"containerd's go-runc (Debian's 1.0.0) drives each runtime as a worker does (`Tests/GoRunc`, case `latency`): "
           f"bundle → workload started is go-runc `Create` + `Start` returned, for the first VM (its rootfs tree is new "
           f"to the image cache, so it pays the conversion), for a second VM from the same unchanged bundle, and the "
           f"median of {n} more; one throwaway container from another bundle runs first in the same root, so what a "
           f"runtime pays once per root (QEMU's KVM probe) is in neither row. `Exec` is go-runc's `Exec` of `true` "
           f"with a `specs.Process` (median of {n}). "
           f"Same bundle definition for both runtimes (busybox-static, `sleep`), one after the other in this run.", "",
           "| runtime | bundle → started, 1st | 2nd, same bundle | median of the next | go-runc `Exec` round trip | Exec vs runc |",
           "|---|---|---|---|---|---|"]
    rows = []
    if fc:
        rows.append((f"fc-supervisor ({vmm})", fc))
    if runc:
        rows.append(("runc", runc))
    base = runc.get("exec_median_ms") if runc else None
    for name, r in rows:
        ratio = f"{r['exec_median_ms'] / base:.2f}×" if base and r.get("exec_median_ms") else "–"
        out.append(f"| {name} | {fmt(r.get('first_ms'))} | {fmt(r.get('second_ms'))} | {fmt(r.get('rest_median_ms'))} "
                   f"| {fmt(r.get('exec_median_ms'))} | {ratio} |")
    if not fc:
        out += ["", f"**fc-supervisor not measured in this run**: {fc_note or 'no results'}."]
    out += ["", f"    {command}", ""]
    section = "\n".join(out) + "\n"
    print(section)
    write_section(bench_md, TITLE, section)


if __name__ == "__main__":
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    main(*sys.argv[1:])
