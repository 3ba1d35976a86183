#!/usr/bin/env bash
# Snapshot rows for BENCHMARKS.md, one run, through runc's command line against real VMs (the runtime
# configuration's VMM; QEMU here): for each memory size (256 MiB, 1 GiB), interleaved,
#   cold boot → exec-ready: `run --detach` of a counter workload, then `exec ID true` succeeds (N times);
#   checkpoint: `checkpoint --image-path DIR ID` of such a VM (N times);
#   restore → exec-ready: `restore --detach --image-path DIR` (a clone with a new id), then `exec ID true` (N times);
# and the restored supervisor's own timings (the `restored` event: VMM load, reconnect, resume).
# Writes section "9. Snapshot and restore" into BENCHMARKS.md (replacing an older one).
#
#   make bench BENCH_ONLY=snapshot     this section only (FC_SUPERVISOR_CONFIG or build/config.json names the VMM)
#   BENCH_SNAPSHOT_RUNS=N              N per size (default 7, at least 3)
#   FC_SUPERVISOR=PATH                 the binary (default build/fc-supervisor, else $(swift build --show-bin-path)/…)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
N=${BENCH_SNAPSHOT_RUNS:-7}
[ "$N" -ge 3 ] || N=3
W=/var/tmp/fcbench-snap.$$
R=$W/r
mkdir -p "$W"
FC=${FC_SUPERVISOR:-$ROOT/build/fc-supervisor}
[ -n "${FC_SUPERVISOR:-}" ] || [ -x "$FC" ] || FC=$(swift build --show-bin-path)/fc-supervisor
export FC_SUPERVISOR_CONFIG=${FC_SUPERVISOR_CONFIG:-$ROOT/build/config.json}
[ -f "$FC_SUPERVISOR_CONFIG" ] || { echo "no runtime configuration at $FC_SUPERVISOR_CONFIG (make runtime-config)" >&2; exit 1; }
log() { printf '\033[1m[bench-snapshot]\033[0m %s\n' "$*" >&2; }
fc() { "$FC" --root "$R" "$@"; }
now_ms() { date +%s%3N; }
cleanup() {
    for d in "$R"/*/; do [ -d "$d" ] && fc delete --force "$(basename "$d")" >/dev/null 2>&1 || true; done
    rm -rf "$W"
}
trap cleanup EXIT

# exec_ready ID: polls `exec ID true` until it succeeds (the VM answers an exec).
exec_ready() {
    local i
    for i in $(seq 1 600); do fc exec "$1" true >/dev/null 2>&1 && return 0; sleep 0.005; done
    echo "exec into $1 never succeeded" >&2; return 1
}

for MIB in 256 1024; do
    B=$W/bundle-$MIB
    bash scripts/oci-bundle.sh "$B" --annotation "org.fc-runtime.memory-mib=$MIB" -- \
        sh -c 'i=0; while true; do echo n=$i; i=$((i+1)); sleep 0.1; done' >/dev/null
    # One throwaway VM first: the image conversion and QEMU's KVM probe are paid once per root, not per row.
    fc run --detach --bundle "$B" "warm-$MIB" >/dev/null 2>&1 </dev/null
    fc delete --force "warm-$MIB"
    for run in $(seq 1 "$N"); do
        id=cold-$MIB-$run
        t0=$(now_ms); fc run --detach --bundle "$B" "$id" >/dev/null 2>"$W/err" </dev/null; exec_ready "$id"; t1=$(now_ms)
        echo "cold $MIB $((t1 - t0))" >>"$W/results"
        sleep 1  # a counter to continue from
        t0=$(now_ms); fc checkpoint --image-path "$W/ckpt-$MIB-$run" "$id"; t1=$(now_ms)
        echo "checkpoint $MIB $((t1 - t0))" >>"$W/results"
        fc delete --force "$id"
        clone=clone-$MIB-$run
        t0=$(now_ms); fc restore --detach --image-path "$W/ckpt-$MIB-$run" --bundle "$B" "$clone" >/dev/null 2>"$W/err" </dev/null
        exec_ready "$clone"; t1=$(now_ms)
        echo "restore $MIB $((t1 - t0))" >>"$W/results"
        grep -h '"restored"' "$R/$clone/events.jsonl" | sed "s/^/event $MIB /" >>"$W/results" || true
        fc delete --force "$clone"
        rm -rf "$W/ckpt-$MIB-$run"
        log "$MIB MiB run $run: $(tail -n 4 "$W/results" | cut -d' ' -f1,3 | tr '\n' ' ')"
    done
done
VMM=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("vmm", "?"))' "$FC_SUPERVISOR_CONFIG" 2>/dev/null || echo "?")
python3 "$ROOT/Benchmarks/snapshot_report.py" "$ROOT/BENCHMARKS.md" "$W/results" "$N" "$VMM" \
    "BENCH_SNAPSHOT_RUNS=$N make bench BENCH_ONLY=snapshot" "$FC"
log "done: BENCHMARKS.md section 9"
