#!/usr/bin/env python3
"""Writes section "8. The guest against a C init" of BENCHMARKS.md from Benchmarks/guest.sh's work directory.

    guest_report.py BENCHMARKS.md WORKDIR MIB     rewrite the section (also printed)
    guest_report.py --json WORKDIR MIB            print the summary as JSON (the E2E short form reads it)
    guest_report.py --from-json BENCHMARKS.md SUMMARY.json   rewrite the section from such a summary

Replaces an existing section 8, else inserts it before "## Exact commands" (or appends). The section's notes (what
was tried on vm-init's start-up and memory, and what each step measured) come from Benchmarks/guest_notes.md.
"""
import json
import statistics
import sys

from bench_section import write_section
from pathlib import Path

TITLE = "## 8. The guest against a C init"
MIB = 1 << 20


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(work, mib):
    work = Path(work)
    boots = json.loads((work / "boots.json").read_text())
    runs = boots["runs"]
    s = {"rounds": max((r["round"] for r in runs), default=-1) + 1, "mib": int(mib), "qemu": boots["qemu"],
         "errors": [f"{r['init']} round {r['round'] + 1}: {r['error']}" for r in runs if "error" in r]}
    for init in ("cinit", "cinit-padded", "cinit-duties", "embedded-duties", "vm-init-full", "vm-init"):
        ok = [r for r in runs if r["init"] == init and "error" not in r]
        if init != "cinit" and init != "vm-init" and not ok:
            continue
        t = [r["timings_us"] for r in ok]
        entry = {"boots": len(ok), "first_byte_ms": median([r["first_byte_ms"] for r in ok]),
                 "first_byte_all_ms": [round(r["first_byte_ms"]) for r in ok]}
        # The first request served: the answer to a ping the host sends on the greeting or hello.
        served = [r for r in ok if "served_ms" in r]
        entry["served_ms"] = median([r["served_ms"] for r in served])
        entry["first_byte_to_served_ms"] = median([r["served_ms"] - r["first_byte_ms"] for r in served])
        # The guest's CLOCK_BOOTTIME starts with the kernel; what the first byte took beyond the guest's own
        # "connected" milestone is QEMU's start before the kernel runs (and the host's read).
        entry["qemu_to_kernel_ms"] = median([r["first_byte_ms"] - x["connected"] / 1000 for r, x in zip(ok, t)
                                             if "connected" in x])
        # The same milestone on the guest's clock (kernel start → greeting or hello sent): without QEMU's start and
        # the host's side.
        entry["connected_ms"] = median([x["connected"] / 1000 for x in t if "connected" in x])
        if not init.startswith("vm-init"):
            entry["kernel_to_main_ms"] = median([x["main"] / 1000 for x in t])
            entry["main_to_hello_ms"] = median([(x["connected"] - x["main"]) / 1000 for x in t])
            if init in ("cinit-duties", "embedded-duties"):
                # Its duties (main → done) and how many of their steps failed in any boot (0: all of them ran).
                entry["main_to_duties_ms"] = median([(x["duties"] - x["main"]) / 1000 for x in t if "duties" in x])
                entry["duties_to_hello_ms"] = median([(x["connected"] - x["duties"]) / 1000 for x in t if "duties" in x])
                entry["duties_failed"] = max((r.get("duties_failed", 0) for r in ok), default=0)
            if init != "cinit":
                s[init] = entry
                continue
            entry["raw_out_mib_s"] = median([r.get("out_mib_s") for r in ok])
            entry["raw_in_mib_s"] = median([r.get("in_mib_s") for r in ok])
        else:
            def gap(a, b):
                return median([(x[b] - x[a]) / 1000 for x in t if a in x and b in x])
            entry["kernel_to_pid1_ms"] = median([x["start"] / 1000 for x in t if "start" in x])
            entry["pid1_to_main_ms"] = gap("start", "main")
            entry["kernel_to_main_ms"] = median([x["main"] / 1000 for x in t if "main" in x])
            entry["main_to_mounted_ms"] = gap("main", "mounted")
            entry["mounted_to_hello_ms"] = gap("mounted", "connected")
            entry["main_to_hello_ms"] = gap("main", "connected")
            # Its parts, where vm-init marks them: logging and configuration, the agent's event loop and signals,
            # finding and opening the port, the hello (the workload duties and session cgroups follow the hello).
            steps = ["mounted", "agent", "signals", "port", "connected"]
            entry["mounted_to_hello_split_ms"] = {f"{a}→{b}": gap(a, b) for a, b in zip(steps, steps[1:])
                                                  if gap(a, b) is not None}
            entry["timing_keys"] = sorted(set().union(*[set(x) for x in t])) if t else []
            # Per boot: a port not yet announced when vm-init first looks costs a whole retry interval (1 s).
            entry["mounted_to_hello_all_ms"] = [round((x["connected"] - x["mounted"]) / 1000) for x in t
                                                if "mounted" in x and "connected" in x]
        s[init] = entry
    # Rows of guest.sh: round, stdout bytes and seconds, stdin bytes and seconds, vm-init's CPU ms out and in,
    # then rate_sink's line for stdout and for stdin (bytes, the first read's bytes, first and last read's ns),
    # then dd's stdout bytes and seconds and rate_sink's line for it, then head's stdin the same way.
    rows = [line.split() for line in (work / "exec.txt").read_text().splitlines() if line.strip()]
    total = int(mib) * MIB
    # The C init's raw channel from the boots interleaved with the exec rounds (all boots' when there are none).
    raw = [r for f in sorted(work.glob("raw-*.json")) for r in json.loads(f.read_text())["runs"] if "error" not in r]
    if raw:
        s["cinit"]["raw_out_mib_s"] = median([r.get("out_mib_s") for r in raw])
        s["cinit"]["raw_in_mib_s"] = median([r.get("in_mib_s") for r in raw])
        s["cinit"]["raw_boots"] = len(raw)

    def transfer(line):
        # From the first read's return to the last's: the bytes read after the first read, over that time.
        nbytes, first_bytes, first_ns, last_ns = (int(x) for x in line)
        return (nbytes - first_bytes) / MIB / ((last_ns - first_ns) / 1e9) if nbytes == total and last_ns > first_ns else None

    ok_out = [r for r in rows if int(r[1]) == total]
    ok_in = [r for r in rows if int(r[3]) == total]
    # The whole `fc-supervisor exec` (wall clock: client, exec, spawn in the guest, transfer, exit) ...
    s["exec_stdout_whole_mib_s"] = median([total / MIB / float(r[2]) for r in ok_out])
    s["exec_stdin_whole_mib_s"] = median([total / MIB / float(r[4]) for r in ok_in])
    # ... and the transfer alone, first to last byte at the consumer: what the bars compare.
    s["exec_stdout_mib_s"] = median([transfer(r[7:11]) for r in ok_out])
    s["exec_stdin_mib_s"] = median([transfer(r[11:15]) for r in ok_in])
    # What the whole exec adds to the transfer (stdout: both timed on the host).
    s["exec_stdout_overhead_ms"] = median([(float(r[2]) - (int(r[10]) - int(r[9])) / 1e9) * 1000 for r in ok_out])
    # The same stdout with dd as the producer.
    ok_dd = [r for r in rows if len(r) >= 21 and int(r[15]) == total]
    s["exec_dd_stdout_mib_s"] = median([transfer(r[17:21]) for r in ok_dd])
    s["exec_dd_stdout_whole_mib_s"] = median([total / MIB / float(r[16]) for r in ok_dd])
    # The same stdin with head, which also clears each block from /dev/zero, as the producer.
    ok_head = [r for r in rows if len(r) >= 27 and int(r[21]) == total]
    s["exec_head_stdin_mib_s"] = median([transfer(r[23:27]) for r in ok_head])
    s["exec_rounds"] = len(rows)
    s["vminit_cpu_out_ms"] = median([float(r[5]) for r in rows])
    s["vminit_cpu_in_ms"] = median([float(r[6]) for r in rows])
    s["exec_failures"] = [" ".join(r) for r in rows
                          if int(r[1]) != total or int(r[3]) != total or len(r) < 27 or int(r[15]) != total
                          or int(r[21]) != total]
    s["rss_kib"] = json.loads((work / "rss.json").read_text())
    s["binary_bytes"] = int((work / "vminit-size").read_text())
    s["vminit_cpio_bytes"] = int((work / "vminit-cpio-size").read_text())
    s["cinit_cpio_bytes"] = int((work / "cinit-cpio-size").read_text())
    padded = work / "cinit-padded-cpio-size"
    s["cinit_padded_cpio_bytes"] = int(padded.read_text()) if padded.exists() else None
    embedded = work / "embedded-size"
    s["embedded_bytes"] = int(embedded.read_text()) if embedded.exists() else None
    full = work / "vminit-full-size"
    s["vminit_full_bytes"] = int(full.read_text()) if full.exists() else None
    s["machine"] = (work / "machine").read_text().strip()
    return s


