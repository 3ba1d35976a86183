#!/usr/bin/env bash
# `make bench`: fc-supervisor / vm-init against the tools users would pick instead, in one run, on this machine.
# Installs its peers (Debian), builds release binaries, boots a VM on the namespace rung (the Firecracker
# simulator with the static build/vm-init as PID 1), measures, and writes BENCHMARKS.md (Benchmarks/report.py).
#
#   BENCH_QUICK=1  smaller sizes and fewer runs (for editing this script; figures are not meaningful)
#   BENCH_KEEP=1   keep the work directory (/var/tmp/fcbench.PID) with every raw JSON result
#   BENCH_ONLY=throughput  only the stdout/stdin rounds (section 2); prints a summary, leaves BENCHMARKS.md alone
#   BENCH_BUILD=DIR  take fc-supervisor and vm-init from DIR/build instead of this tree's build/ (to compare builds)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
QUICK=${BENCH_QUICK:-0}
ONLY=${BENCH_ONLY:-all}
W=/var/tmp/fcbench.$$            # short: Unix socket paths are limited to 107 bytes
R=$W/results
mkdir -p "$R"
log() { printf '\033[1m[bench]\033[0m %s\n' "$*" >&2; }
trap 'log "FAILED at line $LINENO: $BASH_COMMAND"' ERR

if [ "$QUICK" = 1 ]; then
    BYTES=$((128 << 20)); THRU_ROUNDS=3; EXEC_RUNS=30; API_RUNS=300; CONC=200; CONC_SLEEP=2; HELLO_RUNS=5; PINGS=300
else
    BYTES=$((1 << 30)); THRU_ROUNDS=5; EXEC_RUNS=200; API_RUNS=2000; CONC=1000; CONC_SLEEP=6; HELLO_RUNS=20; PINGS=2000
fi
echo "$BYTES" > "$R/bytes"

# ---------------------------------------------------------------------------------------------------------------
log "installing peers (apt)"
PKGS="hyperfine runc openssh-server openssh-client busybox-static util-linux socat python3 procps"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

BUILT=${BENCH_BUILD:-$ROOT}
if [ "$ONLY" != throughput ]; then
    log "building release binaries (.build-bench)"
    swift build -c release --scratch-path .build-bench --product fc-bench >&2
fi
BIN=$ROOT/.build-bench/release
# The shipped form: static, stripped (make fc-supervisor-static, a prerequisite of make bench).
SUP=$BUILT/build/fc-supervisor
[ -x "$SUP" ] || { echo "build/fc-supervisor missing: run 'make fc-supervisor-static' (make bench does)" >&2; exit 1; }
BENCH=$BIN/fc-bench
VMINIT=$BUILT/build/vm-init
SIM=$ROOT/Tests/Simulator/firecracker-sim
[ -x "$VMINIT" ] || { echo "build/vm-init missing: run 'make vm-init-static' (make bench does)" >&2; exit 1; }
# How a binary sits in the page cache changes what starting it costs: one just written (by strip or cp) is held
# in single pages, one read back from disk in larger folios, and the same `fc-supervisor exec` of the 62 MB static
# binary then takes 240 or about 195 page faults (about 0.5 ms of a 4 ms exec on this machine). Every run measures
# the binaries as read back from disk: written out, dropped from the cache, read again.
for f in "$SUP" "$VMINIT"; do
    sync "$f"
    python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)' "$f"
    cat "$f" > /dev/null
done

