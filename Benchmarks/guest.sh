#!/usr/bin/env bash
# The guest's cost, section "8. The guest against a C init" of BENCHMARKS.md (issue 20), in one run:
#   boots: QEMU start → first byte from the guest on the virtio-serial channel, a minimal static C init
#     (Benchmarks/guest_init.c, built here with gcc -static) against vm-init, each alone in its own unpadded
#     initramfs, same kernel (build/vmlinux) and QEMU microvm command line as fc-supervisor's QEMU driver, TCG,
#     1 vCPU, 512 MiB, alternating, N rounds (Benchmarks/guest_boot.py); vm-init's split from hello.boot_timings;
#     the C init once more in an initramfs padded to vm-init's size (what the size alone costs), and once built
#     with -DDUTIES, doing vm-init's boot work in C before it speaks (what that work alone costs), and that program
#     in Embedded Swift (Benchmarks/guest_init_embedded.swift: the language without its runtime and size); and
#     vm-init's full Swift build (build/vm-init-full, make vm-init-full; its row is left out when it is missing);
#   the C init's raw channel throughput out and in (1 MiB writes/reads of the port, MIB MiB each way, every C boot;
#     the ratios use the C init boots interleaved with the exec rounds below: one before or after each round);
#   through fc-supervisor in the same VM shape (busybox initramfs): `exec rate_source MIB` to the host (1 MiB
#     writes of one buffer, the C init's own loop: Benchmarks/rate_source.c), MIB MiB of stdin from rate_source
#     on the host (one buffer, as the raw channel's host sends) into `exec -i rate_sink` (1 MiB reads, the C
#     init's loop the other way), and beside those `exec dd if=/dev/zero bs=1M count=MIB` to the host and
#     `head -c MIB /dev/zero | exec -i rate_sink` (producers that also clear every block), ROUNDS rounds; each
#     timed whole (wall clock around `fc-supervisor exec`) and as a transfer, first to last byte at the consumer
#     (Benchmarks/rate_sink.c: on the host for stdout, in the guest for stdin);
#   vm-init's RSS (guest /proc/1/status) idle after the first connection, with 100 and with 1,000 live sessions
#     (Benchmarks/guest_sessions.py over control.sock); the static binary's size.
# Rewrites only its own section (Benchmarks/guest_report.py).
#
#   make bench BENCH_ONLY=guest   this section only (make vm-init-static vm-init-full fc-supervisor-static guest-kernel
#                                 initramfs)
#   BENCH_GUEST_RUNS=N            boot rounds (default 21; at least 1 — the E2E short form uses 1–2)
#   BENCH_GUEST_MIB=M             MiB per throughput transfer (default 256)
#   BENCH_GUEST_ROUNDS=R          fc-supervisor throughput rounds, each with one raw C init boot (default 9)
#   BENCH_GUEST_SESSIONS="100 1000"  session counts for the RSS rows
#   BENCH_GUEST_OUT=FILE          also copy the raw results (JSON) here; BENCH_GUEST_NO_REPORT=1 leaves BENCHMARKS.md
#   BENCH_BUILD=DIR               take vm-init, fc-supervisor, vmlinux, initramfs.cpio from DIR/build (compare builds)
#   FC_SUPERVISOR, BENCH_GUEST_KERNEL, BENCH_GUEST_INITRAMFS, BENCH_GUEST_VMINIT, BENCH_GUEST_VMINIT_FULL
#                                 one of those files from elsewhere
#                                 (the E2E short form: the debug fc-supervisor and an initramfs it built itself)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
N=${BENCH_GUEST_RUNS:-21}
MIB=${BENCH_GUEST_MIB:-256}
ROUNDS=${BENCH_GUEST_ROUNDS:-9}
COUNTS=${BENCH_GUEST_SESSIONS:-100 1000}
BUILT=${BENCH_BUILD:-$ROOT}/build
log() { printf '\033[1m[bench-guest]\033[0m %s\n' "$*" >&2; }
die() { echo "guest.sh: $*" >&2; exit 1; }
SUP=${FC_SUPERVISOR:-$BUILT/fc-supervisor}
KERNEL=${BENCH_GUEST_KERNEL:-$BUILT/vmlinux}
INITRAMFS=${BENCH_GUEST_INITRAMFS:-$BUILT/initramfs.cpio}
VMINIT=${BENCH_GUEST_VMINIT:-$BUILT/vm-init}
VMINIT_FULL=${BENCH_GUEST_VMINIT_FULL:-$BUILT/vm-init-full}
for f in "$SUP" "$KERNEL" "$INITRAMFS" "$VMINIT"; do
    [ -f "$f" ] || die "$f missing (make vm-init-static fc-supervisor-static guest-kernel initramfs)"
