#!/usr/bin/env python3
"""Writes section "11. Images" of BENCHMARKS.md from Benchmarks/images.sh's timings.

    images_report.py BENCHMARKS.md TIMES N COMPRESSED_BYTES UNPACKED_BYTES FILES TREE BUILD COMMAND

TIMES: one line per run, "fc_cold_us fc_hit_us skopeo_umoci_us". Replaces an existing section 11, else inserts it
before "## Exact commands" (or appends). Also prints it."""
import statistics
import sys

from bench_section import write_section
from pathlib import Path

TITLE = "## 11. Images"


def main(bench_md, times, n, compressed, unpacked, files, tree, build, command):
    rows = [list(map(int, line.split())) for line in Path(times).read_text().splitlines() if line.strip()]
    cold, hit, sk = (statistics.median(r[i] for r in rows) / 1e6 for i in range(3))
    compressed, unpacked = int(compressed), int(unpacked)
    mib = 1 << 20

    def row(name, seconds):
        return (f"| {name} | {seconds * 1000:.0f} ms | {compressed / mib / seconds:.1f} MiB/s | "
                f"{unpacked / mib / seconds:.1f} MiB/s | {sk / seconds:.2f}× |")

    out = [TITLE, "",
           f"One image (one gzip layer made by umoci from `{tree}` plus busybox: {files} files, "
           f"{unpacked / mib:.1f} MiB unpacked, {compressed / mib:.1f} MiB compressed) in Debian's docker-registry on "
           f"127.0.0.1, pulled and unpacked by each tool, interleaved in one run, median of {n}. fc-image ({build}) starts from an empty store: manifest, config and layer downloaded with size and digest checked, "
           f"layer decompressed, diff id checked, tree written with owners, modes and times. The cache hit is the "
           f"same pull again: the manifest is fetched (a tag may move), every blob and the tree are found by digest. "
           f"`skopeo copy docker://… oci:…` + `umoci unpack` is the same work with the containers/image stack.", "",
           "| tool | pull + unpack | compressed in | unpacked out | speed vs skopeo+umoci |",
           "|---|---|---|---|---|",
           row("fc-image pull (empty store)", cold),
           f"| fc-image pull (cache hit) | {hit * 1000:.0f} ms | – | – | {sk / hit:.0f}× |",
           row("skopeo copy + umoci unpack", sk),
           "", f"    {command}", ""]
    section = "\n".join(out) + "\n"
    print(section)
    write_section(bench_md, TITLE, section)


if __name__ == "__main__":
    if len(sys.argv) != 10:
        sys.exit(__doc__)
    main(*sys.argv[1:])