PIDS_TO_KILL=()
cleanup() {
    set +e
    [ -n "${SSHCTL:-}" ] && ssh -S "$SSHCTL" -O exit x >/dev/null 2>&1
    [ -f "$W/sshd.pid" ] && kill "$(cat "$W/sshd.pid")" 2>/dev/null
    runc delete -f "fcbench$$" >/dev/null 2>&1
    for p in "${PIDS_TO_KILL[@]}"; do kill "$p" 2>/dev/null; done
    [ -n "${NS_PID:-}" ] && kill "$NS_PID" 2>/dev/null
    [ -n "${VM_PID:-}" ] && { "$SUP" stop --state-dir "$W/s" bench >/dev/null 2>&1; sleep 0.5; kill "$VM_PID" 2>/dev/null; }
    sleep 0.5
    for p in "${PIDS_TO_KILL[@]}" "${NS_PID:-}" "${VM_PID:-}"; do [ -n "$p" ] && kill -KILL "$p" 2>/dev/null; done
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------------------------
log "setting up peers"
# sshd on a loopback port with a throwaway host key and user key; one ControlMaster connection.
SSH_PORT=$((20000 + $$ % 20000))
mkdir -p /run/sshd "$W/ssh"
ssh-keygen -q -t ed25519 -N '' -f "$W/ssh/host" >/dev/null
ssh-keygen -q -t ed25519 -N '' -f "$W/ssh/user" >/dev/null
cp "$W/ssh/user.pub" "$W/ssh/authorized_keys"
cat > "$W/ssh/sshd_config" <<EOF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $W/ssh/host
AuthorizedKeysFile $W/ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
StrictModes no
UsePAM no
PidFile $W/sshd.pid
AcceptEnv SHLVL
SetEnv SHLVL=1
EOF
/usr/sbin/sshd -f "$W/ssh/sshd_config"
SSHCTL=$W/ssh/ctl
SSH_OPTS="-F /dev/null -i $W/ssh/user -p $SSH_PORT -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
for _ in $(seq 50); do ssh $SSH_OPTS -o ControlMaster=yes -o ControlPath="$SSHCTL" -o ControlPersist=yes -fN root@127.0.0.1 && break; sleep 0.1; done
# Measure ssh, not root's dotfiles: bash started by sshd sources ~/.bashrc (here: pyenv, 0.1-0.5 s) unless SHLVL
# says it is nested. The client's SetEnv does not pass through a ControlMaster mux, so sshd_config sets it too
# (checked: SHLVL=2 and no pyenv in the session; `true` 46 ms instead of 550 ms on a loaded machine). The remote
# command is `bash --norc --noprofile -c`, which reads no rc or profile file either.
SSH="ssh -F /dev/null -S $SSHCTL -o ControlMaster=no -o SetEnv=SHLVL=1 x"
NORC="bash --norc --noprofile -c"
$SSH true

# runc: a busybox container (busybox-static) sleeping in a bundle.
CTR=fcbench$$
mkdir -p "$W/runc/rootfs/bin" "$W/runc/rootfs/proc" "$W/runc/rootfs/dev" "$W/runc/rootfs/tmp"
cp /bin/busybox "$W/runc/rootfs/bin/busybox"
for a in sh true cat head sleep; do ln -sf busybox "$W/runc/rootfs/bin/$a"; done
(cd "$W/runc" && runc spec)
python3 - "$W/runc/config.json" <<'EOF'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["sleep", "100000"]
json.dump(c, open(p, "w"), indent=1)
EOF
runc run -d -b "$W/runc" "$CTR" </dev/null >/dev/null 2>&1
runc exec "$CTR" true

# nsenter: a pid+mount namespace with one sleeping process.
unshare --pid --mount --fork --kill-child --mount-proc sleep 100000 &
NS_PARENT=$!
PIDS_TO_KILL+=("$NS_PARENT")
for _ in $(seq 50); do NS_PID=$(pgrep -P "$NS_PARENT" || true); [ -n "$NS_PID" ] && break; sleep 0.05; done
nsenter -t "$NS_PID" -a true

# The VM: fc-supervisor + Firecracker simulator + static vm-init as PID 1 in fresh namespaces.
mkdir -p "$W/s" "$W/g"
echo "not a kernel" > "$W/vmlinux"
FCSIM_GUEST_INIT=$VMINIT FCSIM_GUEST_DIR=$W/g "$SUP" run --id bench --state-dir "$W/s" --firecracker-bin "$SIM" \
    --kernel "$W/vmlinux" -- sleep 1000000 </dev/null >"$W/vm.log" 2>&1 &
VM_PID=$!
for _ in $(seq 300); do [ -S "$W/s/bench/control.sock" ] && "$SUP" exec --state-dir "$W/s" bench -- true 2>/dev/null && break; sleep 0.05; done
CTL=$W/s/bench/control.sock
SUP_PID=$(cat "$W/s/bench/supervisor.pid")
VMINIT_PID=""
for p in $(pgrep -f -- "$W/g/guest.sock"); do [ "$(cat /proc/$p/comm 2>/dev/null)" = vm-init ] && VMINIT_PID=$p; done
RELAY_PID=$(cat "$W/s/bench/vmm.pid")
rss() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }
echo "{\"supervisor_kib\": $(rss "$SUP_PID"), \"vminit_kib\": $(rss "$VMINIT_PID"), \"simulator_kib\": $(rss "$RELAY_PID")}" > "$R/idle-rss.json"
FCX="$SUP exec --state-dir $W/s bench"

