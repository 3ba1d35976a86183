#!/usr/bin/env python3
"""Writes section "10. Health and metrics" of BENCHMARKS.md from Benchmarks/metrics.sh's results.

    metrics_report.py BENCHMARKS.md WINDOWS_FILE LAST_SCRAPE BINARY_NOTE

WINDOWS_FILE: lines `idle|scraped NS SECONDS` (CPU time on the loop thread from /proc/PID/schedstat). Replaces an existing
section 10, else inserts it before "## Exact commands" (or appends). Also prints it.
"""
import re
import sys

from bench_section import write_section
from pathlib import Path

TITLE = "## 10. Health and metrics"


def percent(rows):
    ticks = sum(t for t, _ in rows)
    seconds = sum(s for _, s in rows)
    return 100.0 * ticks / 1e9 / seconds if seconds else float("nan")


def histogram(scrape):
    """Ping RTT: count, mean and the smallest bucket bound holding half the samples (ms)."""
    buckets, total, count = [], 0.0, 0
    for line in scrape.splitlines():
        m = re.match(r'fc_vm_ping_rtt_seconds_bucket\{.*le="([^"]+)"\} (\S+)', line)
        if m and m.group(1) != "+Inf":
            buckets.append((float(m.group(1)), float(m.group(2))))
        elif line.startswith("fc_vm_ping_rtt_seconds_sum"):
            total = float(line.split()[-1])
        elif line.startswith("fc_vm_ping_rtt_seconds_count"):
            count = int(float(line.split()[-1]))
    median_bound = next((b for b, c in buckets if count and c >= count / 2), None)
    return count, (1000 * total / count if count else None), (1000 * median_bound if median_bound else None)


def main(bench_md, windows_file, scrape_file, binary):
    rows = [line.split() for line in Path(windows_file).read_text().splitlines() if line.strip()]
    idle = [(int(t), float(s)) for kind, t, s in rows if kind == "idle"]
    scraped = [(int(t), float(s)) for kind, t, s in rows if kind == "scraped"]
    count, mean_ms, median_ms = histogram(Path(scrape_file).read_text())
    idle_pct, scraped_pct = percent(idle), percent(scraped)
    added = scraped_pct - idle_pct
    out = [TITLE, "",
           f"One `fc-supervisor run` ({binary}) against the Firecracker simulator (its guest is a real vm-init) runs "
           f"`sleep` with the default heartbeat (a ping every 2 s) and `--metrics-listen unix:…`. Its CPU time "
           f"(/proc/PID/schedstat: ns on CPU of its event-loop thread) over {len(idle)} idle windows and {len(scraped)} windows with a scrape (curl) "
           f"once a second, interleaved; every scrape also asks the guest for a fresh `stats_report`. "
           f"`promtool check metrics` accepts the last scrape.", "",
           "| | supervisor CPU | bar |",
           "|---|---|---|",
           f"| idle (heartbeat only) | {idle_pct:.4f} % | |",
           f"| scraped once a second | {scraped_pct:.4f} % | |",
           f"| **added by scraping** | **{added:.4f} %** | < 1 %: {'met' if added < 1 else 'NOT met'} |", "",
           f"Ping round trip (the endpoint's histogram, {count} pings): mean "
           f"{'%.2f ms' % mean_ms if mean_ms is not None else '–'}, median bucket ≤ "
           f"{'%.1f ms' % median_ms if median_ms is not None else '–'} (simulator: Unix socket relay, no VM exits).", ""]
    section = "\n".join(out) + "\n"
    print(section)
    write_section(bench_md, TITLE, section)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
