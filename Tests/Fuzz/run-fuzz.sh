#!/usr/bin/env bash
# Builds and runs the FrameDecoder fuzz target (libFuzzer + AddressSanitizer) for a number of seconds.
#
#   Tests/Fuzz/run-fuzz.sh [SECONDS] [extra libFuzzer flags…]     (default 60 s; `make fuzz` calls this)
#
# The target is compiled with swiftc directly (no SwiftPM) from Sources/VsockProtocol/*.swift and
# Tests/Fuzz/FrameDecoderFuzz.swift. Outputs go to fuzz-out/ (git-ignored): the binary, the working corpus
# (seeded from Tests/Fuzz/corpus/, which is never written to) and crash-*/leak-*/timeout-* artifacts.
# Exit status: 0 when the run found nothing, non-zero (libFuzzer's) when it found a crash.
set -euo pipefail

seconds="${1:-60}"
shift || true
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="$root/fuzz-out"
bin="$out/frame-decoder-fuzz"
mkdir -p "$out/corpus" "$out/artifacts"

echo "building $bin"
# ld.gold warns about every ASan check symbol ("Cannot export local symbol"); only real diagnostics are shown.
if ! swiftc -sanitize=fuzzer,address -parse-as-library -O -g \
    -module-name VsockProtocolFuzz \
    "$root"/Sources/VsockProtocol/*.swift "$root/Tests/Fuzz/FrameDecoderFuzz.swift" \
    -o "$bin" >"$out/build.log" 2>&1; then
    cat "$out/build.log" >&2
    echo "fuzz target build failed" >&2
    exit 2
fi
grep -v "Cannot export local symbol" "$out/build.log" || true

log="$out/fuzz.log"
echo "fuzzing for ${seconds}s (log: $log)"
set +e
"$bin" "$out/corpus" "$root/Tests/Fuzz/corpus" \
    -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/artifacts/" "$@" 2>&1 | tee "$log" | grep -E "^#[0-9]+ +(INITED|DONE|pulse)|ERROR|Done|SUMMARY|stat::number_of_executed_units"
status=${PIPESTATUS[0]}
set -e
runs="$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1 || true)"
echo "executions: ${runs:-unknown}; exit status $status"
if [ "$status" -ne 0 ]; then
    echo "FUZZ FAILURE: see $log and $out/artifacts/" >&2
fi
exit "$status"
