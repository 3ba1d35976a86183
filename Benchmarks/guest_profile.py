#!/usr/bin/env python3
"""Attributes Benchmarks/guest_sampler.c's samples (run by Benchmarks/guest_profile.sh): per process and mode
(kernel or user) and per function, as shares of the busy samples (the idle task's are counted apart).

    guest_profile.py SAMPLES --vminit ELF [--system-map MAP] [--top N] [--label TEXT]

PID 1 is vm-init: its user addresses are named from ELF (the unstripped build of the binary the guest ran). Kernel
addresses are named from MAP (System.map of the guest kernel; without it they are counted as "kernel"). Other
processes' user addresses are not named (the workload, e.g. busybox dd, and the sampler itself).
"""
import argparse
import bisect
import collections
import subprocess
import sys

KERNEL_BASE = 0xFFFF000000000000


def symbols(pairs):
    pairs.sort()
    return [a for a, _ in pairs], [n for _, n in pairs]


def system_map(path):
    pairs = []
    for line in open(path):
        fields = line.split()
        if len(fields) == 3 and fields[1] in "tTwW":
            pairs.append((int(fields[0], 16), fields[2]))
    return symbols(pairs)


def elf_symbols(path):
    out = subprocess.run(["nm", "--defined-only", path], capture_output=True, text=True, check=True).stdout
    pairs = []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[1] in "tTwW":
            pairs.append((int(fields[0], 16), fields[2]))
    return symbols(pairs)


def name(table, address, fallback):
    if table is None:
        return fallback
    addresses, names = table
    i = bisect.bisect_right(addresses, address) - 1
    return names[i] if i >= 0 else fallback


def demangle(names):
    try:
        out = subprocess.run(["swift", "demangle", "--simplified"], input="\n".join(names), capture_output=True,
                             text=True, check=True).stdout.splitlines()
        return out if len(out) == len(names) else names
    except (OSError, subprocess.CalledProcessError):
        return names


def main():
    p = argparse.ArgumentParser()
    p.add_argument("samples")
    p.add_argument("--vminit", required=True)
    p.add_argument("--system-map")
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--label", default="")
    args = p.parse_args()
    kernel = system_map(args.system_map) if args.system_map else None
    vminit = elf_symbols(args.vminit)
    sampler_pid, lost = None, 0
    who, where = collections.Counter(), collections.Counter()
    for line in open(args.samples):
        if line.startswith("#"):
            words = line.split()
            sampler_pid, lost = int(words[3]), int(words[7])
            continue
        pid_text, ip_text = line.split()
        pid, ip = int(pid_text), int(ip_text, 16)
        process = ("idle" if pid == 0 else "vm-init" if pid == 1 else "sampler" if pid == sampler_pid
                   else "workload")
        mode = "kernel" if ip >= KERNEL_BASE else "user"
        who[(process, mode)] += 1
        if process == "idle":
            continue
        if mode == "kernel":
            function = name(kernel, ip, "kernel")
        elif process == "vm-init":
            function = name(vminit, ip, "?")
        else:
            function = "(user code)"
        where[(process, mode, function)] += 1
    total = sum(who.values())
    idle = who[("idle", "kernel")] + who[("idle", "user")]
    busy = total - idle
    if busy == 0:
        sys.exit("guest_profile.py: no busy samples")
    print(f"{args.label}{total} samples, {lost} lost; idle {100 * idle / total:.0f} % of them. "
          f"Shares of the {busy} busy samples:")
    for (process, mode), n in sorted(who.items(), key=lambda item: -item[1]):
        if process != "idle":
            print(f"  {100 * n / busy:5.1f} %  {process} {mode}")
    top = where.most_common(args.top)
    names = demangle([function for (_, _, function), _ in top])
    print(f"Hottest functions (of the busy samples):")
    for ((process, mode, _), n), function in zip(top, names):
        print(f"  {100 * n / busy:5.1f} %  {process:8s} {mode:6s} {function[:110]}")


if __name__ == "__main__":
    main()
