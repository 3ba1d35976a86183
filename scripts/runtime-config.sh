#!/usr/bin/env bash
# Writes the runtime configuration (RuntimeConfiguration: /etc/fc-supervisor/config.json's format) for the
# artefacts the build made, so that a fresh clone can run `fc-supervisor --config build/config.json …` at once.
#
#   runtime-config.sh [--build-dir DIR] [--out FILE] [--vmm firecracker|qemu]
#
#   --build-dir  where vmlinux and initramfs.cpio are (default: build/, from `make guest-kernel initramfs`)
#   --out        the file to write (default: DIR/config.json). Paths in it are relative to its directory.
#   --vmm        force the VMM. Default: firecracker when a `firecracker` binary is on PATH and KVM can create
#                a VM (/dev/kvm opens and KVM_CREATE_VM succeeds); otherwise qemu (qemu-system-x86_64 on PATH),
#                which falls back to software emulation by itself when KVM does not boot.
# The image cache is DIR/images (relative: "images"), not /var/lib/fc-supervisor/images: trying the build
# must not leave machine-wide state, and `make clean` removes it with the rest. An installed runtime leaves
# image_cache out and gets /var/lib/fc-supervisor/images.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
build_dir="$repo/build"
out=""
vmm=""
die() { echo "runtime-config.sh: $*" >&2; exit 1; }
while (($#)); do
    case "$1" in
        --build-dir) build_dir="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --vmm) vmm="$2"; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done
[[ -d "$build_dir" ]] || die "$build_dir is not a directory"
build_dir="$(cd "$build_dir" && pwd)"
out="${out:-$build_dir/config.json}"
[[ -f "$build_dir/vmlinux" ]] || die "no kernel at $build_dir/vmlinux (run: make guest-kernel)"
[[ -f "$build_dir/initramfs.cpio" ]] || die "no initramfs at $build_dir/initramfs.cpio (run: make initramfs)"

# KVM can create a VM: what Firecracker needs and cannot do without.
kvm_works() {
    python3 - <<'EOF' 2>/dev/null
import fcntl, os
fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
vm = fcntl.ioctl(fd, 0xAE01, 0)  # KVM_CREATE_VM
os.close(vm)
EOF
}
if [[ -z "$vmm" ]]; then
    if command -v firecracker >/dev/null && kvm_works; then vmm=firecracker; else vmm=qemu; fi
fi
case "$vmm" in
    firecracker) binary="$(command -v firecracker)" || die "--vmm firecracker: no firecracker on PATH"
                 binary_key=firecracker_binary ;;
    qemu) binary="$(command -v qemu-system-x86_64)" || die "no qemu-system-x86_64 on PATH (apt-get install qemu-system-x86)"
          binary_key=qemu_binary ;;
    *) die "--vmm wants firecracker or qemu" ;;
esac

# The artefacts relative to the file's directory when they are under it (the checkout can move), else absolute.
out_dir="$(cd "$(dirname "$out")" && pwd)"
relative() { case "$1" in "$out_dir"/*) echo "${1#"$out_dir"/}" ;; *) echo "$1" ;; esac; }
mkdir -p "$build_dir/images"
python3 - "$out" "$(relative "$build_dir/vmlinux")" "$(relative "$build_dir/initramfs.cpio")" "$vmm" \
    "$binary_key" "$binary" "$(relative "$build_dir/images")" <<'EOF'
import json, os, sys
out, kernel, initramfs, vmm, binary_key, binary, images = sys.argv[1:]
config = {"kernel": kernel, "initramfs": initramfs, "vmm": vmm, binary_key: binary, "image_cache": images,
          "defaults": {"vcpus": 1, "memory_mib": 512}}
tmp = out + ".tmp"
with open(tmp, "w") as f:
    json.dump(config, f, indent=2)
    f.write("\n")
os.replace(tmp, out)
EOF
echo "runtime config: $out (vmm $vmm, $binary)"
