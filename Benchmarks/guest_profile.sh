#!/usr/bin/env bash
# Where the QEMU guest's time goes while fc-supervisor moves bytes (issue 20; BENCHMARKS.md §8 quotes it): boots
# the guest of section 8 (busybox initramfs with build/vm-init, build/vmlinux, 1 vCPU, 512 MiB, TCG) with a
# sampling profiler in it (Benchmarks/guest_sampler.c: the kernel's cpu-clock event, system-wide), runs one
# transfer while it samples, and prints the shares of vm-init's and the workload's kernel and user time and the
# hottest functions (Benchmarks/guest_profile.py). A first, unsampled transfer warms the guest up and times the
# window to sample.
#
#   bash Benchmarks/guest_profile.sh [out|in] [MIB]    out: exec dd if=/dev/zero bs=1M count=MIB to the host
#                                                      in:  MIB MiB of stdin into exec -i dd of=/dev/null bs=1M
#   GUEST_PROFILE_PERIOD_US=200  sampling period (µs);  GUEST_PROFILE_TOP=30  functions listed
#
# Needs what `make vm-init-static fc-supervisor-static guest-kernel` leaves: build/vm-init and its unstripped
# build/embedded/vm-init.unstripped (same build, checked by build ID), build/fc-supervisor, build/vmlinux; kernel
# functions are named when build/kernel-build/*/System.map is there. Plus gcc and busybox-static.
# FC_SUPERVISOR and BENCH_GUEST_KERNEL name another fc-supervisor or kernel (the E2E test: the debug build).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
MODE=${1:-out}
MIB=${2:-256}
PERIOD=${GUEST_PROFILE_PERIOD_US:-200}
TOP=${GUEST_PROFILE_TOP:-30}
die() { echo "guest_profile.sh: $*" >&2; exit 1; }
case "$MODE" in out|in) ;; *) die "the mode is out or in, not '$MODE'" ;; esac
case "$MIB" in ''|*[!0-9]*) die "MIB must be a number of MiB, not '$MIB'" ;; esac
SUP=${FC_SUPERVISOR:-build/fc-supervisor} KERNEL=${BENCH_GUEST_KERNEL:-build/vmlinux}
VMINIT=build/vm-init UNSTRIPPED=build/embedded/vm-init.unstripped
for f in "$SUP" "$VMINIT" "$UNSTRIPPED" "$KERNEL"; do
    [ -f "$f" ] || die "$f missing (make vm-init-static fc-supervisor-static guest-kernel)"
done
build_id() { readelf -n "$1" | awk '/Build ID/{print $3}'; }
[ "$(build_id "$VMINIT")" = "$(build_id "$UNSTRIPPED")" ] ||
    die "$VMINIT is not the stripped $UNSTRIPPED (run make vm-init-static)"
MAP=$(ls build/kernel-build/*/System.map 2>/dev/null | head -1 || true)
command -v gcc >/dev/null || die "gcc missing"
[ -x /bin/busybox ] || die "/bin/busybox missing (apt-get install busybox-static)"

W=/var/tmp/fcprof.$$
mkdir -p "$W/root/bin"
# shellcheck source=Benchmarks/guest_vm.sh
. Benchmarks/guest_vm.sh
gcc -static -O2 -o "$W/root/bin/guest-sampler" Benchmarks/guest_sampler.c
bash GuestImage/build-image.sh --source "$W/root" --busybox --vm-init "$VMINIT" --initrd "$W/guest.cpio" >/dev/null
guest_vm_start "$W/guest.cpio"
FCX=("$SUP" exec --state-dir "$W/s" guest)

transfer() {
    if [ "$MODE" = out ]; then
        "${FCX[@]}" -- dd if=/dev/zero bs=1M count="$MIB" 2>/dev/null | wc -c >/dev/null
    else
        head -c $((MIB << 20)) /dev/zero | "${FCX[@]}" -i -- dd of=/dev/null bs=1M 2>/dev/null
    fi
}
t0=$(date +%s.%N); transfer; t1=$(date +%s.%N)
# Long enough for the transfer slowed by sampling; the transfer starts once the sampler says it samples.
window=$(awk "BEGIN{printf \"%.2f\", ($t1 - $t0) * 1.5 + 0.3}")
"${FCX[@]}" -- guest-sampler "$window" "$PERIOD" > "$W/samples" 2> "$W/sampler.err" &
SAMPLER=$!
for _ in $(seq 200); do grep -q '^# sampling' "$W/sampler.err" 2>/dev/null && break; sleep 0.05; done
grep -q '^# sampling' "$W/sampler.err" || die "the sampler did not start: $(head -3 "$W/sampler.err")"
t2=$(date +%s.%N); transfer; t3=$(date +%s.%N)
wait "$SAMPLER" || die "the sampler failed: $(head -3 "$W/sampler.err")"
label="$MODE, $MIB MiB: unsampled $(awk "BEGIN{printf \"%.0f\", $MIB / ($t1 - $t0)}") MiB/s, sampled $(awk "BEGIN{printf \"%.0f\", $MIB / ($t3 - $t2)}") MiB/s; "
python3 Benchmarks/guest_profile.py "$W/samples" --vminit "$UNSTRIPPED" ${MAP:+--system-map "$MAP"} --top "$TOP" --label "$label"