done
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (make deps)"
command -v gcc >/dev/null || die "gcc missing (make deps)"
[ -x /bin/busybox ] || die "/bin/busybox missing (apt-get install busybox-static)"
W=/var/tmp/fcbench-guest.$$        # short: Unix socket paths are limited to 107 bytes
mkdir -p "$W/cinit/sbin" "$W/cinit/dev" "$W/cinit/proc" "$W/cinit/sys"
# shellcheck source=Benchmarks/guest_vm.sh
. Benchmarks/guest_vm.sh

log "building the C init (gcc -static) and its initramfs"
gcc -static -O2 -o "$W/cinit/sbin/init" Benchmarks/guest_init.c
strip "$W/cinit/sbin/init"
python3 GuestImage/mkcpio.py "$W/cinit" "$W/cinit.cpio" --node /dev/console:c:5:1:600 --node /dev/null:c:1:3:666

# The same C init with incompressible padding up to vm-init's initramfs size: what the size alone costs the boot.
cp -a "$W/cinit" "$W/cpad"
pad=$(( $(stat -c %s "$INITRAMFS") - $(stat -c %s "$W/cinit.cpio") ))
[ "$pad" -le 0 ] || head -c "$pad" /dev/urandom > "$W/cpad/padding"
python3 GuestImage/mkcpio.py "$W/cpad" "$W/cinit-padded.cpio" --node /dev/console:c:5:1:600 --node /dev/null:c:1:3:666

# The C init doing vm-init's boot work first (mounts, lo, cgroups, signalfd and epoll): what that work alone costs.
mkdir -p "$W/cduties/sbin" "$W/cduties/dev" "$W/cduties/proc" "$W/cduties/sys"
gcc -static -O2 -DDUTIES -o "$W/cduties/sbin/init" Benchmarks/guest_init.c
strip "$W/cduties/sbin/init"
python3 GuestImage/mkcpio.py "$W/cduties" "$W/cinit-duties.cpio" --node /dev/console:c:5:1:600 --node /dev/null:c:1:3:666

# The same program in Embedded Swift: what the language costs without the runtime and a full static binary's size.
mkdir -p "$W/eduties/sbin" "$W/eduties/dev" "$W/eduties/proc" "$W/eduties/sys"
EMBEDDED_LIB=$(dirname "$(dirname "$(readlink -f "$(command -v swiftc)")")")/lib/swift/embedded/x86_64-unknown-linux-gnu
swiftc -enable-experimental-feature Embedded -wmo -Osize -parse-as-library -I Benchmarks/guest_init_embedded \
    Benchmarks/guest_init_embedded.swift -o "$W/eduties/sbin/init" -Xclang-linker -static \
    -L "$EMBEDDED_LIB" -lswiftUnicodeDataTables 2> >(grep -v "argument unused during compilation: '-pie'" >&2)
strip "$W/eduties/sbin/init"
python3 GuestImage/mkcpio.py "$W/eduties" "$W/embedded-duties.cpio" --node /dev/console:c:5:1:600 --node /dev/null:c:1:3:666

# vm-init's full Swift build (make vm-init-full), what guest images embedded before the Embedded Swift one.
FULL_ARGS=()
if [ -f "$VMINIT_FULL" ]; then
    bash GuestImage/build-image.sh --vm-init "$VMINIT_FULL" --initrd "$W/vminit-full.cpio" >/dev/null
    FULL_ARGS=(--vminit-full "$W/vminit-full.cpio")
    stat -c %s "$VMINIT_FULL" > "$W/vminit-full-size"
else
    log "no $VMINIT_FULL (make vm-init-full): its row is left out"
fi

log "boots: $N rounds (C init, padded C init, C init with vm-init's duties, the same in Embedded Swift, vm-init's full Swift build, vm-init; reversed every other round), raw channel $MIB MiB each way"
python3 Benchmarks/guest_boot.py --kernel "$KERNEL" --cinit "$W/cinit.cpio" --cinit-padded "$W/cinit-padded.cpio" \
    --cinit-duties "$W/cinit-duties.cpio" --embedded-duties "$W/embedded-duties.cpio" "${FULL_ARGS[@]}" --vminit "$INITRAMFS" \
    --runs "$N" --bytes $((MIB << 20)) --memory-mib 512 --work "$W" > "$W/boots.json"

