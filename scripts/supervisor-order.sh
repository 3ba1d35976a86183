#!/usr/bin/env bash
# Regenerates scripts/fc-supervisor.order (`make fc-supervisor-order`): the functions a supervisor process runs,
# which `make fc-supervisor-static` lays out first and together (lld --symbol-ordering-file), so the few MiB of
# code a supervisor touches share a few MiB of pages instead of being spread over its ~22 MiB of text.
#
# The profile: one supervisor under valgrind's callgrind (every function that runs, however briefly), serving a
# simulator VM with build/vm-init through its life: boot and hello, `exec true`, output on stdout and stderr, stdin,
# a terminal, and the stop. The clients are the same binary without valgrind (their own start-up is not
# profiled: they are short-lived). Function names are the unstripped binary's, in its address order.
#
#   scripts/supervisor-order.sh [UNSTRIPPED_FC_SUPERVISOR [OUT]]
#       default .build-static/release/fc-supervisor and scripts/fc-supervisor.order
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BIN=${1:-.build-static/release/fc-supervisor}
OUT=${2:-scripts/fc-supervisor.order}
die() { echo "supervisor-order: $*" >&2; exit 1; }
command -v valgrind >/dev/null || die "valgrind missing (apt-get install valgrind)"
[ -x "$BIN" ] || die "no $BIN (make fc-supervisor-static)"
[ -x build/vm-init ] || die "no build/vm-init (make vm-init-static)"
W=/var/tmp/fc-supord.$$
SUP_PID=""
cleanup() {
    set +e
    if [ -n "$SUP_PID" ] && kill -0 "$SUP_PID" 2>/dev/null; then
        "$W/sup" stop --state-dir "$W/s" prof >/dev/null 2>&1
        for _ in $(seq 100); do kill -0 "$SUP_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SUP_PID" 2>/dev/null
    fi
    rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W/s" "$W/g"
# valgrind cannot read the Swift toolchain's DWARF; the symbol table is all it needs for function names.
strip --strip-debug -o "$W/sup" "$BIN"
echo "not a kernel" > "$W/vmlinux"
FCSIM_GUEST_INIT=$ROOT/build/vm-init FCSIM_GUEST_DIR=$W/g valgrind --tool=callgrind --callgrind-out-file="$W/cg.out" \
    --demangle=no --dump-instr=no "$W/sup" run --id prof --state-dir "$W/s" --firecracker-bin Tests/Simulator/firecracker-sim \
    --kernel "$W/vmlinux" -- sleep 1000000 </dev/null >"$W/run.log" 2>&1 &
SUP_PID=$!
fc() { "$W/sup" "$1" --state-dir "$W/s" prof "${@:2}"; }
for _ in $(seq 600); do fc exec -- true 2>/dev/null && break; sleep 0.1; done
fc exec -- true || die "the VM never answered: $(tail -5 "$W/run.log")"
[ "$(fc exec -- sh -c 'echo out; echo err >&2' 2>&1 | sort | tr '\n' ' ')" = "err out " ] || die "exec output"
[ "$(head -c 100000 /dev/zero | fc exec -i -- wc -c)" = 100000 ] || die "exec stdin"
fc exec -t -- true </dev/null >/dev/null || die "exec -t"
fc stop >/dev/null
for _ in $(seq 300); do kill -0 "$SUP_PID" 2>/dev/null || break; sleep 0.1; done
wait "$SUP_PID" || true
SUP_PID=""
[ -s "$W/cg.out" ] || die "no profile: $(tail -5 "$W/run.log")"
python3 - "$W/cg.out" "$BIN" "$OUT" <<'EOF'
import re, subprocess, sys
profile, binary, out = sys.argv[1:]
ran = set()
for line in open(profile, errors="replace"):
    m = re.match(r"c?fn=\(\d+\)(?: (\S+))?", line)
    if m and m.group(1):
        ran.add(m.group(1))
symbols = []
for line in subprocess.run(["nm", "--defined-only", "-n", binary], capture_output=True, text=True, check=True).stdout.splitlines():
    p = line.split()
    if len(p) == 3 and p[1] in "tTwW" and p[2] in ran:
        symbols.append(p[2])
seen = set()
ordered = [s for s in symbols if not (s in seen or seen.add(s))]
if len(ordered) < 500:
    sys.exit(f"supervisor-order: only {len(ordered)} functions ran: is the profile complete?")
open(out, "w").write("\n".join(ordered) + "\n")
print(f"supervisor-order: {len(ordered)} functions in {out}")
EOF