# ---------------------------------------------------------------------------------------------------------------
log "versions"
{
    echo "nproc=$(nproc)"
    echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "kernel=$(uname -r)"
    echo "mem=$(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
    echo "os=$(. /etc/os-release; echo "$PRETTY_NAME")"
    echo "swift=$(swift --version 2>&1 | head -1)"
    echo "hyperfine=$(hyperfine --version)"
    echo "ssh=$(ssh -V 2>&1)"
    echo "sshd=$(dpkg-query -W -f '${Version}' openssh-server)"
    echo "runc=$(runc --version | head -1)"
    echo "busybox=$(busybox 2>&1 | head -1)"
    echo "nsenter=$(nsenter --version)"
    echo "socat=$(socat -V | sed -n 2p)"
    echo "python=$(python3 --version)"
    echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} > "$R/versions.txt"
echo "$FCX" > "$R/fcx.txt"
# Every measured command line, for BENCHMARKS.md (hyperfine's JSON keeps only the -n names).
cmd() { printf '%-7s %-30s %s\n' "$1" "$2" "$3" >> "$R/commands.txt"; }
# hf OUT.json "HYPERFINE OPTIONS" NAME COMMAND [NAME COMMAND]...
hf() {
    local out=$1 opts=$2 args=()
    shift 2
    local label=${out%.json}
    label=${label%-r1}
    while [ $# -gt 0 ]; do
        args+=(-n "$1" "$2")
        case $label in *-r[0-9]*) ;; *) cmd "$label" "$1" "$2" ;; esac  # later rounds repeat round 1's commands
        shift 2
    done
    # shellcheck disable=SC2086
    hyperfine $opts --export-json "$R/$out" "${args[@]}" >&2
}

# ---------------------------------------------------------------------------------------------------------------
if [ "$ONLY" != throughput ]; then
log "1. exec round trip of true (hyperfine, $EXEC_RUNS runs each)"
hf exec.json "-N --warmup 10 --runs $EXEC_RUNS" \
    "fc-supervisor exec" "$FCX -- true" \
    "ssh (ControlMaster)" "$SSH $NORC true" \
    "runc exec" "runc exec $CTR true" \
    "nsenter" "nsenter -t $NS_PID -a true" \
    "spawn /bin/true" "/bin/true"

log "1a. in-process API round trip ($API_RUNS runs)"
"$BENCH" rtt --socket "$CTL" --runs "$API_RUNS" > "$R/api-supervisor.json"
fi

# ---------------------------------------------------------------------------------------------------------------
log "2. throughput, $((BYTES >> 20)) MiB, $THRU_ROUNDS interleaved rounds (one run of each command per round)"
# Floor: the same bytes over one Unix-socket hop (socat on both ends, 256 KiB buffers).
socat -u -b 262144 UNIX-LISTEN:"$W/floor.sock",fork OPEN:/dev/null &
PIDS_TO_KILL+=("$!")
for _ in $(seq 50); do [ -S "$W/floor.sock" ] && break; sleep 0.05; done
# The same bytes through plain relays on the hops fc-supervisor exec has (client → supervisor → VMM → guest →
# process, and back): three socat relays between Unix sockets, with the process at the far end. This shows how
# much of the gap to the one-hop floor is the hops themselves. (A piped stdin skips the first hop since exec
# passes the pipe to the supervisor, PROTOCOL.md §11.2: fc's stdin has one hop fewer than this chain.)
socat -u -b 262144 UNIX-LISTEN:"$W/in3.sock",fork SYSTEM:'cat > /dev/null',pipes &
PIDS_TO_KILL+=("$!")
socat -U -b 262144 UNIX-LISTEN:"$W/out3.sock",fork SYSTEM:"head -c $BYTES /dev/zero",pipes &
PIDS_TO_KILL+=("$!")
for _ in $(seq 50); do [ -S "$W/in3.sock" ] && [ -S "$W/out3.sock" ] && break; sleep 0.05; done
for hop in 2 1; do
    socat -u -b 262144 UNIX-LISTEN:"$W/in$hop.sock",fork UNIX-CONNECT:"$W/in$((hop + 1)).sock" &
    PIDS_TO_KILL+=("$!")
    socat -U -b 262144 UNIX-LISTEN:"$W/out$hop.sock",fork UNIX-CONNECT:"$W/out$((hop + 1)).sock" &
    PIDS_TO_KILL+=("$!")
    for _ in $(seq 50); do [ -S "$W/in$hop.sock" ] && [ -S "$W/out$hop.sock" ] && break; sleep 0.05; done
