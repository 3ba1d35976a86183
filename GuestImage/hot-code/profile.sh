#!/usr/bin/env bash
# Regenerates GuestImage/hot-code/vm-init.order (`make vm-init-order`): the functions vm-init runs as a real VM's
# PID 1, which `make vm-init-full` links first (lld --symbol-ordering-file), so the code a guest runs sits in few
# pages and an idle vm-init maps few of its binary's pages (see README.md in this directory). That is the full
# Swift build of vm-init, which BENCHMARKS.md section 8 compares with the Embedded Swift build guest images embed.
#
# Boots build/vm-init-full under QEMU (the project's kernel, fc-supervisor's QEMU driver, TCG) with a plugin that records
# every translated block that ran (blocks_plugin.c); runs what a VM's life brings before and while a workload runs:
# boot and hello, execs, stdout and stdin transfers, `cat /proc/1/status`, ten concurrent sessions signalled
# to the end, then the stop; maps the blocks in vm-init's fixed address range to the function symbols of the
# unstripped binary of the same link; writes them in address order.
#
# Needs: build/vm-init-full and .build-vminit/release/vm-init (one link: same build ID), build/fc-supervisor,
# build/vmlinux, qemu-system-x86_64 with TCG plugin support (Debian's has it), gcc. FC_SUPERVISOR and
# BENCH_GUEST_KERNEL name another fc-supervisor or kernel (the E2E test: the debug build).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
VMINIT=build/vm-init-full UNSTRIPPED=.build-vminit/release/vm-init
SUP=${FC_SUPERVISOR:-build/fc-supervisor} KERNEL=${BENCH_GUEST_KERNEL:-build/vmlinux}
OUT=${1:-$here/vm-init.order}
die() { echo "hot-code profile: $*" >&2; exit 1; }
for f in "$VMINIT" "$UNSTRIPPED" "$SUP" "$KERNEL"; do [ -f "$f" ] || die "$f missing (make vm-init-full fc-supervisor-static guest-kernel)"; done
build_id() { readelf -n "$1" | awk '/Build ID/{print $3}'; }
[ "$(build_id "$VMINIT")" = "$(build_id "$UNSTRIPPED")" ] || die "$VMINIT is not the stripped $UNSTRIPPED (make vm-init-full)"

W=/var/tmp/fc-hotcode.$$   # short: the control socket's path is limited to 107 bytes
VM=
cleanup() {
    if [ -n "$VM" ] && kill -0 "$VM" 2>/dev/null; then "$SUP" stop --state-dir "$W/s" guest >/dev/null 2>&1 || kill "$VM"; wait "$VM" || true; fi
    rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W/root/bin"
gcc -shared -fPIC -O2 -o "$W/blocks.so" "$here/blocks_plugin.c"
gcc -static-pie -O2 -o "$W/root/bin/true" "$here/helpers.c"
for name in cat sleep zero sink; do cp "$W/root/bin/true" "$W/root/bin/$name"; done
bash GuestImage/build-image.sh --source "$W/root" --vm-init "$VMINIT" --initrd "$W/img.cpio" >/dev/null
printf '#!/bin/sh\nexec qemu-system-x86_64 -plugin %s,out=%s "$@"\n' "$W/blocks.so" "$W/blocks.txt" > "$W/qemu"
chmod +x "$W/qemu"

"$SUP" run --vmm qemu --qemu-bin "$W/qemu" --id guest --state-dir "$W/s" --kernel "$KERNEL" --initrd "$W/img.cpio" \
    --vcpus 1 --memory-mib 512 -- /bin/sleep 1000000 </dev/null >"$W/vm.log" 2>&1 &
VM=$!
FCX="$SUP exec --state-dir $W/s guest"
for _ in $(seq 600); do $FCX -- /bin/true 2>/dev/null && break; sleep 0.1; done
$FCX -- /bin/true || die "the guest did not come up: $(tail -3 "$W/vm.log")"
$FCX -- cat /proc/1/status > /dev/null
[ "$($FCX -- zero 16 | wc -c)" = $((16 << 20)) ] || die "stdout transfer failed"
head -c $((16 << 20)) /dev/zero | $FCX -i -- sink || die "stdin transfer failed"
python3 Benchmarks/guest_sessions.py "$W/s/guest/control.sock" 10 > /dev/null || die "sessions failed"
"$SUP" stop --state-dir "$W/s" guest >/dev/null
wait "$VM" || true
VM=
[ -s "$W/blocks.txt" ] || die "the plugin wrote no blocks (does this QEMU load TCG plugins?)"

python3 - "$W/blocks.txt" "$UNSTRIPPED" "$OUT" <<'PY'
import bisect, subprocess, sys
blocks, unstripped, out = sys.argv[1:4]
symbols = []
for line in subprocess.run(["nm", "-n", "--defined-only", unstripped], capture_output=True, text=True, check=True).stdout.splitlines():
    parts = line.split()
    if len(parts) == 3 and parts[1] in "tTwW":
        symbols.append((int(parts[0], 16), parts[2]))
addresses = [a for a, _ in symbols]
end = max(addresses)
hot = set()
for line in open(blocks):
    vaddr = int(line, 16)
    if addresses[0] <= vaddr <= end + 65536:  # vm-init is static, not PIE: its code is where nm says
        hot.add(bisect.bisect_right(addresses, vaddr) - 1)
names = list(dict.fromkeys(symbols[i][1] for i in sorted(hot)))
with open(out, "w") as f:
    f.write("\n".join(names) + "\n")
print(f"hot-code profile: {len(names)} functions ran, written to {out}")
PY
