#!/usr/bin/env bash
# OCI rows for BENCHMARKS.md: through containerd's go-runc (Tests/GoRunc, case `latency`), in one run, for runc
# and for fc-supervisor's runc command line on the same bundle definition (busybox-static, `sleep`, a rootfs tree
# new to the image cache):
#   bundle → workload started (go-runc Create + Start returned) for the first VM, for a second VM from the same
#   unchanged bundle (no rootfs conversion left to pay), the median of N more, and the go-runc Exec round trip
#   of `true` (median of N).
# Writes section "7. OCI runtime through go-runc" into BENCHMARKS.md (replacing an older one).
#
#   make bench BENCH_ONLY=oci     this section only (after `make fc-supervisor-static`; FC_SUPERVISOR_CONFIG or
#                                 build/config.json from `make runtime-config` tells fc-supervisor which VMM)
#   make bench BENCH_OCI=1        the whole benchmark, then this section
#   BENCH_OCI_RUNS=N              N (default 7, at least 5)
#   FC_SUPERVISOR=PATH            the binary (default build/fc-supervisor, else $(swift build --show-bin-path)/…)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
N=${BENCH_OCI_RUNS:-7}
[ "$N" -ge 5 ] || N=5
W=/var/tmp/fcbench-oci.$$
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT
# speaks_runc BIN: BIN answers go-runc's `list --format=json` with JSON (null or an array), i.e. has runc's CLI.
speaks_runc() {
    local out
    out=$("$1" --root "/var/tmp/oci-probe.$$" list --format=json 2>/dev/null) || { rm -rf "/var/tmp/oci-probe.$$"; return 1; }
    rm -rf "/var/tmp/oci-probe.$$"
    case $out in null*|"["*) return 0 ;; *) return 1 ;; esac
}
log() { printf '\033[1m[bench-oci]\033[0m %s\n' "$*" >&2; }

export GO111MODULE=off GOPATH=/usr/share/gocode:$ROOT/.build-go GOCACHE=$ROOT/.build-go/cache GOFLAGS=
mkdir -p "$ROOT/.build-go" "$ROOT/build"
(cd Tests/GoRunc && go build -o "$W/go-runc-conformance" .)
(cd Tests/GoRunc/memhog && CGO_ENABLED=0 go build -o "$W/memhog" .)
RUNC=${RUNC:-$(command -v runc || echo /usr/sbin/runc)}
FC=${FC_SUPERVISOR:-$ROOT/build/fc-supervisor}
[ -n "${FC_SUPERVISOR:-}" ] || [ -x "$FC" ] || FC=$(swift build --show-bin-path)/fc-supervisor
export FC_SUPERVISOR_CONFIG=${FC_SUPERVISOR_CONFIG:-$ROOT/build/config.json}

# measure NAME RUNTIME: the latency case, results in $W/NAME.json (and its stderr in $W/NAME.err).
measure() {
    # One throwaway container first, from another bundle, in the same root: what a runtime pays once per host and
    # root (QEMU's KVM probe is cached per state root) stays out of the first VM's row, which then differs from
    # the second by the rootfs conversion alone.
    "$W/go-runc-conformance" -runtime "$2" -root "/var/tmp/oci-bench-$1" -bundle-dir "$W/warm-$1" \
        -memhog "$W/memhog" -bundle-script "$ROOT/scripts/oci-bundle.sh" -cases run_exit0 \
        -out "$W/$1-warm.json" 2>"$W/$1-warm.err" || { cat "$W/$1-warm.err" >&2; return 1; }
    log "$1: go-runc Create+Start ×$((N + 2)), Exec ×$N ($2)"
    "$W/go-runc-conformance" -runtime "$2" -root "/var/tmp/oci-bench-$1" -bundle-dir "$W/bundles-$1" \
        -memhog "$W/memhog" -bundle-script "$ROOT/scripts/oci-bundle.sh" -cases latency -n "$N" \
        -out "$W/$1.json" 2>"$W/$1.err" || { cat "$W/$1.err" >&2; return 1; }
}
measure runc "$RUNC"
FC_NOTE=""
if [ ! -x "$FC" ]; then
    FC_NOTE="no fc-supervisor binary at $FC"
elif [ ! -f "$FC_SUPERVISOR_CONFIG" ]; then
    FC_NOTE="no runtime configuration at $FC_SUPERVISOR_CONFIG (make runtime-config)"
elif ! speaks_runc "$FC"; then
    FC_NOTE="$FC does not speak runc's command line (list --format=json)"
elif ! measure fc "$FC"; then
    FC_NOTE="the go-runc latency case failed against fc-supervisor: $(grep -m1 FAILED "$W/fc.err" || true)"
fi
VMM=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("vmm", "?"))' "$FC_SUPERVISOR_CONFIG" 2>/dev/null || echo "?")
python3 "$ROOT/Benchmarks/oci_report.py" "$ROOT/BENCHMARKS.md" "$W" "$N" "$VMM" "$FC_NOTE" \
    "go-runc-conformance -runtime RUNTIME -root DIR -bundle-dir DIR -cases latency -n $N -out FILE"
log "done: BENCHMARKS.md section 7"