done
# The machine is noisy, so each round runs every command once, stdout then stdin, and the report takes the median
# over rounds: a slow minute hits fc-supervisor and the raw relay alike instead of one of them.
for round in $(seq "$THRU_ROUNDS"); do
    warm="--warmup 0"; [ "$round" = 1 ] && warm="--warmup 1"
    hf stdout-r$round.json "$warm --runs 1" \
        "fc-supervisor exec" "$FCX -- head -c $BYTES /dev/zero > /dev/null" \
        "fc-supervisor exec into a pipe" "$FCX -- head -c $BYTES /dev/zero | cat > /dev/null" \
        "raw Unix-socket relay (socat)" "head -c $BYTES /dev/zero | socat -u -b 262144 STDIN UNIX-CONNECT:$W/floor.sock" \
        "raw Unix-socket relays on fc's hops (socat ×3)" "socat -u -b 262144 UNIX-CONNECT:$W/out1.sock STDOUT > /dev/null" \
        "ssh (ControlMaster)" "$SSH $NORC \"'head -c $BYTES /dev/zero'\" > /dev/null" \
        "runc exec" "runc exec $CTR head -c $BYTES /dev/zero > /dev/null"
    hf stdin-r$round.json "$warm --runs 1" \
        "fc-supervisor exec" "head -c $BYTES /dev/zero | $FCX -i -- sh -c 'cat > /dev/null'" \
        "raw Unix-socket relay (socat)" "head -c $BYTES /dev/zero | socat -u -b 262144 STDIN UNIX-CONNECT:$W/floor.sock" \
        "raw Unix-socket relays on fc's hops (socat ×3)" "head -c $BYTES /dev/zero | socat -u -b 262144 STDIN UNIX-CONNECT:$W/in1.sock" \
        "ssh (ControlMaster)" "head -c $BYTES /dev/zero | $SSH $NORC \"'cat > /dev/null'\"" \
        "runc exec" "head -c $BYTES /dev/zero | runc exec $CTR sh -c 'cat > /dev/null'"
done
if [ "$ONLY" = throughput ]; then
    python3 "$ROOT/Benchmarks/report.py" --summary "$R"
    exit 0
fi

# Raw bytes through the simulator's hybrid-vsock splice relay (the same hop our frames take; no framing).
mkdir -p "$W/raw"
echo k > "$W/raw/k"
python3 "$ROOT/Benchmarks/rawrelay.py" boot "$SIM" "$W/raw" "$W/raw/k" &
RAW_BOOT=$!
PIDS_TO_KILL+=("$RAW_BOOT")
for _ in $(seq 200); do [ -f "$W/raw/ready" ] && break; sleep 0.05; done
: > "$R/rawsim.txt"
for _ in $(seq "$THRU_ROUNDS"); do
    echo "out $(python3 "$ROOT/Benchmarks/rawrelay.py" client "$W/raw/v.sock" out "$BYTES")" >> "$R/rawsim.txt"
    echo "in $(python3 "$ROOT/Benchmarks/rawrelay.py" client "$W/raw/v.sock" in "$BYTES")" >> "$R/rawsim.txt"
done
kill "$RAW_BOOT" 2>/dev/null || true

log "profile: perf record -a during a 1 GiB stdout run"
if perf stat -e instructions true >/dev/null 2>&1; then
    $FCX -- head -c 1073741824 /dev/zero > /dev/null &
    PROF_RUN=$!
    sleep 0.3
    perf record -a -q -o "$W/perf.data" -- sleep 2 >/dev/null 2>&1 || true
    wait "$PROF_RUN" || true
    {
        echo "all processes on the machine, by command and object:"
        perf report -i "$W/perf.data" --sort comm,dso --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -14 || true
        for who in "supervisor:$SUP_PID" "exec client:$PROF_RUN" "vm-init:$VMINIT_PID" "simulator relay:$RELAY_PID"; do
            echo ""
            echo "top symbols of the ${who%%:*} (pid ${who##*:}), % of all samples:"
            perf report -i "$W/perf.data" --pid "${who##*:}" --sort dso,sym --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -10 || true
        done
    } > "$R/profile.txt"
fi

# ---------------------------------------------------------------------------------------------------------------
log "3. $CONC concurrent sessions on one connection; ping under flood"
"$BENCH" concurrent --socket "$CTL" --sessions "$CONC" --sleep "$CONC_SLEEP" \
    --rss-pid "$SUP_PID" --rss-pid "$VMINIT_PID" > "$R/concurrent.json"
"$BENCH" ping-flood --socket "$CTL" --floods 3 --pings "$PINGS" > "$R/ping-supervisor.json"

# ---------------------------------------------------------------------------------------------------------------
log "5. fc-supervisor under a stalled reader"
"$BENCH" stalled --socket "$CTL" --seconds 3 --rss-pid "$SUP_PID" --rss-pid "$VMINIT_PID" > "$R/stalled.json"