log "vm-init through fc-supervisor: a busybox initramfs (for dd) with rate_sink, 1 vCPU, 512 MiB"
mkdir -p "$W/bbroot/bin"
gcc -static -O2 -o "$W/bbroot/bin/rate_sink" Benchmarks/rate_sink.c
gcc -static -O2 -o "$W/bbroot/bin/rate_source" Benchmarks/rate_source.c
bash GuestImage/build-image.sh --source "$W/bbroot" --busybox --vm-init "$VMINIT" --initrd "$W/bb.cpio" >/dev/null
guest_vm_start "$W/bb.cpio"
# shellcheck disable=SC2086
python3 Benchmarks/guest_sessions.py "$W/s/guest/control.sock" $COUNTS > "$W/rss.json"
FCX="$SUP exec --state-dir $W/s guest"
: > "$W/exec.txt"
# vm-init's own CPU time (utime + stime of the guest's PID 1, clock ticks of 10 ms) across each transfer.
vminit_ticks() { $FCX -- cut -d' ' -f14,15 /proc/1/stat | awk '{print $1 + $2}'; }
# A consumer's line, or zeros when the transfer failed before it printed one.
sink_line() { if [ -s "$1" ]; then cat "$1"; else echo "0 0 0 0"; fi; }
# The C init's raw channel, one boot per round, before the exec round in even rounds and after it in odd ones: the
# two are compared, and this host's speed drifts over minutes.
raw_boot() {
    python3 Benchmarks/guest_boot.py --kernel "$KERNEL" --cinit "$W/cinit.cpio" --vminit "$INITRAMFS" --only cinit \
        --runs 1 --bytes $((MIB << 20)) --memory-mib 512 --work "$W" > "$W/raw-$1.json"
}
for r in $(seq "$ROUNDS"); do
    [ $((r % 2)) = 1 ] || raw_boot "$r"
    rm -f "$W/out-rate" "$W/in-rate" "$W/dd-rate" "$W/head-rate"
    c0=$(vminit_ticks)
    t0=$(date +%s.%N)
    $FCX -- /bin/rate_source "$MIB" | "$W/bbroot/bin/rate_sink" > "$W/out-rate" || true
    t1=$(date +%s.%N)
    c1=$(vminit_ticks)
    ti=$(date +%s.%N)
    "$W/bbroot/bin/rate_source" "$MIB" | $FCX -i -- /bin/rate_sink > "$W/in-rate" || true
    t2=$(date +%s.%N)
    c2=$(vminit_ticks)
    # stdout once more with dd as the producer, which also clears each block from /dev/zero.
    td=$(date +%s.%N)
    $FCX -- dd if=/dev/zero bs=1M count="$MIB" 2>/dev/null | "$W/bbroot/bin/rate_sink" > "$W/dd-rate" || true
    t3=$(date +%s.%N)
    # stdin once more with head as the producer, which also clears each block from /dev/zero on the host's cores.
    head -c $((MIB << 20)) /dev/zero | $FCX -i -- /bin/rate_sink > "$W/head-rate" || true
    t4=$(date +%s.%N)
    # round, stdout: bytes s, stdin: bytes s, vm-init cpu ms out in, then each consumer's line (bytes, first
    # read's bytes, first and last read's ns), then dd's stdout: bytes s and its consumer's line, then head's
    # stdin: bytes s and its consumer's line; a failed transfer leaves zeros in its line.
    out=$(sink_line "$W/out-rate") in=$(sink_line "$W/in-rate") dd=$(sink_line "$W/dd-rate") hd=$(sink_line "$W/head-rate")
    echo "$r ${out%% *} $(awk "BEGIN{print $t1 - $t0}") ${in%% *} $(awk "BEGIN{print $t2 - $ti}") $(((c1 - c0) * 10)) $(((c2 - c1) * 10)) $out $in ${dd%% *} $(awk "BEGIN{print $t3 - $td}") $dd ${hd%% *} $(awk "BEGIN{print $t4 - $t3}") $hd" >> "$W/exec.txt"
    log "exec round $r/$ROUNDS (round, stdout bytes s, stdin bytes s, vm-init cpu ms out in, consumers' lines): $(tail -1 "$W/exec.txt")"
    [ $((r % 2)) = 0 ] || raw_boot "$r"
done
guest_vm_stop

stat -c %s "$VMINIT" > "$W/vminit-size"
stat -c %s "$INITRAMFS" > "$W/vminit-cpio-size"
stat -c %s "$W/cinit.cpio" > "$W/cinit-cpio-size"
stat -c %s "$W/cinit-padded.cpio" > "$W/cinit-padded-cpio-size"
stat -c %s "$W/eduties/sbin/init" > "$W/embedded-size"
echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(qemu-system-x86_64 --version | head -1)" > "$W/machine"
[ -z "${BENCH_GUEST_OUT:-}" ] || python3 Benchmarks/guest_report.py --json "$W" "$MIB" > "$BENCH_GUEST_OUT"
[ "${BENCH_GUEST_NO_REPORT:-0}" = 1 ] || python3 Benchmarks/guest_report.py "$ROOT/BENCHMARKS.md" "$W" "$MIB"
log "done"