def fmt(v, unit="", digits=0):
    return "–" if v is None else f"{v:.{digits}f}{unit}"


def bar(ok):
    return "–" if ok is None else ("**met**" if ok else "**not met**")


def split_table(c, v, p, d, e, f):
    """The "where the boot goes" rows: the C init, vm-init and (with its row) vm-init's full Swift build."""
    def row(step, cinit, key, digits=0, entry_value=None):
        cells = [step, cinit, fmt(v.get(key), " ms", digits) if key else ""]
        if f:
            cells.append(fmt(f.get(key), " ms", digits) if key else "")
        return "| " + " | ".join(cells) + " |"
    head = ["| step | C init | vm-init |" + (" vm-init, full build |" if f else ""), "|---|---|---|" + ("---|" if f else "")]
    steps = list(v.get("mounted_to_hello_split_ms", {}))
    rows = [row("QEMU start → kernel, plus (vm-init) encoding and delivering hello: first byte − guest `connected`",
                fmt(c["qemu_to_kernel_ms"], " ms"), "qemu_to_kernel_ms"),
            row("kernel → PID 1 runs (`start`; the C init: its `main`)", fmt(c["kernel_to_main_ms"], " ms")
                + (f" (padded: {fmt(p['kernel_to_main_ms'], ' ms')})" if p else ""), "kernel_to_pid1_ms"),
            row("PID 1 → `main` (libc, and the Swift runtime's start-up in the full build)", "–", "pid1_to_main_ms", 1),
            row("`main` → mounted", "–", "main_to_mounted_ms", 1),
            row("mounted → hello sent (C init: `main` → port open, greeting sent)", fmt(c["main_to_hello_ms"], " ms", 1),
                "mounted_to_hello_ms", 1)]
    tail = [row("first byte → first request served (the host's hello and ping; vm-init: after its workload duties "
                "and session cgroups)", fmt(c.get("first_byte_to_served_ms"), " ms", 1), "first_byte_to_served_ms", 1)]
    for k in steps:
        cells = [f"&nbsp;&nbsp;vm-init {k}", "", fmt(v["mounted_to_hello_split_ms"].get(k), " ms", 1)]
        if f:
            cells.append(fmt(f.get("mounted_to_hello_split_ms", {}).get(k), " ms", 1))
        rows.append("| " + " | ".join(cells) + " |")
    if d:
        rows.append(row("C init with vm-init's duties: `main` → duties done, then → port open and greeting sent "
                        "(vm-init: `main` → hello sent)",
                        f"{fmt(d['main_to_duties_ms'], ' ms', 1)}, then {fmt(d['duties_to_hello_ms'], ' ms', 1)}",
                        "main_to_hello_ms", 1))
    if e:
        cells = ["the same in Embedded Swift: `main` → duties done, then → port open and greeting sent",
                 f"{fmt(e['main_to_duties_ms'], ' ms', 1)}, then {fmt(e['duties_to_hello_ms'], ' ms', 1)}", ""]
        rows.append("| " + " | ".join(cells + ([""] if f else [])) + " |")
    return head + rows + tail