# ---------------------------------------------------------------------------------------------------------------
log "4. vm-init alone (PID 1 under unshare, Unix socket, no supervisor and no relay)"
mkdir -p "$W/vi"
VI_SOCK=$W/vi/guest.sock
VI_CMD=(unshare --pid --mount --uts --fork --kill-child "$VMINIT" "--listen=unix:$VI_SOCK" "--cmdline=console=ttyS0")
: > "$R/hello.jsonl"
for _ in $(seq "$HELLO_RUNS"); do
    out=$("$BENCH" hello --socket "$VI_SOCK" -- "${VI_CMD[@]}")
    echo "$out" >> "$R/hello.jsonl"
    pid=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
    kill -KILL "$pid"   # unshare --kill-child takes vm-init with it (unshare ignores SIGTERM while it waits)
    sleep 0.05
done
out=$("$BENCH" hello --socket "$VI_SOCK" -- "${VI_CMD[@]}")
VI_UNSHARE=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
PIDS_TO_KILL+=("$VI_UNSHARE")
sleep 0.3
VI_PID=$(pgrep -P "$VI_UNSHARE")
echo "{\"vminit_kib\": $(rss "$VI_PID")}" > "$R/vminit-idle.json"
"$BENCH" idle --socket "$VI_SOCK" --direct --sessions 100 --rss-pid "$VI_PID" > "$R/vminit-100.json"
"$BENCH" rtt --socket "$VI_SOCK" --direct --runs "$API_RUNS" > "$R/api-direct.json"
"$BENCH" ping-flood --socket "$VI_SOCK" --direct --floods 3 --pings "$PINGS" > "$R/ping-direct.json"
"$BENCH" concurrent --socket "$VI_SOCK" --direct --sessions "$CONC" --sleep "$CONC_SLEEP" --rss-pid "$VI_PID" > "$R/concurrent-direct.json"
stat -c %s "$VMINIT" > "$R/vminit-size.txt"
file -b "$VMINIT" > "$R/vminit-file.txt"

# ---------------------------------------------------------------------------------------------------------------
log "6. real VM (QEMU)"
QEMU_KERNEL=${BENCH_QEMU_KERNEL:-$ROOT/build/vmlinux}
# The measured vm-init as /sbin/init with busybox (its `true`), unless BENCH_QEMU_INITRD names another image.
QEMU_INITRD=${BENCH_QEMU_INITRD:-$W/initrd.cpio}
if [ -z "${BENCH_QEMU_INITRD:-}" ] && command -v qemu-system-x86_64 >/dev/null; then
    bash GuestImage/build-image.sh --busybox --vm-init "$VMINIT" --initrd "$QEMU_INITRD" >&2 || rm -f "$QEMU_INITRD"
fi
if [ -f Sources/VMM/QEMUDriver.swift ] \
   && command -v qemu-system-x86_64 >/dev/null && [ -f "$QEMU_KERNEL" ] && [ -f "$QEMU_INITRD" ]; then
    QRUN="$SUP run --vmm qemu --id benchq --state-dir $W/q --kernel $QEMU_KERNEL --initrd $QEMU_INITRD --vcpus 1 --memory-mib 256"
    echo "$QRUN -- true" > "$R/qemu-cmd.txt"
    if hyperfine -N --runs 3 --export-json "$R/qemu-boot.json" "$QRUN -- true" >&2 2>"$R/qemu.err"; then
        $QRUN -- sleep 100000 </dev/null >"$W/q.log" 2>&1 &
        Q_PID=$!
        PIDS_TO_KILL+=("$Q_PID")
        for _ in $(seq 600); do "$SUP" exec --state-dir "$W/q" benchq -- true 2>/dev/null && break; sleep 0.1; done
        hyperfine -N --warmup 3 --runs 30 --export-json "$R/qemu-exec.json" "$SUP exec --state-dir $W/q benchq -- true" >&2 || true
        "$BENCH" rtt --socket "$W/q/benchq/control.sock" --runs 300 > "$R/qemu-api.json" || true
        "$SUP" stop --state-dir "$W/q" benchq >/dev/null 2>&1 || true
    fi
else
    echo "$SUP run --vmm qemu --id benchq --state-dir DIR --kernel build/vmlinux --initrd INITRD -- true" > "$R/qemu-cmd.txt"
fi

echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$R/versions.txt"
log "writing BENCHMARKS.md"
python3 "$ROOT/Benchmarks/report.py" "$R" "$ROOT/BENCHMARKS.md" \
    "$SSH" "runc exec $CTR" "nsenter -t \$PID -a" "$W"
log "done: BENCHMARKS.md"
