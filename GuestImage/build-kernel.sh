#!/usr/bin/env bash
# Puts the guest kernel (uncompressed, stripped vmlinux with the PVH note) at OUT/vmlinux.
#
#   build-kernel.sh [--shared DIR] [--out DIR] [--force-build] [--jobs N]
#
# Fast path: when GuestImage/kernel.config is byte-identical (sha256) to DIR/guest-kernel/config-6.1 and the
# prebuilt DIR/guest-kernel/vmlinux matches its SHA256SUMS, that vmlinux is used (copied). CI takes this path.
# Otherwise (or with --force-build) the kernel is built from Debian's linux-source-6.1:
#   make tinyconfig; merge_config.sh -m .config GuestImage/fragment.config; make olddefconfig; make vmlinux
# which takes 5.5–15 minutes on 2 cores (packages: linux-source-6.1 build-essential flex bison bc libelf-dev
# libssl-dev; installed by this script when missing). The resulting .config is written to OUT/kernel.config;
# when it differs from GuestImage/kernel.config the script says so (copy it over to make it the new reference).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
shared="$(cd "$repo/.." && pwd)/shared"
out="$repo/build"
force=0
jobs="$(nproc)"
while (($#)); do
    case "$1" in
        --shared) shared="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --force-build) force=1; shift ;;
        --jobs) jobs="$2"; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "build-kernel.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
mkdir -p "$out"
config="$here/kernel.config"
prebuilt="$shared/guest-kernel"

sha() { sha256sum "$1" | awk '{print $1}'; }

if ((force == 0)) && [[ -f "$prebuilt/config-6.1" && -f "$prebuilt/vmlinux" ]]; then
    if [[ "$(sha "$config")" == "$(sha "$prebuilt/config-6.1")" ]]; then
        want="$(awk '$2=="vmlinux"{print $1}' "$prebuilt/SHA256SUMS" 2>/dev/null || true)"
        if [[ -n "$want" && "$want" != "$(sha "$prebuilt/vmlinux")" ]]; then
            echo "build-kernel.sh: $prebuilt/vmlinux does not match its SHA256SUMS; building instead" >&2
        else
            cp "$prebuilt/vmlinux" "$out/vmlinux.tmp" && mv "$out/vmlinux.tmp" "$out/vmlinux"
            cp "$config" "$out/kernel.config"
            echo "guest kernel: prebuilt $prebuilt/vmlinux (config sha256 $(sha "$config" | cut -c1-12) matches) -> $out/vmlinux"
            exit 0
        fi
    else
        echo "build-kernel.sh: GuestImage/kernel.config differs from $prebuilt/config-6.1: building from source" >&2
    fi
fi

# --- Build from Debian's linux-source ---------------------------------------------------------------------
pkgs=(linux-source-6.1 build-essential flex bison bc libelf-dev libssl-dev xz-utils)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
    echo "build-kernel.sh: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
tarball="$(ls /usr/src/linux-source-6.1*.tar.xz 2>/dev/null | head -1)"
[[ -n "$tarball" ]] || { echo "build-kernel.sh: no /usr/src/linux-source-6.1*.tar.xz" >&2; exit 1; }
work="$out/kernel-build"
src="$work/$(basename "$tarball" .tar.xz)"
if [[ ! -d "$src" ]]; then
    mkdir -p "$work"
    echo "guest kernel: unpacking $tarball"
    tar -C "$work" -xf "$tarball"
fi
start=$SECONDS
(
    cd "$src"
    make -s tinyconfig
    scripts/kconfig/merge_config.sh -m .config "$here/fragment.config" >/dev/null
    make -s olddefconfig
    echo "guest kernel: make -j$jobs vmlinux in $src (5–15 minutes on 2 cores)"
    make -s -j"$jobs" vmlinux
)
strip -o "$out/vmlinux.tmp" "$src/vmlinux" && mv "$out/vmlinux.tmp" "$out/vmlinux"
cp "$src/.config" "$out/kernel.config"
echo "guest kernel: built $out/vmlinux in $((SECONDS - start)) s"
if ! cmp -s "$src/.config" "$config"; then
    echo "build-kernel.sh: note: the resulting config differs from GuestImage/kernel.config" >&2
    echo "  (cp $out/kernel.config $config to make it the reference)" >&2
fi
