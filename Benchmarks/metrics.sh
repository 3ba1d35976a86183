#!/usr/bin/env bash
# Section "10. Health and metrics" of BENCHMARKS.md: what the heartbeat and a Prometheus scraper cost an idle
# supervisor. One fc-supervisor (the Firecracker simulator's guest: a real vm-init) runs `sleep` with the default
# heartbeat (2 s) and `--metrics-listen unix:…`; its CPU time (/proc/PID/schedstat, ns on CPU) is read over
# interleaved windows without and with a scrape (curl) once a second, ROUNDS of each; the ping round trip comes
# from the endpoint's own histogram.
#
#   make bench BENCH_ONLY=metrics     this section only (`make bench` runs it too)
#   BENCH_METRICS_WINDOW=S            seconds per window (default 15), BENCH_METRICS_ROUNDS=N (default 2)
#   FC_SUPERVISOR=PATH                the binary (default build/fc-supervisor, else the debug build)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
WINDOW=${BENCH_METRICS_WINDOW:-15}
ROUNDS=${BENCH_METRICS_ROUNDS:-2}
FC=${FC_SUPERVISOR:-$ROOT/build/fc-supervisor}
[ -n "${FC_SUPERVISOR:-}" ] || [ -x "$FC" ] || FC=$(swift build --show-bin-path)/fc-supervisor
VMINIT=$ROOT/build/vm-init
[ -x "$VMINIT" ] || VMINIT=$(swift build --show-bin-path)/vm-init
W=$(mktemp -d /var/tmp/fcbench-metrics.XXXXXX)
pid=
cleanup() { if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi; rm -rf "$W"; }
trap cleanup EXIT
log() { printf '\033[1m[bench-metrics]\033[0m %s\n' "$*" >&2; }

echo "not a kernel" > "$W/vmlinux"
FCSIM_GUEST_INIT=$VMINIT "$FC" run --id bm --state-dir "$W/s" --firecracker-bin "$ROOT/Tests/Simulator/firecracker-sim" \
    --kernel "$W/vmlinux" --metrics-listen "unix:$W/m.sock" -- sleep 100000 >"$W/out" 2>"$W/err" &
pid=$!
for _ in $(seq 300); do grep -q '"state" : "running"' "$W/s/bm/state.json" 2>/dev/null && break; sleep 0.1; done
grep -q '"state" : "running"' "$W/s/bm/state.json" || { cat "$W/err" >&2; exit 1; }
sleep 2
# CPU time in ns of the supervisor's one thread (its event loop): schedstat, finer than stat's 10 ms ticks.
ticks() { awk '{print $1}' "/proc/$pid/schedstat"; }
scrape() { curl -sf --unix-socket "$W/m.sock" http://localhost/metrics; }
: >"$W/windows"
for round in $(seq "$ROUNDS"); do
    log "round $round: idle ${WINDOW}s"
    a=$(ticks); sleep "$WINDOW"; b=$(ticks)
    echo "idle $((b - a)) $WINDOW" >>"$W/windows"
    log "round $round: scraped once a second, ${WINDOW}s"
    a=$(ticks); start=$(date +%s.%N)
    for i in $(seq "$WINDOW"); do scrape >"$W/scrape.txt"; sleep 1; done
    b=$(ticks); end=$(date +%s.%N)
    echo "scraped $((b - a)) $(echo "$end - $start" | bc)" >>"$W/windows"
done
promtool check metrics <"$W/scrape.txt" >&2
python3 Benchmarks/metrics_report.py BENCHMARKS.md "$W/windows" "$W/scrape.txt" "$(basename "$FC") ($(file -b "$FC" | cut -d, -f1-2))"