def section(s, notes):
    c, v, p, d, e = s["cinit"], s["vm-init"], s.get("cinit-padded"), s.get("cinit-duties"), s.get("embedded-duties")
    f = s.get("vm-init-full")
    f_ratio = f["first_byte_ms"] / c["first_byte_ms"] if f and f["first_byte_ms"] and c["first_byte_ms"] else None
    f_size = f", {s['vminit_full_bytes'] / MIB:.1f} MiB" if f and s.get("vminit_full_bytes") else ""
    ratio = v["first_byte_ms"] / c["first_byte_ms"] if v["first_byte_ms"] and c["first_byte_ms"] else None
    p_ratio = p["first_byte_ms"] / c["first_byte_ms"] if p and p["first_byte_ms"] and c["first_byte_ms"] else None
    d_ratio = d["first_byte_ms"] / c["first_byte_ms"] if d and d["first_byte_ms"] and c["first_byte_ms"] else None
    e_ratio = e["first_byte_ms"] / c["first_byte_ms"] if e and e["first_byte_ms"] and c["first_byte_ms"] else None
    e_size = f", {s['embedded_bytes'] / MIB:.2f} MiB stripped" if e and s.get("embedded_bytes") else ""
    g_ratio = v["connected_ms"] / c["connected_ms"] if v.get("connected_ms") and c.get("connected_ms") else None
    s_ratio = v["served_ms"] / c["served_ms"] if v.get("served_ms") and c.get("served_ms") else None
    ds_ratio = d["served_ms"] / c["served_ms"] if d and d.get("served_ms") and c.get("served_ms") else None

    def share(exec_mib_s, raw_mib_s):
        return exec_mib_s / raw_mib_s if exec_mib_s and raw_mib_s else None
    out_pct = share(s["exec_stdout_mib_s"], c["raw_out_mib_s"])
    in_pct = share(s["exec_stdin_mib_s"], c["raw_in_mib_s"])
    out_whole = share(s.get("exec_stdout_whole_mib_s"), c["raw_out_mib_s"])
    in_whole = share(s.get("exec_stdin_whole_mib_s"), c["raw_in_mib_s"])
    dd_pct = share(s.get("exec_dd_stdout_mib_s"), c["raw_out_mib_s"])
    head_pct = share(s.get("exec_head_stdin_mib_s"), c["raw_in_mib_s"])
    rss = s["rss_kib"]
    idle = rss["idle"].get("VmRSS")
    thousand = rss["sessions"].get("1000", {}).get("VmRSS")
    size_mib = s["binary_bytes"] / MIB
    lines = [TITLE, "",
             f"One run of `make bench BENCH_ONLY=guest` (Benchmarks/guest.sh) on {s['machine']}. Same kernel "
             f"(`build/vmlinux`) and the QEMU command line of fc-supervisor's QEMU driver: `-M microvm` under TCG, 1 vCPU, "
             f"512 MiB, no console, virtio-rng. The floor is a minimal static C init (Benchmarks/guest_init.c, "
             f"`gcc -static`: mounts sysfs and devtmpfs, finds the `vmchan` port, speaks), alone in a "
             f"{s['cinit_cpio_bytes'] / MIB:.2f} MiB initramfs; vm-init (`make vm-init-static`: built as Embedded Swift, "
             f"scripts/build-embedded.sh) is alone in `build/initramfs.cpio` ({s['vminit_cpio_bytes'] / MIB:.2f} MiB), "
             f"neither padded"
             + (f"; the same C init also boots from an initramfs padded with random bytes to "
                f"{s['cinit_padded_cpio_bytes'] / MIB:.2f} MiB, vm-init's size" if p else "")
             + ("; and the C init built with `-DDUTIES` does, in C and before it speaks, the kernel work vm-init does "
                "at boot (vm-init: the mounts it needs to find its port before its hello, the rest right after it, "
                "before it reads a frame): the other API mounts (proc, devpts, shm, run, tmp, cgroup2), `lo` up, Ctrl-Alt-Del "
                "off, the OOM and thrashing knobs, signalfd and epoll, the session cgroups and their controllers"
                if d else "")
             + (f"; and that same program written in Embedded Swift (Benchmarks/guest_init_embedded.swift, `swiftc "
                f"-enable-experimental-feature Embedded -Osize`, static with glibc{e_size}) does the same work in the "
                f"same order: Swift without its runtime and a full static binary's size" if e else "")
             + f". {s['rounds']} rounds, in the order C init{', padded C init' if p else ''}"
             f"{', C init with duties' if d else ''}{', Embedded Swift init with duties' if e else ''}"
             f"{', full build of vm-init' if f else ''}, vm-init in odd "
             f"rounds and the reverse in even ones; medians.", "",
             "| bar | C init | vm-init | ratio | target | |", "|---|---|---|---|---|---|",
             f"| QEMU start → first byte on the channel | {fmt(c['first_byte_ms'], ' ms')} | {fmt(v['first_byte_ms'], ' ms')} "
             f"| {fmt(ratio, '×', 2)} | ≤ 1.05× | {bar(ratio is not None and ratio <= 1.05 if ratio else None)} |",
             f"| &nbsp;&nbsp;the same on the guest's clock, kernel start → greeting or hello written (without QEMU's "
             f"start and the host's read; vm-init encodes its hello after it) | "
             f"{fmt(c.get('connected_ms'), ' ms')} | {fmt(v.get('connected_ms'), ' ms')} | {fmt(g_ratio, '×', 3)} | | |",
             f"| &nbsp;&nbsp;QEMU start → the first request served: the answer to a ping the host sends on the "
             f"greeting or hello (vm-init does its workload duties after its hello and before it reads a frame, so "
             f"this is when an `exec` could start"
             + (f"; the C init with vm-init's duties, which it does before it speaks: {fmt(d.get('served_ms'), ' ms')}, "
                f"{fmt(ds_ratio, '×', 2)}" if d else "")
             + f") | {fmt(c.get('served_ms'), ' ms')} | {fmt(v.get('served_ms'), ' ms')} | {fmt(s_ratio, '×', 2)} | | |",
             *([f"| &nbsp;&nbsp;the C init padded to vm-init's initramfs size: what the size alone costs | "
                f"{fmt(p['first_byte_ms'], ' ms')} | | {fmt(p_ratio, '×', 2)} | | |"] if p else []),
             *([f"| &nbsp;&nbsp;the C init doing vm-init's boot work before it speaks: what that work alone costs, "
                f"the floor for any init with vm-init's duties | {fmt(d['first_byte_ms'], ' ms')} | | {fmt(d_ratio, '×', 2)} "
                f"| | |"] if d else []),
             *([f"| &nbsp;&nbsp;the same boot work in Embedded Swift: what vm-init's job costs in Swift without its "
                f"runtime and a full static binary's size | {fmt(e['first_byte_ms'], ' ms')} | | {fmt(e_ratio, '×', 2)} "
                f"| | |"] if e else []),
             *([f"| &nbsp;&nbsp;vm-init's full Swift build (`build/vm-init-full`{f_size}, with the Swift runtime and "
                f"standard library), what guest images embedded before | {fmt(f['first_byte_ms'], ' ms')} | | "
                f"{fmt(f_ratio, '×', 2)} | | |"] if f else []),
             f"| stdout to the host: raw port vs `exec rate_source {s['mib']}` (the C init's loop: 1 MiB writes of one "
             f"buffer), first to last byte | "
             f"{fmt(c['raw_out_mib_s'], ' MiB/s')} | {fmt(s['exec_stdout_mib_s'], ' MiB/s')} | {fmt(out_pct and out_pct * 100, ' %')} "
             f"| ≥ 50 % | {bar(out_pct >= 0.5 if out_pct else None)} |",
             f"| &nbsp;&nbsp;the whole `exec` (wall clock, with its start and exit) | | "
             f"{fmt(s.get('exec_stdout_whole_mib_s'), ' MiB/s')} | {fmt(out_whole and out_whole * 100, ' %')} | | |",
             f"| &nbsp;&nbsp;`exec dd if=/dev/zero bs=1M count={s['mib']}` as the producer (dd also clears each block "
             f"from /dev/zero), first to last byte | | {fmt(s.get('exec_dd_stdout_mib_s'), ' MiB/s')} "
             f"| {fmt(dd_pct and dd_pct * 100, ' %')} | | |",
             f"| stdin from the host: raw port vs `rate_source {s['mib']} |` (the raw channel's host loop: 1 MiB writes of "
             f"one buffer) into `exec -i rate_sink` (1 MiB reads), first to last byte | "
             f"{fmt(c['raw_in_mib_s'], ' MiB/s')} | {fmt(s['exec_stdin_mib_s'], ' MiB/s')} | {fmt(in_pct and in_pct * 100, ' %')} "
             f"| ≥ 50 % | {bar(in_pct >= 0.5 if in_pct else None)} |",
             f"| &nbsp;&nbsp;the whole `exec` (wall clock, with its start and exit) | | "
             f"{fmt(s.get('exec_stdin_whole_mib_s'), ' MiB/s')} | {fmt(in_whole and in_whole * 100, ' %')} | | |",
             f"| &nbsp;&nbsp;`head -c {s['mib']}M /dev/zero |` as the producer (head also clears each block from "
             f"/dev/zero, on the host cores QEMU's vCPU thread runs on), first to last byte | | "
             f"{fmt(s.get('exec_head_stdin_mib_s'), ' MiB/s')} | {fmt(head_pct and head_pct * 100, ' %')} | | |",
             f"| vm-init RSS idle, after the first connection | | {fmt(idle, ' KiB')} | | ≤ 6 MiB (6144 KiB) "
             f"| {bar(idle <= 6 * 1024 if idle else None)} |",
             f"| vm-init RSS with 1,000 live sessions | | {fmt(thousand and thousand / 1024, ' MiB', 1)} | | ≤ 16 MiB "
             f"| {bar(thousand <= 16 * 1024 if thousand else None)} |",
             f"| static `build/vm-init` | {fmt(None)} | {size_mib:.1f} MiB | | ≤ 13.9 MiB | {bar(size_mib <= 13.9)} |",
             "", "Where the boot goes (medians; guest milestones are CLOCK_BOOTTIME, which starts with the kernel; "
             "vm-init's from `hello.boot_timings`: `start` is its first C constructor, `main` its Swift entry, "
             "`mounted` after proc, sysfs and devtmpfs, `connected` when the channel is open and hello is sent):", "",
             *split_table(c, v, p, d, e, f),
             "", f"Every boot, first byte in ms: C init {c['first_byte_all_ms']}, "
             + (f"padded C init {p['first_byte_all_ms']}, " if p else "")
             + (f"C init with duties {d['first_byte_all_ms']}, " if d else "")
             + (f"Embedded Swift init with duties {e['first_byte_all_ms']}, " if e else "")
             + (f"vm-init's full build {f['first_byte_all_ms']}, " if f else "") + f"vm-init {v['first_byte_all_ms']} "
             f"(vm-init's mounted → hello in each: {v.get('mounted_to_hello_all_ms', [])})."]
    if s["errors"]:
        lines += ["", "**Boots that failed in this run**: " + "; ".join(s["errors"]) + "."]
    for name, entry in (("C init", d), ("Embedded Swift init", e)):
        if entry and entry.get("duties_failed"):
            lines += ["", f"**The {name} with duties reported {entry['duties_failed']} step(s) that failed** in a boot: "
                      "its row understates that work."]
    lines += ["", f"vm-init's memory, guest `/proc/1/status` read through `exec cat` (that `cat` is a live session too), "
              f"KiB: idle {json.dumps(rss['idle'])}; "
              + "; ".join(f"{k} sessions {json.dumps({f: x for f, x in val.items()})}" for k, val in rss["sessions"].items())
              + f". Throughput: {s['exec_rounds']} rounds of each `exec`, interleaved with "
              f"{c.get('raw_boots', c['boots'])} boots of the C init that each moved the same bytes over the raw port "
              f"each way (1 MiB reads/writes; timed by the "
              f"host from its request to the last byte, out, or to the C init's `ok` after the last, in). An `exec` is "
              f"timed at its consumer (Benchmarks/rate_sink.c) from the return of its first read to that of its last, "
              f"over the bytes after the first read: the host's for stdout, the guest's for stdin; the whole `exec` "
              f"adds the client's start, the spawn of the process in the guest and the exit "
              f"({fmt(s.get('exec_stdout_overhead_ms'), ' ms')} for stdout, median)."
              + (f" Failed exec rounds: {s['exec_failures']}." if s["exec_failures"] else "")
              + (f" vm-init's own CPU time (guest /proc/1/stat utime + stime, 10 ms ticks) per transfer of {s['mib']} MiB: "
                 f"stdout {fmt(s['vminit_cpu_out_ms'], ' ms')}, stdin {fmt(s['vminit_cpu_in_ms'], ' ms')} (median); "
                 f"the output pipe is spliced to the port, stdin is read from the port and written to the pipe."
                 if s.get("vminit_cpu_out_ms") is not None else "")]
    if notes:
        lines += ["", notes.strip()]
    lines += ["", "    make bench BENCH_ONLY=guest        # Benchmarks/guest.sh; QEMU: " + " ".join(s["qemu"]), ""]
    return "\n".join(lines) + "\n"


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--json":
        json.dump(summarize(sys.argv[2], sys.argv[3]), sys.stdout, indent=1)
        print()
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--from-json":
        bench_md, summary = sys.argv[2], json.loads(Path(sys.argv[3]).read_text())
    elif len(sys.argv) == 4:
        bench_md, summary = sys.argv[1], summarize(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
    notes_file = Path(__file__).with_name("guest_notes.md")
    text_notes = notes_file.read_text() if notes_file.exists() else ""
    sec = section(summary, text_notes)
    print(sec)
    write_section(bench_md, TITLE, sec)


if __name__ == "__main__":
    main()
